import { test, expect } from '@playwright/test';
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { lastAssistant, newChat, send, setMode, setParam, userMessages, waitIdle } from './helpers';

// This test runs its own server so that it can kill it.
const ROOT = path.join(__dirname, '..', '..');
const PORT = 7873;

function startServer(data: string): ChildProcess {
  return spawn(
    './target/release/candlelight',
    ['--model', 'models/SmolLM2-135M-Instruct.Q4_1.gguf', '--listen-port', String(PORT), '--user-data-dir', data],
    { cwd: ROOT, stdio: 'ignore' },
  );
}

async function waitUp() {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${PORT}/v1/models`);
      if (r.ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('server did not start');
}

test('SIGKILL during a streamed reply leaves every chat file valid with the finished turns', async ({ page }) => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelight-kill-'));
  const server = startServer(data);
  try {
    await waitUp();
    await page.goto(`http://127.0.0.1:${PORT}/`);
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
    await setMode(page, 'instruct');
    await newChat(page);
    await setParam(page, 'max_new_tokens', '8');
    await send(page, 'First question: what is a cat?');
    await waitIdle(page);
    const firstReply = await lastAssistant(page).locator('.content').innerText();
    expect(firstReply.length).toBeGreaterThan(0);

    await setParam(page, 'max_new_tokens', '3000');
    await page.locator('#tab-parameters').click();
    await page.locator('#param-ban_eos_token').check();
    await page.locator('#tab-chat').click();
    await send(page, 'Second question: write an endless story.');
    await expect(userMessages(page)).toHaveCount(2);
    await expect.poll(async () => (await lastAssistant(page).locator('.content').innerText()).length).toBeGreaterThan(40);
    server.kill('SIGKILL');
    await new Promise((r) => server.once('exit', r));

    const dir = path.join(data, 'logs', 'instruct');
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const chat = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')); // every file parses
      expect(Array.isArray(chat.internal)).toBe(true);
    }
    const all = fs.readdirSync(path.join(data, 'logs', 'instruct'));
    expect(all.filter((f) => f.includes('.tmp'))).toEqual([]); // no half-written files left
    const chats = files.map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
    const ours = chats.find((c) => c.internal.some((p: string[]) => p[0] === 'First question: what is a cat?'));
    expect(ours, 'the chat with both turns').toBeTruthy();
    // The finished exchange, then the second question (saved before generating).
    expect(ours.internal[0][0]).toBe('First question: what is a cat?');
    expect(ours.internal[0][1].length).toBeGreaterThan(0);
    expect(ours.internal[1][0]).toBe('Second question: write an endless story.');
  } finally {
    server.kill('SIGKILL');
  }
});
