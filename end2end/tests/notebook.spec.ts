import { test, expect } from '@playwright/test';
import { openApp, setParam } from './helpers';

/** The Notebook tab: the model continues raw text in place (no template),
 * shows the token counts, and Stop ends a long continuation at once,
 * keeping its text. */
test('the Notebook continues raw text in place, with Stop and token counts', async ({ page }) => {
  await openApp(page);
  await setParam(page, 'max_new_tokens', '16');
  await setParam(page, 'temperature', '0');
  await page.locator('#tab-notebook').click();
  const box = page.locator('#notebook-text');
  const start = 'The capital of France is';
  await box.fill(start);
  await page.locator('#notebook-generate').click();
  await expect(page.locator('#notebook-status')).toHaveText(/\d+ prompt \+ \d+ new tokens/, { timeout: 60_000 });
  await expect(page.locator('#notebook-generate')).toBeVisible();
  const out = await box.inputValue();
  expect(out.startsWith(start), out).toBe(true);
  expect(out.length, out).toBeGreaterThan(start.length);

  await setParam(page, 'max_new_tokens', '2000');
  await page.locator('#tab-notebook').click();
  await page.locator('#notebook-generate').click();
  await expect.poll(async () => (await box.inputValue()).length).toBeGreaterThan(out.length + 20);
  await page.locator('#notebook-stop').click();
  await expect(page.locator('#notebook-generate')).toBeVisible();
  await expect(page.locator('#notebook-status')).toHaveText('stopped');
  const stopped = await box.inputValue();
  expect(stopped.startsWith(out)).toBe(true);
  await page.waitForTimeout(1000);
  expect(await box.inputValue()).toBe(stopped);

  // A reload keeps the text.
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await page.locator('#tab-notebook').click();
  await expect(page.locator('#notebook-text')).toHaveValue(stopped);
});

test("the Notebook's Default layout writes the output beside the input, which stays", async ({ page }) => {
  await openApp(page);
  await setParam(page, 'max_new_tokens', '12');
  await setParam(page, 'temperature', '0');
  await page.locator('#tab-notebook').click();
  await page.locator('#notebook-layout-default').check();
  const input = page.locator('#notebook-text');
  const output = page.locator('#notebook-output');
  await input.fill('The capital of France is');
  await page.locator('#notebook-generate').click();
  await expect(page.locator('#notebook-status')).toHaveText(/\d+ prompt \+ \d+ new tokens/, { timeout: 60_000 });
  await expect(input).toHaveValue('The capital of France is');
  const first = await output.inputValue();
  expect(first.length).toBeGreaterThan(0);
  // Side by side on a desktop.
  const [a, b] = [await input.boundingBox(), await output.boundingBox()];
  expect(b!.x).toBeGreaterThan(a!.x + a!.width - 1);
  // Generating again replaces the output (greedy: the same text).
  await page.locator('#notebook-generate').click();
  await expect(page.locator('#notebook-generate')).toBeVisible();
  await expect(output).toHaveValue(first);
  // The layout is remembered.
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await page.locator('#tab-notebook').click();
  await expect(page.locator('#notebook-layout-default')).toBeChecked();
  await page.locator('#notebook-layout-notebook').check();
  await expect(output).toHaveCount(0);
});
