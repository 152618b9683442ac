// The frontend's view in a real browser (Debian's chromium through playwright-core): the example page
// (examples/web, on an origin of its own, so every call is cross-origin and goes through CORS) posts a transfer
// with the typed client and shows its states as they stream in, until `committed`; the ledgers moved exactly
// the amount. And the API's rendered docs load from the API itself, under its Content-Security-Policy.
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startExampleServer, type ExampleServer } from '../../examples/web/server.ts';
import { ARTIFACTS_DIR, launchChromium } from '../support/browser.ts';
import { newUserId, Product, tokenFor } from '../support/product.ts';

const user = newUserId();
const FUNDED = 10_000n;
// The saga's states of a funding → trading transfer, in order.
const SAGA = ['init', 'source_pending', 'source_done', 'target_pending', 'finalizing', 'committed'];
let example: ExampleServer;
let product: Product;
let browser: Browser;
let page: Page;
const problems: string[] = [];

beforeAll(async () => {
  // The page's origin must be known before the API starts (CORS_ORIGINS): the example server goes first.
  const apiUrl = `http://127.0.0.1:${18680 + Number(process.env.E2E_PORT_OFFSET ?? 0)}`;
  example = await startExampleServer({ host: '127.0.0.1', port: 0, apiUrl, token: tokenFor(user), userId: user, assetId: 1 });
  product = new Product({
    basePort: 18680,
    apiEnv: { CORS_ORIGINS: new URL(example.url).origin },
    // Every ledger call takes a while: the transfer visibly passes through its states.
    ledgerEnv: { FAULT_LATENCY_MS: '150' },
  });
  expect(product.apiUrl).toBe(apiUrl);
  [browser] = await Promise.all([launchChromium(), product.start()]);
  page = await browser.newPage();
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  page.on('pageerror', (err) => problems.push(err.message));
  await product.credit('funding', user, 1, FUNDED);
});
afterAll(async () => {
  await browser?.close();
  await example?.close();
  await product?.stop();
});

describe('the example page', () => {
  it('posts a transfer and shows its states arriving live until committed; the ledgers moved the amount', async () => {
    const before = { funding: await product.balance('funding', user, 1), trading: await product.balance('trading', user, 1) };
    await page.goto(example.url);
    await page.selectOption('select[name=from]', 'funding');
    await page.selectOption('select[name=to]', 'trading');
    await page.fill('input[name=amount]', '2500');
    await page.click('button[type=submit]');
    await page.locator('#status', { hasText: 'committed' }).waitFor({ timeout: 60_000 });
    fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'example-web-committed.png'), fullPage: true });

    const items = await page.locator('#states li').all();
    const shown = await Promise.all(items.map(async (li) => (await li.getAttribute('data-state')) ?? ''));
    // Live: several states, each once, in the saga's order, ending committed.
    expect(shown.length).toBeGreaterThanOrEqual(3);
    expect(shown.at(-1)).toBe('committed');
    expect(shown.map((s) => SAGA.indexOf(s))).toEqual([...shown].map((s) => SAGA.indexOf(s)).sort((a, b) => a - b));
    expect(new Set(shown).size).toBe(shown.length);
    expect(await page.locator('#message').textContent()).toBe('');
    expect(problems).toEqual([]);

    const reqId = (await page.locator('#req-id').textContent())!;
    const got = await product.getTransfer(reqId, tokenFor(user));
    expect(got.body).toMatchObject({ state: 'committed', amount: '2500', user_id: user });
    expect(await product.balance('funding', user, 1)).toEqual({ available: before.funding.available - 2500n, frozen: 0n });
    expect(await product.balance('trading', user, 1)).toEqual({ available: before.trading.available + 2500n, frozen: 0n });
  });

  it('shows the API\'s refusal, and nothing moves', async () => {
    const before = await product.balance('funding', user, 1);
    await page.goto(example.url);
    await page.selectOption('select[name=from]', 'trading');
    await page.selectOption('select[name=to]', 'trading');
    await page.click('button[type=submit]');
    await page.locator('#status', { hasText: 'refused' }).waitFor();
    expect(await page.locator('#message').textContent()).toBe('to must differ from from (funding → trading or trading → funding)');
    expect(await product.balance('funding', user, 1)).toEqual(before);
  });
});

describe('the API docs', () => {
  it('/api/docs renders the document from the API itself', async () => {
    const docs = await browser.newPage();
    const external: string[] = [];
    docs.on('request', (r) => !r.url().startsWith(product.apiUrl) && external.push(r.url()));
    await docs.goto(`${product.apiUrl}/api/docs`);
    await docs.locator('.swagger-ui .info .title', { hasText: 'Internal Transfer API' }).waitFor();
    await docs.locator('.opblock-summary-path', { hasText: '/api/v1/transfer/{req_id}/events' }).first().waitFor();
    await docs.screenshot({ path: path.join(ARTIFACTS_DIR, 'api-docs.png') });
    expect(external).toEqual([]);
    await docs.close();
  });
});
