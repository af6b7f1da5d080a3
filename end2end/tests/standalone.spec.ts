import { test, expect } from '@playwright/test';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { lastAssistant, newChat, send, setMode, waitIdle } from './helpers';

// "One binary": the release binary copied alone into an empty folder (no
// target/site beside it, no repository around it) serves the web app from
// inside itself; the page hydrates and chats.
const ROOT = path.join(__dirname, '..', '..');
const PORT = 7874;

test('the binary alone in an empty folder serves the app, which hydrates and chats', async ({ page }) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelight-alone-'));
  const binary = path.join(dir, 'candlelight');
  fs.copyFileSync(path.join(ROOT, 'target', 'release', 'candlelight'), binary);
  fs.chmodSync(binary, 0o755);
  const model = path.join(ROOT, 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');
  const server = spawn(binary, ['--model', model, '--listen-port', String(PORT)], {
    cwd: dir,
    stdio: 'ignore',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir },
  });
  try {
    let up = false;
    for (let i = 0; i < 300 && !up; i++) {
      try {
        up = (await fetch(`http://127.0.0.1:${PORT}/v1/models`)).ok;
      } catch {}
      if (!up) await new Promise((r) => setTimeout(r, 100));
    }
    expect(up).toBe(true);
    expect(fs.readdirSync(dir).sort()).toEqual(['candlelight', 'user_data']);

    const wasm = await fetch(`http://127.0.0.1:${PORT}/pkg/candlelight_bg.wasm`, {
      headers: { 'accept-encoding': 'br' },
    });
    expect(wasm.status).toBe(200);
    expect(wasm.headers.get('content-type')).toBe('application/wasm');
    const etag = wasm.headers.get('etag');
    expect(etag).toBeTruthy();
    const again = await fetch(`http://127.0.0.1:${PORT}/pkg/candlelight_bg.wasm`, {
      headers: { 'if-none-match': etag! },
    });
    expect(again.status).toBe(304);

    await page.goto(`http://127.0.0.1:${PORT}/`);
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
    await setMode(page, 'instruct');
    await newChat(page);
    await send(page, 'What is the capital of France?');
    await waitIdle(page);
    await expect(lastAssistant(page).locator('.content')).not.toBeEmpty();
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
