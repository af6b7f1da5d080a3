import { test, expect } from '@playwright/test';
import {
  acceptDialogs, assistantMessages, chooseCharacter, lastAssistant, lastStats, newChat, openApp, send, setMode,
  setParam, userMessages, waitIdle,
} from './helpers';

test.describe.configure({ mode: 'serial' });

test('AI助理 in chat-instruct: greeting, reply, the prompt that was sent, versions, continue', async ({ page }) => {
  await openApp(page);
  await setParam(page, 'max_new_tokens', '16');
  await chooseCharacter(page, 'AI助理');
  await setMode(page, 'chat-instruct');
  await newChat(page);
  await expect(assistantMessages(page)).toHaveCount(1);
  await expect(assistantMessages(page).first()).toContainText('你好！我是你的AI助理');
  await expect(assistantMessages(page).first().locator('.author')).toHaveText('AI助理');

  await send(page, '你好，请介绍一下北京。');
  await waitIdle(page);
  await expect(assistantMessages(page)).toHaveCount(2);

  // Prompt transparency: the exact chat-instruct prompt, and its size.
  await page.locator('.prompt-panel summary').click();
  const prompt = await page.locator('.prompt-text').innerText();
  expect(prompt).toContain('Write a single reply for the character "AI助理"');
  expect(prompt).toContain('AI助理: 你好！我是你的AI助理');
  expect(prompt).toContain('You: 你好，请介绍一下北京。');
  const summary = await page.locator('.prompt-panel summary').innerText();
  expect(summary).toContain(`${(await lastStats(page)).prompt} tokens`);

  // Copy last reply copies the shown version of the last reply.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.locator('#copy-last-reply').click();
  await expect(page.locator('.toast')).toContainText('Copied the last reply.');
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  // The reply's own text, as the edit box holds it (the page shows it rendered).
  await lastAssistant(page).locator('.edit-message').click();
  expect(copied).toBe(await lastAssistant(page).locator('.edit-box').inputValue());
  await lastAssistant(page).locator('.cancel-edit').click();

  // Copy says it copied, for a moment.
  await lastAssistant(page).locator('.copy-message').click();
  await expect(lastAssistant(page).locator('.copy-message')).toHaveText('Copied');
  await expect(lastAssistant(page).locator('.copy-message')).toHaveText('Copy', { timeout: 5_000 });

  // Regenerate keeps the old reply as a version.
  const first = await lastAssistant(page).locator('.content').innerText();
  await page.locator('#regenerate').click();
  await waitIdle(page);
  await expect(lastAssistant(page).locator('.version-label')).toHaveText('2/2');
  await lastAssistant(page).locator('.version-prev').click();
  await expect(lastAssistant(page).locator('.version-label')).toHaveText('1/2');
  await expect(lastAssistant(page).locator('.content')).toHaveText(first);
  await lastAssistant(page).locator('.version-next').click();
  await expect(lastAssistant(page).locator('.version-label')).toHaveText('2/2');

  // Continue extends the shown version (16 tokens leave the reply unfinished).
  const before = await lastAssistant(page).locator('.content').innerText();
  await page.locator('#continue').click();
  await waitIdle(page);
  await expect.poll(async () => (await lastAssistant(page).locator('.content').innerText()).length).toBeGreaterThan(before.length);
  expect(await lastAssistant(page).locator('.content').innerText()).toContain(before.slice(0, 5));
});

