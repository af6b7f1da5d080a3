import { test, expect, Page } from '@playwright/test';
import { lastAssistant, loadModel, newChat, openApp, send, setMode, setParam, waitIdle } from './helpers';

// The test server's tools come from `mcp.json` in the tests' user data
// folder (playwright.config.ts writes it): end2end/mcp/weather_server.py,
// on the official Python MCP SDK, started by the server over stdio.
const SMOL = 'SmolLM2-135M-Instruct.Q4_1.gguf';
const QWEN = 'qwen2.5-coder-0.5b-instruct-q4_k_m.gguf';

const toolRow = (page: Page, name: string) => page.locator(`#tools-panel .tool-row[data-tool="${name}"]`);
const callBlock = (page: Page, name: string) => lastAssistant(page).locator(`.tool-call[data-tool="${name}"]`);

/** Opens the Tools panel and switches `name` on for the open chat. */
async function enableTool(page: Page, name: string) {
  const panel = page.locator('#tools-panel');
  if ((await panel.getAttribute('open')) === null) await panel.locator('summary').click();
  await toolRow(page, name).locator('.tool-enabled').check();
  await expect(panel.locator('summary')).toContainText('Tools (1 on)');
  await panel.locator('summary').click();
}

/** Qwen, greedy, in a new instruct chat that offers `get_weather`. */
async function qwenWeatherChat(page: Page) {
  await loadModel(page, QWEN);
  await page.locator('#tab-chat').click();
  await setParam(page, 'temperature', '0');
  await setParam(page, 'max_new_tokens', '60');
  await setMode(page, 'instruct');
  await newChat(page);
  await enableTool(page, 'get_weather');
}

test('the Tools panel lists the built-ins and the MCP server\'s tools, switched per chat', async ({ page }) => {
  await openApp(page);
  await setMode(page, 'instruct');
  await newChat(page);
  await page.locator('#tools-panel summary').click();
  for (const name of ['get_current_time', 'calculator', 'get_weather', 'fail_always', 'shout']) {
    await expect(toolRow(page, name)).toBeVisible();
  }
  await expect(toolRow(page, 'calculator').locator('.tool-source')).toHaveText('built-in');
  await expect(toolRow(page, 'get_weather').locator('.tool-source')).toHaveText('weather');
  await expect(toolRow(page, 'get_weather').locator('.tool-description')).toContainText('weather in a city');
  // The same SDK over Streamable HTTP.
  await expect(toolRow(page, 'shout').locator('.tool-source')).toHaveText('shouting');
  await expect(toolRow(page, 'shout').locator('.tool-description')).toContainText('capital letters');
  await expect(page.locator('#tools-panel .tool-problem')).toHaveCount(0);

  // Switched on in this chat only: a new chat starts with none, and the
  // first chat keeps its switch across a reload.
  await toolRow(page, 'calculator').locator('.tool-enabled').check();
  await expect(page.locator('#tools-panel summary')).toContainText('Tools (1 on)');
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(page.locator('#tools-panel summary')).toContainText('Tools (1 on)');
  await newChat(page);
  await expect(page.locator('#tools-panel summary')).toHaveText('Tools');
});

test('Qwen calls the MCP server\'s tool: shown, approved, answered and used in the reply; reload shows the same blocks', async ({ page }) => {
  await openApp(page);
  try {
    await qwenWeatherChat(page);

    await send(page, 'What is the weather in Paris right now?');
    const block = callBlock(page, 'get_weather');
    await expect(block.locator('.tool-state')).toHaveText('waiting for your approval');
    await expect(block.locator('.tool-arguments')).toContainText('"city": "Paris"');
    // The prompt described the tool through the model's template.
    await expect(page.locator('.prompt-panel .prompt-text')).toContainText('get_weather');

    await block.locator('.approve-tool').click();
    await waitIdle(page);
    await expect(block.locator('.tool-state')).toHaveText('done');
    await expect(block.locator('.tool-result')).toContainText('It is sunny in Paris, 23 degrees');
    // The reply went on after the result (through the template's tool
    // turn) and used it.
    await expect(page.locator('.prompt-panel .prompt-text')).toContainText('<tool_response>', { useInnerText: false });
    await expect(lastAssistant(page).locator('.content').last()).toContainText('23 degrees');
    await expect(lastAssistant(page).locator('.approve-tool')).toHaveCount(0);

    await page.reload();
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
    await expect(callBlock(page, 'get_weather').locator('.tool-state')).toHaveText('done');
    await expect(callBlock(page, 'get_weather').locator('.tool-result')).toContainText('23 degrees');
    await expect(lastAssistant(page).locator('.content').last()).toContainText('23 degrees');
  } finally {
    await loadModel(page, SMOL);
  }
});

test('Reject gives Qwen the refusal; "always allow" runs the next call without asking', async ({ page }) => {
  await openApp(page);
  try {
    await qwenWeatherChat(page);

    await send(page, 'What is the weather in Paris right now?');
    const block = callBlock(page, 'get_weather');
    await expect(block.locator('.tool-state')).toHaveText('waiting for your approval');
    await block.locator('.reject-tool').click();
    await waitIdle(page);
    await expect(block.locator('.tool-state')).toHaveText('rejected');
    await expect(block.locator('.tool-result')).toHaveText('The user rejected this tool call.');
    // The model read the refusal as the call's result.
    await expect(page.locator('.prompt-panel .prompt-text')).toContainText(
      '<tool_response>\nThe user rejected this tool call.\n</tool_response>',
      { useInnerText: false },
    );
    await expect(lastAssistant(page).locator('.tool-result')).not.toContainText('23 degrees');

    // Approved with "always allow" (a fresh chat: this small model copies
    // the calls it sees in the history rather than making new ones).
    await newChat(page);
    await enableTool(page, 'get_weather');
    await send(page, 'What is the weather in Oslo right now?');
    const oslo = callBlock(page, 'get_weather');
    await expect(oslo.locator('.tool-state')).toHaveText('waiting for your approval');
    await oslo.locator('.always-allow input').check();
    await oslo.locator('.approve-tool').click();
    await waitIdle(page);
    await expect(oslo.locator('.tool-result')).toContainText('sunny in Oslo');
    await page.locator('#tools-panel summary').click();
    await expect(toolRow(page, 'get_weather').locator('.tool-always-allow')).toBeChecked();
    await page.locator('#tools-panel summary').click();

    // Allowed from the panel: the call runs without asking.
    await newChat(page);
    await page.locator('#tools-panel summary').click();
    await toolRow(page, 'get_weather').locator('.tool-enabled').check();
    await toolRow(page, 'get_weather').locator('.tool-always-allow').check();
    await page.locator('#tools-panel summary').click();
    await send(page, 'What is the weather in Rome right now?');
    await expect(callBlock(page, 'get_weather').locator('.tool-result')).toContainText('sunny in Rome');
    await waitIdle(page);
    await expect(page.locator('.approve-tool')).toHaveCount(0);
  } finally {
    await loadModel(page, SMOL);
  }
});
