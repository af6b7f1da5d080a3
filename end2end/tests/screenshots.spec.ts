import { test, expect } from '@playwright/test';
import { openApp, newChat, send, setMode, setParam, waitIdle, chooseCharacter, loadModel, lastAssistant } from './helpers';

/** Screenshots of each tab on a desktop and a phone, for the README and
 * issue notes: `SCREENSHOTS=end2end/screenshots npx playwright test
 * --config end2end/playwright.config.ts screenshots`. Skipped otherwise. */
const dir = process.env.SCREENSHOTS;

const sizes = [
  { name: 'desktop', width: 1400, height: 900 },
  { name: 'phone', width: 390, height: 844 },
];

for (const size of sizes) {
  test(`screenshots at ${size.width}x${size.height}`, async ({ page }) => {
    test.skip(!dir, 'set SCREENSHOTS=<folder> to take screenshots');
    const png = !!process.env.SCREENSHOTS_PNG;
    const shot = (tab: string) =>
      png
        ? page.screenshot({ path: `${dir}/${tab}-${size.name}.png` })
        : page.screenshot({ path: `${dir}/${tab}-${size.name}.jpg`, type: 'jpeg', quality: 70 });
    await page.setViewportSize({ width: size.width, height: size.height });
    await openApp(page);
    await setParam(page, 'max_new_tokens', '96');
    await chooseCharacter(page, 'AI助理');
    await setMode(page, 'chat-instruct');
    if (size.width < 800) {
      // The past chats are a drawer here: open it for New chat (it closes itself).
      await page.locator('#chats-menu').click();
      await expect(page.locator('.chat-sidebar')).toBeInViewport();
    }
    await newChat(page);
    await send(page, '你好！请用一句话介绍你自己。');
    await waitIdle(page);
    await send(page, 'What is $\\int_0^1 x\\,dx$? Show it as $$\\int_0^1 x\\,dx = \\frac{1}{2}$$ and a line of Python.');
    await waitIdle(page);
    await shot('chat');
    if (size.width < 800) {
      // The phone's menus: the chat actions, then the past chats.
      await page.locator('.actions-toggle').click();
      await expect(page.locator('#regenerate')).toBeVisible();
      await shot('chat-actions-open');
      await page.locator('.actions-toggle').click();
      await page.locator('#chats-menu').click();
      await expect(page.locator('.chat-sidebar')).toBeInViewport();
      await page.waitForTimeout(300);
      await shot('chats-menu-open');
      await page.locator('.drawer-backdrop').click({ position: { x: 380, y: 420 } });
    }

    await page.locator('#tab-parameters').click();
    await page.locator('#ptab-generation').click();
    await expect(page.locator('#ptab-generation')).toHaveAttribute('aria-selected', 'true');
    await shot('parameters');
    await page.locator('#ptab-character').click();
    await expect(page.locator('#ptab-character')).toHaveAttribute('aria-selected', 'true');
    await page.waitForTimeout(300);
    await shot('parameters-character');

    await page.locator('#tab-notebook').click();
    const notebook = page.locator('#notebook-text');
    await notebook.fill('The three primary colours are');
    await page.locator('#notebook-generate').click();
    await expect(page.locator('#notebook-status')).toHaveText(/new tokens/, { timeout: 120_000 });
    await shot('notebook');

    await page.locator('#tab-model').click();
    await expect(page.locator('.model-files tr[data-model]').first()).toBeVisible();
    await shot('model');

    // Tools: the panel, and Qwen's call waiting for Approve, then answered.
    try {
      await loadModel(page, 'qwen2.5-coder-0.5b-instruct-q4_k_m.gguf');
      await page.locator('#tab-chat').click();
      await setParam(page, 'temperature', '0');
      await setMode(page, 'instruct');
      if (size.width < 800) {
        await page.locator('#chats-menu').click();
        await expect(page.locator('.chat-sidebar')).toBeInViewport();
      }
      await newChat(page);
      await page.locator('#tools-panel summary').click();
      await page.locator('#tools-panel .tool-row[data-tool="get_weather"] .tool-enabled').check();
      await page.locator('#tools-panel .tool-row[data-tool="calculator"] .tool-enabled').check();
      await shot('tools-panel');
      await page.locator('#tools-panel summary').click();
      await send(page, 'What is the weather in Paris right now?');
      await expect(lastAssistant(page).locator('.approve-tool')).toBeVisible();
      await shot('tools-approve');
      await lastAssistant(page).locator('.approve-tool').click();
      await waitIdle(page);
      await lastAssistant(page).locator('.tool-call summary').click();
      await shot('tools-answered');
    } finally {
      await loadModel(page, 'SmolLM2-135M-Instruct.Q4_1.gguf');
    }
  });
}
