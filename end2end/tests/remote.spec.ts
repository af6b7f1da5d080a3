import { test, expect } from '@playwright/test';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { lastAssistant, newChat, send, setMode, setParam, waitIdle } from './helpers';

// A second candlelight whose replies come from the main test server
// (an OpenAI-compatible server) instead of an in-process model.
const ROOT = path.join(__dirname, '..', '..');
const MAIN = Number(process.env.E2E_PORT ?? 7870);
const PORT = 7874;

test('a UI backed by another server over the OpenAI API streams a reply', async ({ page }) => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelight-remote-'));
  const ui: ChildProcess = spawn(
    './target/release/candlelight',
    ['--backend', 'openai', '--backend-url', `http://127.0.0.1:${MAIN}`, '--listen-port', String(PORT), '--user-data-dir', data],
    { cwd: ROOT, stdio: 'ignore' },
  );
  try {
    for (let i = 0; i < 100; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${PORT}/health`)).ok) break;
      } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.goto(`http://127.0.0.1:${PORT}/`);
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
    await expect(page.locator('.model-badge')).toContainText(`127.0.0.1:${MAIN}`);
    await setMode(page, 'instruct');
    await newChat(page);
    await setParam(page, 'max_new_tokens', '24');
    await send(page, 'Tell me about the Moon.');
    const reply = lastAssistant(page).locator('.content');
    const lengths = new Set<number>();
    while (await page.locator('#stop').isVisible()) {
      lengths.add((await reply.innerText()).length);
      await page.waitForTimeout(30);
    }
    await waitIdle(page);
    lengths.add((await reply.innerText()).length);
    expect((await reply.innerText()).length).toBeGreaterThan(10);
    expect(lengths.size, `partial lengths: ${[...lengths]}`).toBeGreaterThanOrEqual(3);

    // Chat mode goes to /v1/completions with the transcript.
    await setMode(page, 'chat');
    await newChat(page);
    await send(page, 'Hello there!');
    await waitIdle(page);
    expect((await lastAssistant(page).locator('.content').innerText()).length).toBeGreaterThan(0);
  } finally {
    ui.kill('SIGKILL');
  }
});
