import { expect, Page } from '@playwright/test';

/** Opens the app and waits until it is hydrated (clicks before that are lost). */
export async function openApp(page: Page) {
  await page.goto('/');
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(page.locator('.model-badge.ready')).toBeVisible();
}

export const assistantMessages = (page: Page) => page.locator('.message.assistant');
export const userMessages = (page: Page) => page.locator('.message.user');

/** Sets one number field on the Parameters tab and goes back to Chat. */
export async function setParam(page: Page, name: string, value: string) {
  await page.getByRole('button', { name: 'Parameters', exact: true }).click();
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