test('edit in place, remove last, dummy messages, branch, rename, reload, delete', async ({ page }) => {
  acceptDialogs(page);
  await openApp(page);
  await setParam(page, 'max_new_tokens', '8');
  await setMode(page, 'instruct');
  await newChat(page);

  // Dummy message and dummy reply: no model involved.
  await page.locator('#chat-input').fill('What is 2+2?');
  await page.locator('#dummy-message').click();
  await expect(userMessages(page)).toHaveCount(1);
  await page.locator('#chat-input').fill('It is **4**.');
  await page.locator('#dummy-reply').click();
  await expect(assistantMessages(page)).toHaveCount(1);
  await expect(lastAssistant(page).locator('.content strong')).toHaveText('4');

  // Edit a message in place.
  await lastAssistant(page).locator('.edit-message').click();
  await lastAssistant(page).locator('.edit-box').fill('Four, of course.');
  await lastAssistant(page).locator('.save-edit').click();
  await expect(lastAssistant(page).locator('.content')).toHaveText('Four, of course.');
  // A short user message is edited across the chat's width, not inside its bubble.
  const user = userMessages(page).first();
  const narrow = (await user.boundingBox())!.width;
  await user.locator('.edit-message').click();
  const editing = (await user.boundingBox())!.width;
  const chatWidth = (await page.locator('#messages').boundingBox())!.width;
  expect(editing).toBeGreaterThan(narrow);
  expect(editing).toBeGreaterThan(chatWidth * 0.9);
  await user.locator('.cancel-edit').click();

  // A real exchange, then Remove last puts the user's text back in the box.
  await send(page, 'And 3+3?');
  await waitIdle(page);
  await expect(userMessages(page)).toHaveCount(2);
  await page.locator('#remove-last').click();
  await expect(userMessages(page)).toHaveCount(1);
  await expect(page.locator('#chat-input')).toHaveValue('And 3+3?');
  await page.locator('#chat-input').fill('');

  // Branch from the first message into a new chat.
  const chatsBefore = await page.locator('.chat-entries li').count();
  await userMessages(page).first().locator('.branch-message').click();
  await expect(page.locator('.chat-entries li')).toHaveCount(chatsBefore + 1);
  await expect(page.locator('.message')).toHaveCount(1);
  await expect(page.locator('.chat-entries li.active .chat-id')).toContainText('-branch');

  // The rename box starts with the shown title; Esc and Cancel close it
  // unchanged, and saving the title unchanged just closes it (no error).
  const shownTitle = await page.locator('.chat-entries li.active .chat-title').innerText();
  await page.locator('#rename-chat').click();
  await expect(page.locator('#rename-input')).toHaveValue(shownTitle);
  await expect(page.locator('#rename-input')).toBeFocused();
  await page.locator('#rename-input').press('Escape');
  await expect(page.locator('#rename-input')).toHaveCount(0);
  await page.locator('#rename-chat').click();
  await page.locator('#rename-input').fill('not-this-name');
  await page.locator('#rename-cancel').click();
  await expect(page.locator('#rename-input')).toHaveCount(0);
  await expect(page.locator('.chat-entries li.active .chat-title')).toHaveText(shownTitle);
  await page.locator('#rename-chat').click();
  await page.locator('#rename-save').click();
  await expect(page.locator('#rename-input')).toHaveCount(0);
  await page.waitForTimeout(500); // a refused rename would show its error by now
  await expect(page.locator('[role="alert"]')).toHaveCount(0);

  // Rename it, reload the page: the same chat reopens with its history.
  await page.locator('#rename-chat').click();
  await page.locator('#rename-input').fill('math-notes');
  await page.locator('#rename-save').click();
  await expect(page.locator('.chat-entries li.active .chat-id')).toContainText('math-notes');
  // The title the list shows is the new name, not the first message.
  await expect(page.locator('.chat-entries li.active .chat-title')).toHaveText('math-notes');
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(page.locator('.chat-entries li.active .chat-id')).toContainText('math-notes');
  await expect(userMessages(page).first()).toContainText('What is 2+2?');

  // Search finds the original chat by content.
  await page.locator('#chat-search').fill('of course');
  await expect(page.locator('.chat-entries li')).toHaveCount(1);
  await expect(page.locator('#no-chats-found')).toHaveCount(0);
  // A search that finds nothing says so instead of showing a blank list.
  await page.locator('#chat-search').fill('zebra-crossing-xylophone');
  await expect(page.locator('.chat-entries li')).toHaveCount(0);
  await expect(page.locator('#no-chats-found')).toBeVisible();
  await page.locator('#chat-search').fill('');
  await expect.poll(() => page.locator('.chat-entries li').count()).toBeGreaterThan(1);

  // Delete (after confirming): gone from the list.
  const count = await page.locator('.chat-entries li').count();
  await page.locator('#delete-chat').click();
  await expect(page.locator('.chat-entries li')).toHaveCount(count - 1);
  await expect(page.locator('.chat-entries .chat-id', { hasText: 'math-notes' })).toHaveCount(0);
});

test('keyboard shortcuts: Ctrl+Enter regenerates, Esc stops', async ({ page }) => {
  await openApp(page);
  await setParam(page, 'max_new_tokens', '6');
  await setMode(page, 'instruct');
  await newChat(page);
  await send(page, 'Name a color.');
  await waitIdle(page);
  await page.locator('body').press('Control+Enter');
  await waitIdle(page);
  await expect(lastAssistant(page).locator('.version-label')).toHaveText('2/2');
  await setParam(page, 'max_new_tokens', '2000');
  await send(page, 'Write a very long story about the sea.');
  await expect.poll(async () => (await lastAssistant(page).locator('.content').innerText()).length).toBeGreaterThan(20);
  await page.locator('body').press('Escape');
  await expect(page.locator('#send')).toBeVisible({ timeout: 2_000 });
});

