import { test, expect } from '@playwright/test';
import { lastAssistant, loadModel, newChat, openApp, send, setMode, setParam, waitIdle } from './helpers';

const SMOL = 'SmolLM2-135M-Instruct.Q4_1.gguf';
const QWEN = 'qwen2.5-coder-0.5b-instruct-q4_k_m.gguf';
const GEMMA = 'gemma-3-270m-q4_k_m.gguf';

test('Model tab: list the folder, switch between SmolLM2, Qwen and Gemma 3, use each', async ({ page }) => {
  await openApp(page);
  await page.locator('#tab-model').click();
  await expect(page.locator(`tr[data-model="${SMOL}"]`)).toContainText('llama');
  await expect(page.locator(`tr[data-model="${QWEN}"]`)).toContainText('qwen2');
  await expect(page.locator('.model-summary')).toContainText(SMOL);
  // SmolLM2 is trained for 8192 positions; candle's llama (the path on CPUs
  // without AVX-512 VNNI) stops at 4096.
  await expect(page.locator('.model-summary')).toContainText(/context (8192|4096) tokens/);
  await expect(page.locator('.model-memory')).toContainText('MiB RAM');

  // An instruction template chosen for SmolLM2 stays SmolLM2's: another
  // model starts with its own, and the page says so.
  await page.locator('#tab-parameters').click();
  await page.locator('#ptab-template').click();
  await page.locator('#template-select').selectOption('ChatML');

  try {
    await loadModel(page, QWEN);
    await expect(page.locator('.model-summary')).toContainText('qwen2');
    await expect(page.locator('.toast')).toContainText('chosen for another model');
    await page.locator('#tab-parameters').click();
    await page.locator('#ptab-template').click();
    await expect(page.locator('#template-select')).toHaveValue('');
    await page.locator('#tab-chat').click();
    await setParam(page, 'max_new_tokens', '8');
    await setMode(page, 'instruct');
    await newChat(page);
    await send(page, 'Say hello.');
    await waitIdle(page);
    expect((await lastAssistant(page).locator('.content').innerText()).length).toBeGreaterThan(0);

    // Gemma 3 270M is a base model (no chat template): the Notebook
    // continues raw text with it.
    await loadModel(page, GEMMA);
    await expect(page.locator('.model-summary')).toContainText('gemma3');
    await setParam(page, 'temperature', '0');
    await page.locator('#tab-notebook').click();
    await page.locator('#notebook-text').fill('The capital of France is the city of');
    await page.locator('#notebook-generate').click();
    await expect(page.locator('#notebook-status')).toHaveText(/\d+ prompt \+ \d+ new tokens/, { timeout: 60_000 });
    expect(await page.locator('#notebook-text').inputValue()).toMatch(/^The capital of France is the city of Paris/);
  } finally {
    // The other tests run on SmolLM2.
    await loadModel(page, SMOL);
  }
  await page.locator('#tab-chat').click();
  await send(page, 'And hello again.');
  await waitIdle(page);
  expect((await lastAssistant(page).locator('.content').innerText()).length).toBeGreaterThan(0);

  // Idle again: no reply is counted as running or waiting.
  await page.locator('#tab-model').click();
  await expect(page.locator('.model-summary')).toContainText(SMOL);
  if (await page.locator('#model-batching').count()) {
    await expect(page.locator('#model-batching')).toContainText('Running: 0, waiting: 0.');
    // The server runs without --speculative.
    await expect(page.locator('#model-batching')).toContainText('Speculative decoding: off.');
  }
});

test('unload frees the model and the chat says why', async ({ page }) => {
  await openApp(page);
  await page.locator('#tab-model').click();
  await page.locator('#unload-model').click();
  await expect(page.locator('.model-summary')).toContainText('No model');
  try {
    await page.locator('#tab-chat').click();
    await setMode(page, 'instruct');
    await send(page, 'Anyone there?');
    // Said once, with what to do.
    await expect(page.locator('.chat .error')).toHaveText(
      'no model is loaded: it was unloaded; load one on the Model tab',
    );
  } finally {
    await loadModel(page, SMOL);
  }
});

