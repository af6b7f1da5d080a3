import { test, expect } from '@playwright/test';
import { chooseCharacter, newChat, openApp, send, setMode, setParam, userMessages, waitForFolder, waitIdle } from './helpers';

/** On a phone (390×844) the past chats are a drawer behind the menu
 * button: new chat, and switching to another chat, work from it, and
 * choosing closes it. */
test('on a phone the past chats open from the menu and switching chats works', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await openApp(page);
  const drawer = page.locator('.chat-sidebar');
  await expect(drawer).not.toBeInViewport();

  await page.locator('#chats-menu').click();
  await expect(drawer).toBeInViewport();
  const before = await page.locator('.chat-entries li').count();
  await page.locator('#new-chat').click();
  await expect(page.locator('.chat-entries li')).toHaveCount(before + 1);
  await expect(drawer).not.toBeInViewport();

  await page.locator('#chats-menu').click();
  await expect(drawer).toBeInViewport();
  const other = page.locator('.chat-entries li:not(.active) .chat-entry').first();
  const otherId = await other.getAttribute('data-chat-id');
  expect(otherId).not.toBeNull();
  const box = await other.boundingBox();
  expect(box!.height, 'a finger-sized target').toBeGreaterThanOrEqual(40);
  await other.click();
  await expect(drawer).not.toBeInViewport();
  await expect(page.locator('.chat-entries li.active .chat-entry')).toHaveAttribute('data-chat-id', otherId!);

  // The backdrop closes it too.
  await page.locator('#chats-menu').click();
  await expect(drawer).toBeInViewport();
  await page.locator('.drawer-backdrop').click({ position: { x: 370, y: 400 } });
  await expect(drawer).not.toBeInViewport();
});

/** The character is picked beside the chat, as on text-generation-webui's
 * Chat tab: switching opens that character's chats, and the Parameters
 * tab follows. */
test('the character is changed from the Chat tab', async ({ page }) => {
  await openApp(page);
  await setMode(page, 'chat');
  await page.locator('#chat-character').selectOption('Captain Mara');
  await expect(page.locator('.mode-switch')).toHaveAttribute('data-character', 'Captain Mara');
  await waitForFolder(page);
  await expect(page.locator('.chat-list')).toHaveAttribute('data-folder', 'chat/Captain Mara');
  await page.locator('#tab-parameters').click();
  await page.locator('#ptab-character').click();
  await expect(page.locator('#character-select')).toHaveValue('Captain Mara');
  await page.locator('#tab-chat').click();
  await page.locator('#chat-character').selectOption('Assistant');
  await expect(page.locator('.chat-list')).toHaveAttribute('data-folder', 'chat/Assistant');
  await expect(page.locator('#chat-character')).toHaveValue('Assistant');
});

/** In a long chat the message just sent is scrolled into view at once,
 * while the reply is still being read or written, not after it. */
test('a sent message is in view at once in a long chat', async ({ page }) => {
  await openApp(page);
  await setMode(page, 'instruct');
  await newChat(page);
  for (let i = 0; i < 5; i++) {
    await page.locator('#chat-input').fill(`Note ${i}\n` + 'A line of text that takes room.\n'.repeat(8));
    await page.locator('#dummy-message').click();
    await page.locator('#chat-input').fill('Noted.\n'.repeat(8));
    await page.locator('#dummy-reply').click();
  }
  await expect(page.locator('.message')).toHaveCount(10);
  await setParam(page, 'max_new_tokens', '400');
  // Taller than the 120 px within which a growing reply is followed anyway.
  await send(page, 'Write a long story about a lighthouse keeper.\n' + 'Make it detailed.\n'.repeat(8));
  await expect(page.locator('#stop')).toBeVisible();
  await expect(userMessages(page).last()).toBeInViewport({ timeout: 1500 });
  await expect(page.locator('#stop'), 'checked while the reply was running').toBeVisible({ timeout: 100 });
  await page.locator('#stop').click();
  await waitIdle(page);
});

