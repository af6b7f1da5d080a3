import { test, expect, Page } from '@playwright/test';
import { assistantMessages, newChat, openApp, send, setParam, waitIdle } from './helpers';

/** The length of the growing reply, sampled until it stops streaming. */
async function sampleLengths(page: Page, into: Map<number, number>, started: number) {
  const reply = assistantMessages(page).last().locator('.content');
  while (await page.locator('#stop').isVisible()) {
    into.set(Date.now() - started, (await reply.innerText()).length);
    await page.waitForTimeout(40);
  }
}

/** Two people on one server, each in a page of their own, send at the same
 * moment: both replies stream at once (the batching engine steps them
 * together) rather than one after the other. */
test('two pages chat at the same time and both stream', async ({ browser }) => {
  const pages = await Promise.all([browser.newPage(), browser.newPage()]);
  for (const page of pages) {
    await openApp(page);
    await newChat(page);
    await setParam(page, 'max_new_tokens', '120');
    await setParam(page, 'temperature', '0');
  }
  const started = Date.now();
  await Promise.all([
    send(pages[0], 'Write a long story about a lighthouse keeper.'),
    send(pages[1], 'Write a long story about a mountain village.'),
  ]);
  const seen = [new Map<number, number>(), new Map<number, number>()];
  await Promise.all(pages.map((p, i) => sampleLengths(p, seen[i], started)));
  for (const page of pages) await waitIdle(page);

  // Both grew while the other was still growing: their streaming windows
  // overlap, and each was seen at several lengths in the overlap.
  const window = (m: Map<number, number>) => {
    const grown = [...m.entries()].filter(([, len]) => len > 0).map(([t]) => t);
    return [Math.min(...grown), Math.max(...grown)];
  };
  const [a, b] = seen.map(window);
  const overlap = [Math.max(a[0], b[0]), Math.min(a[1], b[1])];
  expect(overlap[1] - overlap[0], `windows ${a} and ${b}`).toBeGreaterThan(500);
  for (const m of seen) {
    const inOverlap = new Set([...m.entries()].filter(([t]) => t >= overlap[0] && t <= overlap[1]).map(([, l]) => l));
    expect(inOverlap.size, `lengths during the overlap: ${[...inOverlap]}`).toBeGreaterThanOrEqual(3);
  }
  for (const page of pages) {
    expect((await assistantMessages(page).last().innerText()).length).toBeGreaterThan(50);
    await page.close();
  }
});
