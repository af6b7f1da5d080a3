import { test, expect } from '@playwright/test';
import {
  assistantMessages, chooseCharacter, lastStats, newChat, openApp, send, setMode, setParam, userMessages, waitIdle,
} from './helpers';

test('a reply streams in token by token and a second turn carries the context', async ({ page }) => {
  await openApp(page);
  await newChat(page);
  await send(page, 'Tell me about the planet Mars.');
  await expect(userMessages(page)).toHaveCount(1);
  await expect(userMessages(page).first()).toContainText('Mars');

  // Sample the growing reply until it finishes.
  const reply = assistantMessages(page).last().locator('.content');
  const lengths = new Set<number>();
  while (await page.locator('#stop').isVisible()) {
    lengths.add((await reply.innerText()).length);
    await page.waitForTimeout(50);
  }
  await waitIdle(page);
  const finalText = await reply.innerText();
  lengths.add(finalText.length);
  expect(finalText.length).toBeGreaterThan(20);
  expect(lengths.size, `partial lengths seen: ${[...lengths]}`).toBeGreaterThanOrEqual(4);
  const first = await lastStats(page);

  // Second turn: the prompt now holds the whole first exchange.
  await send(page, 'How far is it from the Sun?');
  await expect(userMessages(page)).toHaveCount(2);
  await waitIdle(page);
  await expect(assistantMessages(page)).toHaveCount(2);
  expect((await assistantMessages(page).last().innerText()).length).toBeGreaterThan(5);
  const second = await lastStats(page);
  expect(second.prompt).toBeGreaterThan(first.prompt + first.completion);
});

test('Stop ends generation at once', async ({ page }) => {
  await openApp(page);
  await newChat(page);
  await setParam(page, 'max_new_tokens', '2000');
  await send(page, 'Write a very long story about a dragon and a knight, with many chapters.');
  const reply = assistantMessages(page).last().locator('.content');
  await expect.poll(async () => (await reply.innerText()).length).toBeGreaterThan(30);
  await page.locator('#stop').click();
  await expect(page.locator('#send')).toBeVisible({ timeout: 2_000 });
  // The server stops within a token and saves the reply; once the page shows
  // the saved version, nothing more arrives.
  await page.waitForTimeout(1000);
  const stopped = await reply.innerText();
  expect(stopped.length).toBeGreaterThan(30);
  // The reply is marked as stopped.
  await expect(page.locator('#finish-mark')).toHaveText('stopped');
  await page.waitForTimeout(1500);
  expect(await reply.innerText()).toBe(stopped);
  // The engine is free again: the next message gets an answer.
  await setParam(page, 'max_new_tokens', '20');
  await send(page, 'Say hello.');
  await waitIdle(page);
  await expect(assistantMessages(page)).toHaveCount(2);
});

test('parameters take effect: max_new_tokens bounds the reply', async ({ page }) => {
  await openApp(page);
  await newChat(page);
  await setParam(page, 'max_new_tokens', '5');
  await send(page, 'Write a long poem about the sea.');
  await waitIdle(page);
  expect((await lastStats(page)).completion).toBe(5);
});

test('an invalid parameter is named and nothing is sent', async ({ page }) => {
  await openApp(page);
  await newChat(page);
  await setParam(page, 'top_p', '0');
  await send(page, 'Hello?');
  await expect(page.locator('.chat .error')).toContainText('top_p must be in (0, 1]');
  await expect(assistantMessages(page)).toHaveCount(0);
});

test('Enter during IME composition does not send; Shift+Enter adds a line', async ({ page }) => {
  await openApp(page);
  await newChat(page);
  const box = page.locator('#chat-input');
  await box.click();

  // Type with a real IME composition through the DevTools protocol...
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Input.imeSetComposition', { text: 'ni', selectionStart: 2, selectionEnd: 2 });
  // ...and confirm the candidate with Enter the way browsers report it.
  await box.evaluate((el) => {
    el.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', isComposing: true, keyCode: 229, bubbles: true, cancelable: true }));
  });
  await cdp.send('Input.insertText', { text: '你好' });
  await expect(userMessages(page)).toHaveCount(0);
  await expect(box).toHaveValue(/你好/);

  await box.press('Shift+Enter');
  await box.pressSequentially('world');
  await expect(userMessages(page)).toHaveCount(0);
  await expect(box).toHaveValue(/你好\nworld/);

  await box.press('Enter');
  await expect(userMessages(page)).toHaveCount(1);
  await expect(userMessages(page).first()).toContainText('你好');
  await expect(box).toHaveValue('');
  await waitIdle(page);
});