test('a stale tab cannot overwrite newer history', async ({ browser }) => {
  const context = await browser.newContext();
  const a = await context.newPage();
  await openApp(a);
  await setMode(a, 'instruct');
  await newChat(a);
  const id = await a.locator('.chat-entries li.active .chat-id').innerText();
  // Same browser storage: the second tab opens the same chat.
  const b = await context.newPage();
  await openApp(b);
  await expect(b.locator('.chat-entries li.active .chat-id')).toHaveText(id);

  await a.locator('#chat-input').fill('written in tab A');
  await a.locator('#dummy-message').click();
  await expect(userMessages(a)).toHaveCount(1);

  await b.locator('#chat-input').fill('written in the stale tab B');
  await b.locator('#dummy-message').click();
  await expect(b.locator('.error')).toContainText('changed elsewhere');
  await expect(userMessages(b)).toHaveCount(0);
  // A generation from the stale tab is refused too.
  await b.locator('#chat-input').fill('also from B');
  await b.locator('#chat-input').press('Enter');
  await expect(b.locator('.error')).toContainText('changed elsewhere');
  await expect(b.locator('#chat-input')).toHaveValue('also from B'); // nothing typed is lost
  await expect(userMessages(b)).toHaveCount(0);

  await b.locator('#reload-chat').click();
  await expect(userMessages(b)).toHaveCount(1);
  await expect(userMessages(b).first()).toContainText('written in tab A');
  await a.reload();
  await expect(a.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(userMessages(a)).toHaveCount(1);
  await context.close();
});

test('model output with HTML or script is shown as text, Markdown renders', async ({ page }) => {
  await openApp(page);
  await setMode(page, 'instruct');
  await newChat(page);
  const hostile = [
    'Look: <script>window.__pwned = 1</script> <img src=x onerror="window.__pwned = 2">',
    '',
    '| fruit | colour |',
    '|---|---|',
    '| apple | red |',
    '',
    '```python',
    'print("hi")',
    '```',
    '[link](javascript:window.__pwned=3)',
  ].join('\n');
  await page.locator('#chat-input').fill(hostile);
  await page.locator('#dummy-reply').click();
  const reply = lastAssistant(page).locator('.content');
  await expect(reply.locator('table td').first()).toHaveText('apple');
  await expect(reply).toContainText('<script>window.__pwned = 1</script>');
  await expect(page.locator('#messages script')).toHaveCount(0);
  await expect(page.locator('#messages img[src="x"]')).toHaveCount(0);
  await expect(reply.locator('.code-block .copy-code')).toHaveCount(1);
  await reply.locator('a').click();
  expect(await page.evaluate(() => (window as any).__pwned)).toBeUndefined();
});

test('Impersonate writes your next message on from what the box holds', async ({ page }) => {
  await openApp(page);
  await setParam(page, 'max_new_tokens', '8');
  await setMode(page, 'chat');
  await newChat(page);
  const shown = await page.locator('.message').count();
  const start = 'Tell me a story about';
  await page.locator('#chat-input').fill(start);
  await page.locator('#impersonate').click();
  await waitIdle(page);
  // The reply lands in the box, after the text that was there; the chat
  // itself is unchanged.
  await expect.poll(async () => (await page.locator('#chat-input').inputValue()).length).toBeGreaterThan(start.length);
  expect(await page.locator('#chat-input').inputValue()).toMatch(/^Tell me a story about/);
  await expect(page.locator('.message')).toHaveCount(shown);
  // The prompt ended inside the user's turn, with the box's text.
  await page.locator('.prompt-panel summary').click();
  expect((await page.locator('.prompt-text').innerText()).trimEnd()).toMatch(/You: Tell me a story about$/);
});

/** Export downloads the open chat as a text-generation-webui chat file;
 * importing that file makes a new chat with the same messages. A file that
 * is not a chat is refused with a message and adds nothing. */
test('export a chat as a TGW file and import it again', async ({ page }) => {
  await openApp(page);
  await newChat(page);
  await page.locator('#chat-input').fill('Exported question 你好');
  await page.locator('#dummy-message').click();
  await page.locator('#chat-input').fill('Exported answer 再见');
  await page.locator('#dummy-reply').click();
  await expect(page.locator('.message')).toHaveCount(2);

  const downloading = page.waitForEvent('download');
  await page.locator('#export-chat').click();
  const download = await downloading;
  expect(download.suggestedFilename()).toMatch(/\.json$/);
  const text = await (await download.createReadStream()).toArray().then((parts) => Buffer.concat(parts).toString('utf8'));
  const file = JSON.parse(text);
  expect(file.internal).toEqual([['Exported question 你好', 'Exported answer 再见']]);

  const before = await page.locator('.chat-entries li').count();
  await page.locator('#chat-import').setInputFiles({ name: 'chat.json', mimeType: 'application/json', buffer: Buffer.from(text) });
  await expect(page.locator('.chat-entries li')).toHaveCount(before + 1);
  await expect(userMessages(page).first()).toContainText('Exported question 你好');
  await expect(assistantMessages(page).last()).toContainText('Exported answer 再见');

  await page.locator('#chat-import').setInputFiles({ name: 'bad.json', mimeType: 'application/json', buffer: Buffer.from('{"not": "a chat"}') });
  await expect(page.locator('.status-line .error')).toContainText('not a text-generation-webui chat');
  await expect(page.locator('.chat-entries li')).toHaveCount(before + 1);
});

/** A reply that begins with <think>…</think> shows its reasoning in a
 * collapsed block above a clean answer, and the next prompt's history holds
 * only the answer. The Thinking switch is offered only for a reasoning
 * model's template, which SmolLM2's is not. */
test('reasoning is shown collapsed and left out of the history', async ({ page }) => {
  await openApp(page);
  await setParam(page, 'max_new_tokens', '4');
  await newChat(page);
  await expect(page.locator('#start-reply-with')).toBeVisible();
  await page.waitForTimeout(500); // the model's template has been asked for by now
  await expect(page.locator('#thinking-switch')).toHaveCount(0);
  await page.locator('#chat-input').fill('What is 2+2?');
  await page.locator('#dummy-message').click();
  await page.locator('#chat-input').fill('<think>\nThe user adds **two and two**.\n</think>\n\nThe answer is 4.');
  await page.locator('#dummy-reply').click();
  const reply = lastAssistant(page);
  const thinking = reply.locator('details.thinking');
  await expect(thinking).toBeVisible();
  await expect(thinking).not.toHaveAttribute('open', '');
  await expect(thinking.locator('summary')).toHaveText('Thoughts');
  await expect(thinking.locator('.thinking-content')).toBeHidden();
  await expect(reply.locator('.content')).toHaveText('The answer is 4.');
  await thinking.locator('summary').click();
  await expect(thinking.locator('.thinking-content strong')).toHaveText('two and two');

  await send(page, 'And 3+3?');
  await waitIdle(page);
  await page.locator('.prompt-panel summary').click();
  const prompt = await page.locator('.prompt-text').innerText();
  expect(prompt).toContain('The answer is 4.');
  expect(prompt).not.toContain('two and two');
  expect(prompt).not.toContain('<think>');
});

test('an earlier message edited and sent again is a new version; the old one keeps the chat that followed it', async ({ page }) => {
  await openApp(page);
  await setParam(page, 'max_new_tokens', '8');
  await setMode(page, 'instruct');
  await newChat(page);
  await send(page, 'Name a colour.');
  await waitIdle(page);
  await send(page, 'Name a fruit.');
  await waitIdle(page);
  await expect(page.locator('.message')).toHaveCount(4);
  const firstReply = await assistantMessages(page).first().locator('.content').innerText();

  // Edit the first message and send it again: the chat now ends with its
  // new version and a new reply; it shows 2/2.
  const first = userMessages(page).first();
  await first.locator('.edit-message').click();
  await first.locator('.edit-box').fill('Name an animal.');
  await first.locator('.resend-edit').click();
  await waitIdle(page);
  await expect(page.locator('.message')).toHaveCount(2);
  await expect(userMessages(page).first()).toContainText('Name an animal.');
  await expect(userMessages(page).first().locator('.version-label')).toHaveText('2/2');
  await expect(page.locator('.prompt-panel .prompt-text')).toContainText('Name an animal.');
  await expect(page.locator('.prompt-panel .prompt-text')).not.toContainText('Name a fruit.');

  // The old version brings back the chat that followed it, and back again.
  await userMessages(page).first().locator('.version-prev').click();
  await expect(page.locator('.message')).toHaveCount(4);
  await expect(userMessages(page).nth(1)).toContainText('Name a fruit.');
  await expect(assistantMessages(page).first().locator('.content')).toHaveText(firstReply);
  await userMessages(page).first().locator('.version-next').click();
  await expect(page.locator('.message')).toHaveCount(2);

  // Kept across a reload.
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(userMessages(page).first().locator('.version-label')).toHaveText('2/2');
  await userMessages(page).first().locator('.version-prev').click();
  await expect(userMessages(page).nth(1)).toContainText('Name a fruit.');
});