/** In dark mode the action bar's text box takes the theme's panel colour,
 * not the browser's light default. */
test('in dark mode the Start reply with box is dark', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await openApp(page);
  const colours = await page.locator('#start-reply-with').evaluate((el) => {
    const style = getComputedStyle(el);
    return [style.backgroundColor, style.color];
  });
  expect(colours).toEqual(['rgb(30, 30, 34)', 'rgb(236, 236, 241)']);
});

/** On a phone (390×844) the messages get most of the screen: the chat
 * actions fold behind one button and the message box is one row until
 * it is used. */
test('on a phone the messages get at least 60% of the height', async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await openApp(page);
  const height = await page.locator('#messages').evaluate((el) => el.getBoundingClientRect().height);
  expect(height / 844).toBeGreaterThanOrEqual(0.6);
  await expect(page.locator('#regenerate')).toBeHidden();
  await page.locator('#actions-menu').click();
  await expect(page.locator('#regenerate')).toBeVisible();
  await expect(page.locator('#start-reply-with')).toBeVisible();
  // Choosing an action folds them again.
  await page.locator('#chat-input').fill('A note for later.');
  await page.locator('#dummy-message').click();
  await expect(page.locator('.message.user').last()).toContainText('A note for later.');
  await expect(page.locator('#regenerate')).toBeHidden();
  // The box grows once it holds text.
  const idle = await page.locator('#chat-input').evaluate((el) => el.getBoundingClientRect().height);
  await page.locator('#chat-input').fill('Another line\nand one more');
  const used = await page.locator('#chat-input').evaluate((el) => el.getBoundingClientRect().height);
  expect(used).toBeGreaterThan(idle);
});

test('chat styles: cai-chat puts every message under a picture, compact is dense', async ({ page }) => {
  await openApp(page);
  await setMode(page, 'instruct');
  await setParam(page, 'max_new_tokens', '6');
  await newChat(page);
  await send(page, 'Hi');
  await waitIdle(page);
  const user = page.locator('.message.user').last();
  const reply = page.locator('.message.assistant').last();
  const heightOf = async () => (await user.boundingBox())!.height;
  const bubble = await heightOf();
  // The default: the user's bubble on the right, no initials.
  expect((await user.boundingBox())!.x).toBeGreaterThan((await reply.boundingBox())!.x + 50);
  await expect(user.locator('.letter-avatar')).toBeHidden();

  const choose = async (style: string) => {
    await page.locator('#tab-parameters').click();
    await page.locator('#ptab-user').click();
    await page.locator('#chat-style').selectOption(style);
    await page.locator('#tab-chat').click();
  };
  await choose('cai-chat');
  await expect(page.locator('#messages')).toHaveClass(/style-cai-chat/);
  expect((await user.boundingBox())!.x).toBeCloseTo((await reply.boundingBox())!.x, 0);
  await expect(user.locator('.letter-avatar')).toBeVisible();
  await expect(user.locator('.letter-avatar')).toHaveText('Y'); // "You"
  await expect(reply.locator('.letter-avatar')).toHaveText('A'); // "Assistant"
  // In chat mode a character without a picture gets its initial too.
  await chooseCharacter(page, 'AI助理');
  await setMode(page, 'chat');
  await newChat(page);
  await expect(page.locator('.message.assistant').first().locator('.letter-avatar')).toHaveText('A');
  await expect(page.locator('.message.assistant img.avatar')).toHaveCount(0);
  await setMode(page, 'instruct');

  await choose('compact');
  await expect(page.locator('#messages')).toHaveClass(/style-compact/);
  await expect(user.locator('.letter-avatar')).toBeHidden();
  expect(await heightOf()).toBeLessThan(bubble);
  // The style is a setting: it is there after a reload.
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await expect(page.locator('#messages')).toHaveClass(/style-compact/);
});
