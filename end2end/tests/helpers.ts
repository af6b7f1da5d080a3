import { expect, Page } from '@playwright/test';

/** Opens the app and waits until it is hydrated (clicks before that are
 * lost) and a chat is open. */
export async function openApp(page: Page) {
  // Settings follow the user on the server: each test starts from the
  // defaults, as a new user would.
  await resetSettings(page);
  await page.goto('/');
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(page.locator('.model-badge.ready')).toBeVisible();
  await waitForFolder(page);
}

/** Starts a new chat in the current folder and waits until it is open. */
export async function newChat(page: Page) {
  const before = await page.locator('.chat-entries li').count();
  await page.locator('#new-chat').click();
  await expect(page.locator('.chat-entries li')).toHaveCount(before + 1);
  await expect(page.locator('.chat-entries li.active')).toHaveCount(1);
}

export const assistantMessages = (page: Page) => page.locator('.message.assistant');
export const userMessages = (page: Page) => page.locator('.message.user');

/** Sets one number field on the Parameters tab and goes back to Chat. */
export async function setParam(page: Page, name: string, value: string) {
  await page.getByRole('button', { name: 'Parameters', exact: true }).click();
  await page.locator('#ptab-generation').click();
  const input = page.locator(`#param-${name}`);
  await input.fill(value);
  await input.press('Tab');
  await page.getByRole('button', { name: 'Chat', exact: true }).click();
}

/** Sends a message with Enter. */
export async function send(page: Page, text: string) {
  const box = page.locator('#chat-input');
  await box.fill(text);
  await box.press('Enter');
}

/** Waits until no reply is streaming. */
export async function waitIdle(page: Page) {
  await expect(page.locator('#send')).toBeVisible({ timeout: 120_000 });
}

/** The "N prompt + M new tokens" numbers of the last reply. */
export async function lastStats(page: Page): Promise<{ prompt: number; completion: number }> {
  const text = await page.locator('.stats').innerText();
  const m = text.match(/(\d+) prompt \+ (\d+) new tokens/);
  expect(m, `stats line: ${text}`).not.toBeNull();
  return { prompt: Number(m![1]), completion: Number(m![2]) };
}

export const lastAssistant = (page: Page) => page.locator('.message.assistant').last();

/** Waits until the open chat belongs to the folder the current mode and
 * character select (`instruct` or `chat/<character>`). */
export async function waitForFolder(page: Page) {
  const mode = await page.locator('input[name="mode"]:checked').getAttribute('value');
  const character = await page.locator('.mode-switch').getAttribute('data-character');
  const folder = mode === 'instruct' ? 'instruct' : `chat/${character}`;
  await expect(page.locator(`.chat-list[data-folder="${folder}"]`)).toHaveCount(1);
  await expect(page.locator('.chat-entries li.active')).toHaveCount(1);
}

/** Picks a character on the Parameters tab and goes back to Chat. */
export async function chooseCharacter(page: Page, name: string) {
  await page.locator('#tab-parameters').click();
  await page.locator('#ptab-character').click();
  await page.locator('#character-select').selectOption(name);
  await expect(page.locator('#character-name')).toHaveValue(name);
  await page.locator('#tab-chat').click();
  await waitForFolder(page);
}

/** Switches the Chat tab's mode (chat, chat-instruct, instruct). */
export async function setMode(page: Page, mode: 'chat' | 'chat-instruct' | 'instruct') {
  await page.locator(`input[name="mode"][value="${mode}"]`).check();
  await waitForFolder(page);
}

/** Accepts every confirm() and answers prompt() with `answer`. */
export function acceptDialogs(page: Page, answer = '') {
  page.on('dialog', (d) => d.accept(answer));
}

/** Loads a model file on the Model tab and waits until it answers. */
export async function loadModel(page: Page, file: string) {
  await page.locator('#tab-model').click();
  await page.locator(`tr[data-model="${file}"] .load-model`).click();
  await expect(page.locator('.model-summary')).toContainText(file, { timeout: 60_000 });
  await expect(page.locator('.loading')).toHaveCount(0);
  await expect(page.locator(`tr[data-model="${file}"].loaded`)).toHaveCount(1);
  // The loaded file is not offered again.
  await expect(page.locator(`tr[data-model="${file}"] .load-model`)).toHaveText('Loaded');
  await expect(page.locator(`tr[data-model="${file}"] .load-model`)).toBeDisabled();
  await expect(page.locator('.model-badge')).toContainText(file);
}

/** Puts the server's saved settings back to the defaults, from a page of
 * the same site that runs no app (so no pending save of the app's can
 * land after it). */
export async function resetSettings(page: Page) {
  await page.goto('/health');
  const status = await page.evaluate(async () => {
    const r = await fetch('/api/save_settings', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ settings: {} }),
    });
    return r.status;
  });
  expect(status).toBe(200);
  await page.evaluate(() => localStorage.clear());
}
