import { test, expect, Page } from '@playwright/test';
import { lastAssistant, newChat, openApp, send, setMode, setParam, waitIdle } from './helpers';

const POEM = "Write a poem about the sea where every line starts with 'The sea'.";

/** How often the reply's most repeated line appears. */
async function mostRepeatedLine(page: Page): Promise<number> {
  const text = await lastAssistant(page).locator('.content').innerText();
  const counts = new Map<string, number>();
  for (const line of text.split('\n').map((l) => l.trim()).filter((l) => l)) {
    counts.set(line, (counts.get(line) ?? 0) + 1);
  }
  return Math.max(0, ...counts.values());
}

test('DRY set on the Parameters tab stops the loop greedy decoding falls into', async ({ page }) => {
  await openApp(page);
  await setParam(page, 'temperature', '0');
  await setParam(page, 'repetition_penalty', '1');
  await setParam(page, 'max_new_tokens', '200');
  await setMode(page, 'instruct');
  await newChat(page);
  await send(page, POEM);
  await waitIdle(page);
  expect(await mostRepeatedLine(page)).toBeGreaterThanOrEqual(8);

  // Its loop here is a short line ("A poem of the sea,") repeated: DRY's
  // default breakers end a match at each newline, so 0.8 (TGW's usual
  // value) only halves the repeats (23 to 10); 1.5 ends the loop.
  await setParam(page, 'dry_multiplier', '1.5');
  await page.locator('#regenerate').click();
  await waitIdle(page);
  await expect(lastAssistant(page).locator('.version-label')).toHaveText('2/2');
  expect(await mostRepeatedLine(page)).toBeLessThanOrEqual(3);
});

test('XTC and top-n-sigma reach the sampler; bad values are named with their range', async ({ page }) => {
  await openApp(page);
  await setMode(page, 'instruct');
  await setParam(page, 'max_new_tokens', '24');
  await setParam(page, 'temperature', '0');
  await newChat(page);
  await send(page, 'Tell a two-sentence story about a fox.');
  await waitIdle(page);
  const greedy = await lastAssistant(page).locator('.content').innerText();

  // Sampled at temperature 1.5 with a fixed seed: top-n-sigma at a tiny n
  // keeps only the best token, so the reply is greedy's again...
  await setParam(page, 'temperature', '1.5');
  await setParam(page, 'seed', '5');
  await setParam(page, 'top_p', '1');
  await setParam(page, 'top_k', '0');
  await setParam(page, 'top_n_sigma', '0.001');
  await page.locator('#regenerate').click();
  await waitIdle(page);
  await expect(lastAssistant(page).locator('.content')).toHaveText(greedy);
  // ...and XTC, always firing, never lets it be.
  await setParam(page, 'top_n_sigma', '0');
  await setParam(page, 'xtc_probability', '1');
  await page.locator('#regenerate').click();
  await waitIdle(page);
  await expect(lastAssistant(page).locator('.version-label')).toHaveText('3/3');
  expect(await lastAssistant(page).locator('.content').innerText()).not.toEqual(greedy);

  await setParam(page, 'xtc_threshold', '0.9');
  await page.getByRole('button', { name: 'Parameters', exact: true }).click();
  await expect(page.locator('.panel .error').first()).toContainText('xtc_threshold must be in [0, 0.5]');
  await page.locator('#param-xtc_threshold').fill('0.1');
  await page.locator('#param-xtc_threshold').press('Tab');
  await page.locator('#param-dry_sequence_breakers').fill('\\n, :');
  await page.locator('#param-dry_sequence_breakers').press('Tab');
  await expect(page.locator('.panel .error').first()).toContainText('dry_sequence_breakers must be JSON strings');
  await page.locator('#param-dry_sequence_breakers').fill('"\\n", ":"');
  await page.locator('#param-dry_sequence_breakers').press('Tab');
  await page.locator('#param-sampler_priority').fill('min_p\ntop_z');
  await page.locator('#param-sampler_priority').press('Tab');
  await expect(page.locator('.panel .error').first()).toContainText('unknown sampler `top_z`');
  // The reorder below runs on the general path (min_p judges the
  // untempered distribution, before the temperature).
  await page.locator('#param-sampler_priority').fill('min_p\ntemperature');
  await page.locator('#param-sampler_priority').press('Tab');
  await page.locator('#param-mirostat_mode').fill('1');
  await page.locator('#param-mirostat_mode').press('Tab');
  await expect(page.locator('.panel .error').first()).toContainText('mirostat_mode must be 0 (off) or in [2, 2]');
  await page.locator('#param-mirostat_mode').fill('2');
  await page.locator('#param-mirostat_mode').press('Tab');
  await expect(page.locator('.panel .error')).toHaveCount(0);

  // Mirostat 2, dynamic temperature, temperature_last and the sampler
  // order reach the sampler: the seeded reply is the same twice.
  await page.locator('#param-xtc_probability').fill('0');
  await page.locator('#param-xtc_probability').press('Tab');
  await page.locator('#param-dynamic_temperature').check();
  await page.locator('#param-temperature_last').check();
  await page.getByRole('button', { name: 'Chat', exact: true }).click();
  await page.locator('#regenerate').click();
  await waitIdle(page);
  const first = await lastAssistant(page).locator('.content').innerText();
  await page.locator('#regenerate').click();
  await waitIdle(page);
  await expect(lastAssistant(page).locator('.version-label')).toHaveText('5/5');
  await expect(lastAssistant(page).locator('.content')).toHaveText(first);
});
