import { test, expect } from '@playwright/test';
import { cardPng, v2Card } from './card';
import { acceptDialogs, assistantMessages, chooseCharacter, newChat, openApp, setMode } from './helpers';

test.describe.configure({ mode: 'serial' });

test('presets: load one into the samplers, save one, delete it', async ({ page }) => {
  acceptDialogs(page);
  await openApp(page);
  await page.locator('#tab-parameters').click();
  await page.locator('#preset-select').selectOption('Deterministic');
  await expect(page.locator('#param-do_sample')).not.toBeChecked();
  await page.locator('#preset-select').selectOption('Top-P');
  await expect(page.locator('#param-do_sample')).toBeChecked();
  await expect(page.locator('#param-top_p')).toHaveValue('0.95');
  await expect(page.locator('#param-temperature')).toHaveValue('1');

  await page.locator('#param-top_k').fill('33');
  await page.locator('#param-top_k').press('Tab');
  await page.locator('#preset-name').fill('e2e preset');
  await page.locator('#preset-save').click();
  await expect(page.locator('#preset-select option[value="e2e preset"]')).toHaveCount(1);
  // The saved preset stays the one shown.
  await expect(page.locator('#preset-select')).toHaveValue('e2e preset');
  await page.locator('#preset-select').selectOption('Deterministic');
  await page.locator('#preset-select').selectOption('e2e preset');
  await expect(page.locator('#param-top_k')).toHaveValue('33');
  await page.locator('#preset-delete').click();
  await expect(page.locator('#preset-select option[value="e2e preset"]')).toHaveCount(0);
});

test('the active preset is shown, marked once modified, and remembered', async ({ page }) => {
  await openApp(page);
  await page.locator('#tab-parameters').click();
  // The samplers start as Qwen's recommendation, which that preset holds.
  await expect(page.locator('#preset-select')).toHaveValue('Qwen (recommended)');
  await expect(page.locator('#preset-modified')).toHaveCount(0);
  await page.locator('#param-temperature').fill('1.23');
  await page.locator('#param-temperature').press('Tab');
  await expect(page.locator('#preset-modified')).toBeVisible();
  await page.locator('#preset-select').selectOption('min_p');
  await expect(page.locator('#preset-modified')).toHaveCount(0);
  await page.reload();
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
  await page.locator('#tab-parameters').click();
  await expect(page.locator('#preset-select')).toHaveValue('min_p');
  await expect(page.locator('#preset-modified')).toHaveCount(0);
});

test('characters: edit and save as, chat with the copy, delete it', async ({ page }) => {
  acceptDialogs(page, 'Helper Bot');
  await openApp(page);
  await page.locator('#tab-parameters').click();
  await page.locator('#ptab-character').click();
  await page.locator('#character-select').selectOption('Assistant');
  await page.locator('#character-greeting').fill('Beep boop, {{user}}! Ready.');
  await page.locator('#character-save-as').click(); // prompt() answered "Helper Bot"
  await expect(page.locator('#character-select option[value="Helper Bot"]')).toHaveCount(1);
  await expect(page.locator('#character-name')).toHaveValue('Helper Bot');
  // The original is untouched.
  await page.locator('#character-select').selectOption('Assistant');
  await expect(page.locator('#character-greeting')).toHaveValue('How can I help you today?');

  await page.locator('#ptab-user').click();
  await page.locator('#user-name').fill('Alex');
  await page.locator('#user-name').press('Tab');
  await chooseCharacter(page, 'Helper Bot');
  await setMode(page, 'chat');
  await newChat(page);
  await expect(assistantMessages(page).first().locator('.author')).toHaveText('Helper Bot');
  // The greeting's {{user}} is the user's name.
  await expect(assistantMessages(page).first()).toContainText('Beep boop, Alex! Ready.');

  await page.locator('#tab-parameters').click();
  await page.locator('#ptab-character').click();
  await page.locator('#character-delete').click();
  await expect(page.locator('#character-select option[value="Helper Bot"]')).toHaveCount(0);
});

test('a SillyTavern V2 card imports with its picture and greetings', async ({ page }) => {
  await openApp(page);
  await page.locator('#tab-parameters').click();
  await page.locator('#ptab-character').click();
  await page.locator('#card-import').setInputFiles({ name: 'seraphina.png', mimeType: 'image/png', buffer: cardPng(v2Card) });
  await expect(page.locator('.notice').first()).toContainText('Imported seraphina.png as Seraphina');
  await expect(page.locator('.notice').first()).toContainText('creator_notes');
  await expect(page.locator('#character-name')).toHaveValue('Seraphina');
  await expect(page.locator('#character-context')).toHaveValue(/forest guardian[\s\S]*personality: gentle[\s\S]*Scenario/);
  await expect(page.locator('.character-picture img')).toBeVisible();

  await page.locator('#tab-chat').click();
  await setMode(page, 'chat');
  await newChat(page);
  const greeting = assistantMessages(page).first();
  await expect(greeting).toContainText('You are awake at last.');
  // The alternate greeting is a second version of the first message.
  await expect(greeting.locator('.version-label')).toHaveText('1/2');
  await greeting.locator('.version-next').click();
  await expect(greeting).toContainText('Hello, traveller.');
  await expect(greeting.locator('img.avatar')).toBeVisible();
});

test('a malformed card is refused with a message and adds nothing', async ({ page }) => {
  await openApp(page);
  await page.locator('#tab-parameters').click();
  await page.locator('#ptab-character').click();
  const before = await page.locator('#character-select option').count();
  await page.locator('#card-import').setInputFiles({ name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('not a png at all') });
  await expect(page.locator('#tab-chat')).toBeVisible();
  await page.locator('#tab-chat').click();
  await expect(page.locator('.error')).toContainText('not a usable character card');
  await page.locator('#tab-parameters').click();
  await expect(page.locator('#character-select option')).toHaveCount(before);
});