test('load options: context and parallel replies, with the memory each choice takes shown first', async ({ page }) => {
  await openApp(page);
  await page.locator('#tab-model').click();
  const qwen = page.locator(`tr[data-model="${QWEN}"]`);
  // Qwen2.5 0.5B: 24 layers × 2 KV heads × 64 × 2 (K and V) × 2 bytes = 12 KB a token.
  await expect(qwen.locator('.load-estimate')).toContainText('4 × 32768 tokens');
  const before = await qwen.locator('.load-estimate').innerText();
  await page.locator('#load-ctx').fill('2048');
  await page.locator('#load-ctx').press('Tab');
  await page.locator('#load-parallel').fill('2');
  await page.locator('#load-parallel').press('Tab');
  await expect(qwen.locator('.load-estimate')).toContainText('cache: 2 × 2048 tokens');
  await expect(qwen.locator('.load-estimate')).toContainText('+ 50 MB cache');
  expect(await qwen.locator('.load-estimate').innerText()).not.toEqual(before);
  // q8_0: 34 bytes for every 32 values instead of 64.
  await page.locator('#load-cache-type').selectOption('q8_0');
  await expect(qwen.locator('.load-estimate')).toContainText('+ 27 MB cache');
  // Our kernels keep a q8_0 cache; candle's (CPUs without AVX-512 VNNI)
  // refuse it, and their panel names no CPU threads.
  const ours = (await page.locator('#model-batching').innerText()).includes('CPU threads');
  if (!ours) {
    console.log('SKIPPED the CPU threads and q8_0 checks: this CPU runs candle\'s kernels');
    await page.locator('#load-cache-type').selectOption('');
  }
  await page.locator('#load-threads').fill('1');
  await page.locator('#load-threads').press('Tab');
  // The devices this build and machine offer: the CPU at least.
  await expect(page.locator('#load-device option[value="cpu"]')).toHaveCount(1);
  await page.locator('#load-device').selectOption('cpu');
  try {
    await loadModel(page, QWEN);
    await expect(page.locator('.model-summary')).toContainText('context 2048 tokens');
    await expect(page.locator('.model-summary')).toContainText('cpu');
    await expect(page.locator('#model-batching')).toContainText('2 replies at once, each up to 2048 tokens');
    // Our kernels run on the threads asked for (candle's, on CPUs without
    // AVX-512 VNNI, choose their own and the panel shows none).
    const batching = await page.locator('#model-batching').innerText();
    if (ours) {
      expect(batching).toContain('CPU threads: 1.');
      expect(batching).toContain('KV cache type: q8_0.');
      // A greedy reply read from the q8_0 cache.
      await page.locator('#tab-chat').click();
      await setParam(page, 'temperature', '0');
      await setParam(page, 'max_new_tokens', '16');
      await setMode(page, 'instruct');
      await newChat(page);
      await send(page, 'What is the capital of France? Answer in one word.');
      await waitIdle(page);
      await expect(lastAssistant(page).locator('.content')).toContainText('Paris');
      await page.locator('#tab-model').click();
    }
    await page.locator('#load-threads').fill('300');
    await page.locator('#load-threads').press('Tab');
    await page.locator(`tr[data-model="${SMOL}"] .load-model`).click();
    await expect(page.locator('#load-refused')).toContainText('CPU threads must be 1 to 256');
    await page.locator('#load-threads').fill('0');
    await page.locator('#load-threads').press('Tab');
    // Out of range: refused with the range, the model stays.
    await page.locator('#load-parallel').fill('40');
    await page.locator('#load-parallel').press('Tab');
    await page.locator(`tr[data-model="${SMOL}"] .load-model`).click();
    await expect(page.locator('#load-refused')).toContainText('parallel replies must be 1 to 16');
    await expect(page.locator('.model-summary')).toContainText(QWEN);
  } finally {
    await page.locator('#load-ctx').fill('0');
    await page.locator('#load-ctx').press('Tab');
    await page.locator('#load-parallel').fill('0');
    await page.locator('#load-parallel').press('Tab');
    await page.locator('#load-threads').fill('0');
    await page.locator('#load-threads').press('Tab');
    await page.locator('#load-cache-type').selectOption('');
    await page.locator('#load-device').selectOption('');
    await loadModel(page, SMOL);
    await expect(page.locator('#model-batching')).toContainText('4 replies at once');
  }
});
