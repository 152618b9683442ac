// Bull Board in a real browser (Debian's chromium through playwright-core) against the running product: the
// ops listener asks for Basic credentials; the transfers queue and its jobs are listed; a job that failed on a
// corrupt row shows its error; after the operator repairs the row, Retry on the page runs the transfer to its
// end (money moved once, the action logged with the operator). Screenshots land in reports/e2e/.
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Queue } from 'bullmq';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueTransfer, jobIdFor, TRANSFER_QUEUE, type RedisConnection, type TransferJobData } from '@it/queue';
import { ARTIFACTS_DIR, launchChromium } from '../support/browser.ts';
import { eventually } from '../support/processes.ts';
import { newUserId, Product, tokenFor } from '../support/product.ts';

const OPS_USER = 'operator';
const OPS_PASSWORD = 'e2e-ops-password-0123456789';
// A slow backoff: a transfer whose deposit gets an unknown outcome stays parked in `delayed` while we look.
const product = new Product({
  basePort: 18580,
  apiEnv: { OPS_USER, OPS_PASSWORD, LOG_LEVEL: 'info' },
  workerEnv: { BACKOFF_BASE_MS: '60000', BACKOFF_MAX_MS: '120000' },
});
let browser: Browser;
let operator: BrowserContext;
let redis: RedisConnection;
let queue: Queue<TransferJobData>;
const store = () => opened.store;
let opened: ReturnType<Product['openStore']>;
const board = () => `${product.opsUrl}/admin/queues`;

beforeAll(async () => {
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  [browser] = await Promise.all([launchChromium(), product.start()]);
  operator = await browser.newContext({ httpCredentials: { username: OPS_USER, password: OPS_PASSWORD } });
  opened = product.openStore();
  redis = product.connectRedis();
  queue = new Queue<TransferJobData>(TRANSFER_QUEUE, { connection: redis, prefix: product.prefix });
});

afterAll(async () => {
  await browser?.close();
  await queue?.close();
  redis?.disconnect();
  await opened?.client.shutdown();
  await product.stop();
});

/** The page renders after its API calls: look again until it shows (vitest's default gives up after 1 s). */
const poll = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: 15_000, interval: 200 });

/** The job's card on a Bull Board list page, found by the job id it shows. */
const card = (page: Page, jobId: string) => page.locator('div[class^="card-"]', { has: page.getByText(jobId, { exact: true }) });

describe('Bull Board in a browser', () => {
  it('requires Basic credentials', async () => {
    const anonymous = await browser.newContext();
    try {
      const res = await anonymous.request.get(board());
      expect(res.status()).toBe(401);
      expect(res.headers()['www-authenticate']).toBe('Basic realm="operations", charset="UTF-8"');
      const wrong = await browser.newContext({ httpCredentials: { username: OPS_USER, password: 'not-the-password' } });
      expect((await wrong.request.get(board())).status()).toBe(401);
      await wrong.close();
      // A page without credentials gets nothing of the board.
      const page = await anonymous.newPage();
      const nav = await page.goto(board()).catch((err: unknown) => err);
      expect(nav instanceof Error ? nav.message : String((nav as { status(): number } | null)?.status())).toMatch(/ERR_INVALID_AUTH_CREDENTIALS|401/);
    } finally {
      await anonymous.close();
    }
  });

  it('lists the transfers queue and its jobs; a failed job shows its error; Retry after a repair finishes the transfer', async () => {
    const user = newUserId();
    await product.credit('funding', user, 1, 1_000n);
    await product.credit('trading', user, 1, 1_000n);

    // A job parked in `delayed`: Trading answers 503 (an unknown outcome), the retry is a minute away.
    await product.setFaults('trading', { error_rate: 1 });
    const parked = await product.transfer({ from: 'funding', to: 'trading', user_id: user, asset_id: 1, amount: '10' }, { token: tokenFor(user) });
    expect(parked.status).toBe(202);
    await eventually('the parked job delayed', async () => (await queue.getJobState(jobIdFor(parked.body.req_id))) === 'delayed');

    // A job failed on a corrupt row: a state this version cannot read (as a newer version might write).
    const reqId = randomUUID();
    await store().create({
      reqId, userId: BigInt(user), assetId: 1, amount: 100n, source: 'funding', target: 'trading', nextAttemptAt: new Date(Date.now() + 600_000),
    });
    await opened.client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['half_done', reqId, 'init'], { prepare: true });
    await enqueueTransfer(queue, reqId);
    await eventually('the corrupt row’s job failed', async () => (await queue.getJobState(jobIdFor(reqId))) === 'failed');

    const page = await operator.newPage();
    await page.goto(board());
    // The overview lists the queue with its failed count.
    const overview = page.locator('div[class^="card-"]', { has: page.getByText('transfers', { exact: true }) });
    await poll(() => overview.innerText()).toMatch(/FAILED\s*1\b/i);

    // The delayed job, listed under its state.
    await page.goto(`${board()}/queue/transfers?status=delayed`);
    await poll(() => card(page, jobIdFor(parked.body.req_id)).count()).toBe(1);
    expect(await card(page, jobIdFor(parked.body.req_id)).innerText()).toContain('step');

    // The failed job with its error.
    await page.goto(`${board()}/queue/transfers?status=failed`);
    const failed = card(page, jobIdFor(reqId));
    await poll(() => failed.count()).toBe(1);
    await poll(() => failed.innerText()).toContain(`UnrecoverableError: transfer ${reqId} has unknown state "half_done"`);
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'bull-board-failed-job.png'), fullPage: true });

    // Trading answers again (the parked transfer's retry is still most of a minute away). The operator repairs
    // the row (conditionally, like every write), then retries the job from the page.
    await product.setFaults('trading', {});
    await opened.client.execute('UPDATE transfers SET state = ? WHERE req_id = ? IF state = ?', ['init', reqId, 'half_done'], { prepare: true });
    await failed.locator('button:has(svg.lucide-refresh-cw)').click();
    // Bull Board asks first.
    await poll(() => page.getByText('Are you sure that you want to retry this job?').isVisible()).toBe(true);
    await page.getByRole('button', { name: 'Confirm', exact: true }).click();
    await eventually('the retried transfer committed', async () => (await store().get(reqId))?.state === 'committed', 30_000);

    // Moved exactly once: 100 from Funding to Trading. The parked transfer holds its 10 frozen at Funding, its
    // deposit not applied (503s) until its retry.
    expect(await product.balance('funding', user, 1)).toEqual({ available: 890n, frozen: 10n });
    expect(await product.balance('trading', user, 1)).toEqual({ available: 1_100n, frozen: 0n });
    // The job left the failed list (completed jobs are removed), and the page says so after a reload.
    expect(await queue.getJobState(jobIdFor(reqId))).toBe('unknown');
    await page.reload();
    await poll(() => page.getByText(jobIdFor(reqId), { exact: true }).count()).toBe(0);
    await page.screenshot({ path: path.join(ARTIFACTS_DIR, 'bull-board-after-retry.png'), fullPage: true });
    expect(fs.statSync(path.join(ARTIFACTS_DIR, 'bull-board-failed-job.png')).size).toBeGreaterThan(10_000);
    // The retry was an operator action, logged with the operator and the path.
    const log = product.api.output.join('');
    expect(log).toMatch(new RegExp(`"operator":"${OPS_USER}","method":"PUT","path":"/admin/queues/api/queues/transfers/${jobIdFor(reqId)}/retry"`));
    await page.close();
  });
});
