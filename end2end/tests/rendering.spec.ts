import { test, expect } from '@playwright/test';
import { assistantMessages, openApp, newChat, setMode } from './helpers';

/** Replaces the first message (the character's greeting) with `text`. */
async function editGreeting(page: import('@playwright/test').Page, text: string) {
  await setMode(page, 'chat');
  await newChat(page);
  const greeting = assistantMessages(page).first();
  await greeting.locator('.edit-message').click();
  await greeting.locator('.edit-box').fill(text);
  await greeting.locator('.save-edit').click();
  return greeting;
}

/** Math in all four notations is typeset by KaTeX (served from our own
 * /vendor), its TeX kept exactly (`\,` included); HTML in a formula stays
 * text. */
test('a reply with $$\\int_0^1 x\\,dx$$ renders as math', async ({ page }) => {
  const foreign: string[] = [];
  page.on('request', (r) => {
    if (!r.url().startsWith('http://127.0.0.1')) foreign.push(r.url());
  });
  await openApp(page);
  const reply = await editGreeting(
    page,
    'The area is $$\\int_0^1 x\\,dx$$ which is \\(\\frac{1}{2}\\), and $<b>bold</b>$ is not HTML.',
  );
  const display = reply.locator('.content .math-display');
  await expect(display.locator('.katex-display')).toBeVisible();
  // KaTeX keeps the source in its MathML annotation.
  await expect(display.locator('annotation')).toHaveText('\\int_0^1 x\\,dx');
  await expect(reply.locator('.content .math-inline').first().locator('annotation')).toHaveText('\\frac{1}{2}');
  await expect(reply.locator('.content b')).toHaveCount(0);
  // The whole formula is typeset (an integral sign is drawn), not shown as TeX.
  await expect(display.locator('.katex-html')).toContainText('∫');
  expect(foreign, 'nothing is loaded from other sites').toEqual([]);
});

/** Fenced code is highlighted by highlight.js, and Copy still copies the
 * plain code. */
test('fenced code is highlighted', async ({ page }) => {
  await openApp(page);
  const reply = await editGreeting(page, 'Here:\n\n```rust\nfn main() { let x = 1; }\n```\n');
  const code = reply.locator('pre > code.language-rust');
  await expect(code).toHaveClass(/hljs/);
  await expect(code.locator('.hljs-keyword').first()).toHaveText('fn');
  await expect(code).toHaveText(/^fn main\(\) \{ let x = 1; \}\s*$/);
});

/** The Parameters tab is in sections; the template section says when its
 * editor holds edits that are not saved (and so not used). */
test('Parameters sections, and unsaved template edits are flagged', async ({ page }) => {
  await openApp(page);
  await page.locator('#tab-parameters').click();
  await expect(page.locator('#param-temperature')).toBeVisible();
  await expect(page.locator('#template-source')).toBeHidden();
  await page.locator('#ptab-template').click();
  await expect(page.locator('#param-temperature')).toBeHidden();
  const source = page.locator('#template-source');
  await expect(source).toBeVisible();
  await expect(source).not.toHaveValue('');
  await expect(page.locator('#template-unsaved')).toHaveCount(0);
  await source.press('End');
  await source.pressSequentially(' ');
  await expect(page.locator('#template-unsaved')).toBeVisible();
  await page.locator('#ptab-command').click();
  await expect(page.locator('#chat-instruct-command')).toHaveValue(/<\|character\|>/);
  // The slider and the box accept the server's whole range: 10 is a valid
  // repetition penalty (the old slider stopped at 1.5).
  await page.locator('#ptab-generation').click();
  await expect(page.locator('#param-repetition_penalty')).toHaveAttribute('max', '10');
  await expect(page.locator('#param-max_new_tokens')).toHaveAttribute('max', '32768');
});
