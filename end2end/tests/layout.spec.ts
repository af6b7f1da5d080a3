import { test, expect } from '@playwright/test';
import { openApp, setMode, waitForFolder } from './helpers';

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
