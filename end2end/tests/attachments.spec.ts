import { test, expect, Page } from '@playwright/test';
import {
  lastAssistant,
  loadModel,
  newChat,
  openApp,
  send,
  setMode,
  setParam,
  userMessages,
  waitIdle,
} from './helpers';

const SMOL = 'SmolLM2-135M-Instruct.Q4_1.gguf';
const QWEN = 'qwen2.5-coder-0.5b-instruct-q4_k_m.gguf';

/** A one-page PDF whose text layer says `line` (Helvetica), with a correct
 * cross-reference table: what a word processor's "Save as PDF" makes. */
function pdfSaying(line: string): Buffer {
  const stream = `BT /F1 12 Tf 72 720 Td (${line}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
  ];
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

async function attach(page: Page, name: string, mimeType: string, buffer: Buffer) {
  await page.locator('#attach-input').setInputFiles({ name, mimeType, buffer });
}

const pendingChip = (page: Page, name: string) =>
  page.locator('#pending-files .file-chip', { hasText: name });

test('files that cannot be attached are refused with the reason, and a message too long for the context keeps its files', async ({
  page,
}) => {
  await openApp(page);
  await setMode(page, 'instruct');
  await newChat(page);
  const error = page.locator('.chat .error');

  // Over the limit: refused before it is sent, with the limit.
  await attach(page, 'huge.txt', 'text/plain', Buffer.alloc(8 * 1024 * 1024 + 1, 'a'));
  await expect(error).toContainText('huge.txt is 8 MB; a file can be at most 8 MB');
  // Not what its name says.
  await attach(page, 'report.pdf', 'application/pdf', Buffer.from('just some text'));
  await expect(error).toContainText('report.pdf is not a PDF');
  await attach(page, 'notes.txt', 'text/plain', Buffer.from('\x89PNG\r\n\x1a\n....', 'latin1'));
  await expect(error).toContainText('notes.txt is not a text file: its content is a PNG image');
  // Images: no vision model.
  await attach(page, 'cat.png', 'image/png', Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'));
  await expect(error).toContainText('cannot see images');
  await expect(page.locator('#pending-files .file-chip')).toHaveCount(0);

  // A file that fits no context is refused whole, never cut: the message
  // and its file stay in the box.
  await setParam(page, 'max_new_tokens', '16');
  await setParam(page, 'truncation_length', '256');
  await attach(page, 'long.md', 'text/markdown', Buffer.from('The tide tables for June. '.repeat(200)));
  await expect(pendingChip(page, 'long.md')).toContainText(/\d+ tokens/);
  await send(page, 'Summarise this.');
  await expect(error).toContainText('the message with its attached file needs');
  await expect(error).toContainText('remove a file, or raise truncation_length');
  await expect(pendingChip(page, 'long.md')).toBeVisible();
  await expect(page.locator('#chat-input')).toHaveValue('Summarise this.');
  await expect(userMessages(page)).toHaveCount(0);
  // Removing it empties the list.
  await pendingChip(page, 'long.md').locator('.remove-file').click();
  await expect(page.locator('#pending-files')).toHaveCount(0);
  await setParam(page, 'truncation_length', '0');
});

test('Qwen reads an attached text file and PDF; the chat reloads and regenerates with them', async ({ page }) => {
  await openApp(page);
  try {
    await loadModel(page, QWEN);
    await page.locator('#tab-chat').click();
    await setParam(page, 'temperature', '0');
    await setParam(page, 'max_new_tokens', '40');
    await setMode(page, 'instruct');
    await newChat(page);

    await attach(page, 'notes.txt', 'text/plain', Buffer.from('Inventory notes.\nThe password for the garden shed is HERON-42.\n'));
    await expect(pendingChip(page, 'notes.txt')).toContainText(/\d+ tokens/);
    await send(page, 'What is the password for the garden shed, according to the attached notes?');
    await expect(page.locator('#pending-files')).toHaveCount(0);
    await waitIdle(page);
    await expect(lastAssistant(page).locator('.content')).toContainText('HERON-42');
    await expect(userMessages(page).last().locator('.message-files')).toContainText('notes.txt');

    // Dropped on the message box, as a user drags a file from the desktop.
    const pdf = pdfSaying('Memo: the quarterly review meets in room 7B on Thursday.');
    const drop = await page.evaluateHandle((bytes) => {
      const dt = new DataTransfer();
      dt.items.add(new File([new Uint8Array(bytes)], 'memo.pdf', { type: 'application/pdf' }));
      return dt;
    }, [...pdf]);
    await page.locator('.composer').dispatchEvent('drop', { dataTransfer: drop });
    await expect(pendingChip(page, 'memo.pdf')).toContainText(/\d+ tokens/);
    await send(page, 'In which room does the quarterly review meet, according to the attached memo?');
    await waitIdle(page);
    await expect(lastAssistant(page).locator('.content')).toContainText('7B');

    // Reloaded, both messages still carry their files; a regenerated reply
    // reads them again.
    await page.reload();
    await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
    await expect(userMessages(page).nth(0).locator('.message-files')).toContainText('notes.txt');
    await expect(userMessages(page).nth(1).locator('.message-files')).toContainText('memo.pdf');
    await page.locator('#regenerate').click();
    await waitIdle(page);
    await expect(lastAssistant(page).locator('.version-label')).toHaveText('2/2');
    await expect(lastAssistant(page).locator('.content')).toContainText('7B');

    // Remove last puts the message and its file back into the box.
    await page.locator('#remove-last').click();
    await expect(userMessages(page)).toHaveCount(1);
    await expect(page.locator('#chat-input')).toHaveValue(/quarterly review/);
    await expect(pendingChip(page, 'memo.pdf')).toBeVisible();
  } finally {
    // The other tests run on SmolLM2.
    await loadModel(page, SMOL);
  }
});
