import { test, expect } from '@playwright/test';
import { openApp, setMode, setParam } from './helpers';

test('settings follow the user to another device: the server keeps them', async ({ page, browser }) => {
  await openApp(page);
  await page.locator('#tab-parameters').click();
  await page.locator('#ptab-user').click();
  await page.locator('#user-name').fill('Mara');
  await page.locator('#user-name').press('Tab');
  await page.locator('#user-bio').fill('Keeps bees.');
  await page.locator('#user-bio').press('Tab');
  await setParam(page, 'temperature', '1.3');
  await setParam(page, 'dry_multiplier', '0.8');
  await setMode(page, 'chat');

  // Another browser (a phone: nothing in its storage) sees them.
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const other = await phone.newPage();
  await expect(async () => {
    await other.goto('/');
    await expect(other.locator('body[data-hydrated="true"]')).toHaveCount(1);
    await expect(other.locator('input[name="mode"][value="chat"]')).toBeChecked({ timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  await other.locator('#tab-parameters').click();
  await other.locator('#ptab-user').click();
  await expect(other.locator('#user-name')).toHaveValue('Mara');
  await expect(other.locator('#user-bio')).toHaveValue('Keeps bees.');
  await other.locator('#ptab-generation').click();
  await expect(other.locator('#param-temperature')).toHaveValue('1.3');
  await expect(other.locator('#param-dry_multiplier')).toHaveValue('0.8');
  await phone.close();
});