/** chat-instruct ends its prompt with the character's name, as
 * text-generation-webui's does, and a name the model writes anyway is
 * stripped before it is shown and saved: three turns later no reply starts
 * with "AI助理:" (it used to compound: "AI助理: AI助理: …"). */
test('chat-instruct replies never start with the character name', async ({ page }) => {
  await openApp(page);
  await chooseCharacter(page, 'AI助理');
  await setMode(page, 'chat-instruct');
  await newChat(page);
  await setParam(page, 'max_new_tokens', '40');
  for (const question of ['你好', 'What is the capital of France?', 'And the capital of Italy?']) {
    const before = await assistantMessages(page).count();
    await send(page, question);
    await waitIdle(page);
    await expect(assistantMessages(page)).toHaveCount(before + 1);
    const reply = (await assistantMessages(page).last().locator('.content').innerText()).trim();
    expect(reply.length, 'a reply was written').toBeGreaterThan(0);
    // The prompt ends with `AI助理:`, so a `AI助理:` the model writes again
    // is stripped; a sentence that begins with the name (AI助理在…, which
    // this small model sometimes samples) is a reply, not a prefix.
    expect(reply, `reply: ${reply}`).not.toMatch(/^AI助理\s*[:：]/);
  }
});

/** While a long prompt is read, the reply shows how far the engine got
 * (the batching engine reads prompts in chunks and reports each). */
test('a long prompt shows its reading progress', async ({ page }) => {
  await openApp(page);
  await newChat(page);
  await setParam(page, 'max_new_tokens', '4');
  const long = Array.from({ length: 300 }, (_, i) => `Line ${i}: the lighthouse keeper logged the wind and the tide.`).join('\n');
  await send(page, long);
  const progress = page.locator('#reply-progress');
  await expect(progress).toHaveText(/reading prompt: [\d,]+ \/ [\d,]+ tokens/, { timeout: 30_000 });
  await waitIdle(page);
  await expect(progress).toHaveCount(0);
});

/** "Start reply with": the reply begins with that text and the model goes
 * on from it; the saved chat keeps it. */
test('start reply with puts the text at the start of the reply', async ({ page }) => {
  await openApp(page);
  await newChat(page);
  await setParam(page, 'max_new_tokens', '12');
  await page.locator('#start-reply-with').fill('Sure thing! The answer is');
  await page.locator('#start-reply-with').press('Tab');
  await send(page, 'What is 2+2?');
  await waitIdle(page);
  const reply = assistantMessages(page).last().locator('.content');
  await expect(reply).toContainText(/^Sure thing! The answer is\S*\s*\S/);
  const stats = await lastStats(page);
  expect(stats.completion).toBeGreaterThan(0);
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(assistantMessages(page).last().locator('.content')).toContainText(/^Sure thing! The answer is/);
  await page.locator('#start-reply-with').fill('');
  await page.locator('#start-reply-with').press('Tab');
});

test("a reply's and a sent message's numbers show when the pointer rests on the name, and stay after a reload", async ({ page }) => {
  await openApp(page);
  await setMode(page, 'instruct');
  await setParam(page, 'max_new_tokens', '5');
  await newChat(page);
  await send(page, 'Name a colour.');
  await waitIdle(page);
  const meta = page.locator('.message.assistant').last().locator('.meta');
  const numbers = /^\d+ tokens · [\d.]+ tok\/s · first token after \d+ ms · .+/;
  await expect(meta).toHaveAttribute('title', numbers);
  const first = await meta.getAttribute('title');
  // The message sent: its length, when it left, and how its prompt was read.
  const sent = page.locator('.message.user').last().locator('.meta');
  await expect(sent).toHaveAttribute(
    'title',
    /^\d+ tokens · sent .+ · prompt \d+ tokens \(\d+ reused\)( read at [\d.]+ tok\/s)?$/,
  );
  const sentTitle = (await sent.getAttribute('title'))!;
  const [promptTokens, reused] = sentTitle.match(/prompt (\d+) tokens \((\d+) reused\)/)!.slice(1).map(Number);
  expect(promptTokens).toBeGreaterThan(Number(sentTitle.match(/^(\d+) tokens/)![1]));
  expect(reused).toBeLessThan(promptTokens);
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(page.locator('.message.assistant').last().locator('.meta')).toHaveAttribute('title', first!);
  await expect(sent).toHaveAttribute('title', sentTitle);
  // A new version has its own numbers; the old version's are not kept.
  await page.locator('#regenerate').click();
  await waitIdle(page);
  await expect(meta).toHaveAttribute('title', numbers);
  await page.locator('.message.assistant').last().locator('.version-prev').click();
  await expect(page.locator('.message.assistant').last().locator('.version-label')).toHaveText('1/2');
  await expect(meta).not.toHaveAttribute('title', /tokens/);
});
