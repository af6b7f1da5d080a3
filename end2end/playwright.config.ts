import { defineConfig } from '@playwright/test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

// The release server on the small test model, started and stopped by
// Playwright. Chromium is Debian's (never downloaded by Playwright).
const PORT = Number(process.env.E2E_PORT ?? 7870);
const ROOT = path.join(__dirname, '..');
// A fresh user data folder per run: the shipped characters, no old chats.
// Tests that restart the server find it through this variable.
// The tests' MCP server over Streamable HTTP.
const MCP_HTTP_PORT = PORT + 1;
const DATA = process.env.E2E_USER_DATA ?? fs.mkdtempSync(path.join(os.tmpdir(), 'candlelight-e2e-'));
process.env.E2E_USER_DATA = DATA;
// The owner's MCP servers: the tests' tiny weather server (Python `mcp`
// SDK, from the virtual environment `make test` fills), over stdio, and
// the same script over Streamable HTTP (started below, before the server).
fs.writeFileSync(
  path.join(DATA, 'mcp.json'),
  JSON.stringify({
    mcpServers: {
      weather: {
        command: path.join(ROOT, '.venv', 'bin', 'python'),
        args: [path.join(ROOT, 'end2end', 'mcp', 'weather_server.py')],
      },
      shouting: { url: `http://127.0.0.1:${MCP_HTTP_PORT}/mcp` },
    },
  }),
);

export default defineConfig({
  testDir: './tests',
  timeout: 180_000,
  expect: { timeout: 60_000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: './test-results',
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: [
    {
      command: `.venv/bin/python end2end/mcp/weather_server.py --http ${MCP_HTTP_PORT}`,
      cwd: ROOT,
      port: MCP_HTTP_PORT,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'ignore',
      stderr: 'pipe',
    },
    {
    command: `./target/release/candlelight --model models/SmolLM2-135M-Instruct.Q4_1.gguf --listen-port ${PORT} --user-data-dir ${DATA}`,
    cwd: ROOT,
    url: `http://127.0.0.1:${PORT}/`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: 'pipe',
    stderr: 'pipe',
    },
  ],
});
