// A real Prometheus against the running product (ledgers, a worker, the API as separate processes): every
// target is up, every alert rule and every dashboard query evaluates without error and returns the series it
// should after real traffic (committed, failed, rolled back, unknown outcomes, client errors), and an injected
// anomaly (Funding refuses to commit a freeze that was rolled back behind the worker's back) drives
// TransferAnomaly to pending/firing while the other alerts stay quiet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_OPS_PASSWORD } from '@it/config';
import { eventually } from '../support/processes.ts';
import { newUserId, Product, SERVICE_TOKEN, tokenFor } from '../support/product.ts';
import { dashboardQueries, Prometheus, shippedAlerts, type Sample } from '../support/prometheus.ts';

// Sweeps every second; a slow first retry, so the window of injected 503s yields one or two unknown outcomes;
// calls wait 10 s, so the slow deposit of the anomaly test is answered, not timed out.
const product = new Product({ basePort: 18480, workerEnv: { SWEEPER_CRON: '* * * * * *', BACKOFF_BASE_MS: '1000', BACKOFF_MAX_MS: '2000', ADAPTER_TIMEOUT_MS: '10000' } });
let prometheus: Prometheus;
const user = newUserId();
const OPS_USER = 'ops';
const token = tokenFor(user);

const values = (samples: Sample[]) => samples.map((s) => Number(s.value[1]));
const byLabel = (samples: Sample[], label: string): Record<string, number> =>
  Object.fromEntries(samples.map((s) => [s.metric[label] ?? '', Number(s.value[1])]));

beforeAll(async () => {
  await product.start();
  const host = (url: string) => new URL(url).host;
  prometheus = await Prometheus.start({
    api: [host(product.opsUrl)],
    worker: product.workers.map((w) => `127.0.0.1:${w.metricsPort}`),
    ledgers: [host(product.ledgerUrl.funding), host(product.ledgerUrl.trading)],
  });
  await product.credit('funding', user, 1, 1_000_000n);
  await product.credit('trading', user, 1, 1_000_000n);
});

afterAll(async () => {
  await prometheus?.stop();
  await product.stop();
});

const move = (body: Partial<Record<string, unknown>> = {}) =>
  product.transfer({ from: 'funding', to: 'trading', user_id: user, asset_id: 1, amount: '100', ...body }, { token });

describe('a real Prometheus scraping the product', () => {
  it('scrapes every process: API ops listener, worker, both ledgers', async () => {
    const targets = await eventually('every target scraped and up', async () => {
      const t = await prometheus.targets();
      return t.length === 4 && t.every((x) => x.health === 'up') && t;
    }, 30_000);
    expect(targets.map((t) => t.labels.component).sort()).toEqual(['api', 'ledgers', 'ledgers', 'worker']);
    expect(targets.every((t) => t.labels.job === 'internal-transfer')).toBe(true);
    // One build_info per process registry: the API, the worker, each ledger.
    expect(byLabel(await prometheus.query('count by (app) (internal_transfer_build_info)'), 'app')).toEqual({ api: 1, worker: 1, ledgers: 2 });
  });

  it('after real traffic, every alert rule evaluates cleanly, its signal has the series it should, and nothing fires', async () => {
    // Committed (×3), failed (insufficient funds), rolled back (Trading refuses the deposit), and unknown
    // outcomes (Trading answers 503 for a while), plus client errors and reads.
    // A series is born at its first event, which rate() cannot see: the first transfer is scraped on its own
    // first, so the ratios below have a moving denominator (as on any replica that has run a while).
    expect((await move()).body.status).toBe('committed');
    await eventually('the first transfer scraped', async () =>
      values(await prometheus.query('sum(internal_transfer_http_request_duration_seconds_count{route="/api/v1/transfer",status="200"})'))[0] === 1);
    for (let i = 0; i < 2; i++) expect((await move()).body.status).toBe('committed');
    expect((await move({ amount: '999999999' })).body).toMatchObject({ status: 'failed', message: 'insufficient_funds' });
    await product.setFaults('trading', { refuse_rate: 1 });
    expect((await move()).body.status).toBe('rolled_back');
    await product.setFaults('trading', { error_rate: 1 });
    const late = await move();
    await eventually('an unknown outcome from trading', async () =>
      (await product.workerCounter('internal_transfer_adapter_pending_total', { service: 'trading', reason: 'server_error' })) >= 1);
    await product.setFaults('trading', {});
    await eventually('the transfer after the 503s', async () => (await product.getTransfer(late.body.req_id, token)).body.state === 'committed');
    expect((await move({ amount: 'ten' })).status).toBe(400);
    expect((await product.getTransfer(late.body.req_id, token)).status).toBe(200);
    // The money: four committed moves of 100, the rolled back and the failed one moved nothing, nothing frozen.
    expect(await product.balance('funding', user, 1)).toEqual({ available: 1_000_000n - 400n, frozen: 0n });
    expect(await product.balance('trading', user, 1)).toEqual({ available: 1_000_000n + 400n, frozen: 0n });

    // Reconciliation of that traffic against the ledgers (what the hourly CronJob does), through the ops API.
    const run = await fetch(`${product.opsUrl}/ops/v1/reconciliations`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${OPS_USER}:${DEV_OPS_PASSWORD}`).toString('base64')}` },
      body: JSON.stringify({ since: new Date(Date.now() - 3_600_000).toISOString() }),
    });
    expect(run.status).toBe(200);
    expect(await run.json()).toMatchObject({ checked: 6, mismatch_count: 0, clean: true });

    // Prometheus has scraped the worker after all of it, and evaluated the rules since.
    await eventually('the traffic scraped', async () =>
      values(await prometheus.query('sum(internal_transfer_transfers_finished_total{outcome="committed"})'))[0] === 4 &&
      values(await prometheus.query('max(internal_transfer_reconciliation_checked)'))[0] === 6, 30_000);
    const scrapedAt = Date.now();
    const rules = await eventually('every rule evaluated after the traffic was scraped', async () => {
      const r = await prometheus.alertingRules();
      return r.every((x) => Date.parse(x.lastEvaluation) > scrapedAt) && r;
    }, 30_000);

    const shipped = shippedAlerts();
    expect(rules.map((r) => r.name).sort()).toEqual(shipped.map((a) => a.alert).sort());
    for (const rule of rules) {
      expect({ rule: rule.name, health: rule.health, lastError: rule.lastError ?? '' }).toEqual({ rule: rule.name, health: 'ok', lastError: '' });
      // A healthy product after this traffic: the few unknown outcomes stay under AdapterUnknownOutcomes' floor.
      expect({ rule: rule.name, state: rule.state }).toEqual({ rule: rule.name, state: 'inactive' });
      expect(await prometheus.query(rule.query)).toEqual([]);
    }

    // Each alert's signal (its expression without the threshold) returns the series it should.
    const signals: Record<string, { query: string; check: (s: Sample[]) => void }> = {
      TransferAnomaly: {
        query: 'sum by (kind) (increase(internal_transfer_anomalies_total[10m]))',
        check: (s) => expect(byLabel(s, 'kind')).toEqual({ commit_refused: 0, rollback_refused: 0, corrupt_row: 0 }),
      },
      TransfersCorrupt: { query: 'max(internal_transfer_transfers_corrupt)', check: (s) => expect(values(s)).toEqual([0]) },
      TransfersStuck: { query: 'max(internal_transfer_transfers_stuck)', check: (s) => expect(values(s)).toEqual([0]) },
      SweeperFailing: {
        query: 'time() - max(internal_transfer_sweeper_last_success_timestamp_seconds)',
        // Sweeps every second here: the latest success is seconds old (scrape interval included).
        check: (s) => expect(values(s)[0]).toBeLessThan(10),
      },
      QueueBacklogGrowing: { query: 'max(internal_transfer_queue_jobs{state="waiting"})', check: (s) => expect(values(s)).toHaveLength(1) },
      AdapterUnknownOutcomes: {
        query: `sum by (service) (rate(internal_transfer_adapter_pending_total[5m]))
          / sum by (service) (rate(internal_transfer_adapter_call_duration_seconds_count[5m]))`,
        check: (s) => {
          const ratio = byLabel(s, 'service');
          expect(ratio.funding).toBe(0);
          expect(ratio.trading).toBeGreaterThan(0);
        },
      },
      ApiErrorRatio: {
        query: `sum(rate(internal_transfer_http_request_duration_seconds_count{app="api",route!~"/livez|/readyz",status=~"5.."}[5m]))
          / sum(rate(internal_transfer_http_request_duration_seconds_count{app="api",route!~"/livez|/readyz"}[5m]))`,
        check: (s) => expect(values(s)).toEqual([0]),
      },
      ReconciliationMismatch: { query: 'max(internal_transfer_reconciliation_mismatches)', check: (s) => expect(values(s)).toEqual([0]) },
      ReconciliationNotRunning: {
        query: 'time() - max(internal_transfer_reconciliation_last_run_timestamp_seconds)',
        check: (s) => expect(values(s)[0]).toBeLessThan(120),
      },
      SyncWaitsTimingOut: {
        query: `sum(rate(internal_transfer_sync_wait_total{result="timeout"}[10m])) / sum(rate(internal_transfer_sync_wait_total[10m]))`,
        check: (s) => expect(values(s)[0]).toBeLessThan(0.5),
      },
    };
    const flat = (q: string) => q.replace(/\s+/g, ' ').replace(/\( /g, '(').replace(/ \)/g, ')').trim();
    expect(Object.keys(signals).sort()).toEqual(shipped.map((a) => a.alert).sort());
    for (const { alert, expr } of shipped) {
      const signal = signals[alert]!;
      // The signal is the alert's own expression (or the part of it that carries the measure).
      expect(flat(expr)).toContain(flat(signal.query));
      signal.check(await prometheus.query(signal.query));
    }
  });

  it('every dashboard query evaluates and returns series; the key panels show the traffic', async () => {
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(25);
    for (const { panel, expr } of queries) {
      const result = await prometheus.query(expr).catch((err: unknown) => {
        throw new Error(`panel "${panel}": ${expr}: ${String(err)}`);
      });
      expect({ panel, expr, series: result.length > 0 }).toEqual({ panel, expr, series: true });
    }
    const q = (expr: string) => prometheus.query(expr.replaceAll('$__rate_interval', '1m'));
    expect(Object.keys(byLabel(await q('sum by (outcome) (rate(internal_transfer_transfers_finished_total[1m])) > 0'), 'outcome')).sort()).toEqual([
      'committed', 'failed', 'rolled_back',
    ]);
    expect(Object.keys(byLabel(await q('max by (state) (internal_transfer_queue_jobs)'), 'state')).sort()).toEqual([
      'active', 'completed', 'delayed', 'failed', 'waiting',
    ]);
    const statuses = byLabel(await q('sum by (status) (internal_transfer_http_request_duration_seconds_count{app="api",route!~"/livez|/readyz"})'), 'status');
    // The transfer held up by the 503s answered 202 pending; 500 and 503 exist at zero from each route's first request.
    expect(statuses).toEqual({ 200: expect.any(Number), 202: 1, 400: 1, 500: 0, 503: 0 });
    expect(statuses[200]).toBeGreaterThanOrEqual(7);
    const outcomes = await q('sum by (service, outcome) (increase(internal_transfer_adapter_call_duration_seconds_count[5m])) > 0');
    // Every first refusal and unknown outcome counted: adapter series exist at zero before the first call.
    expect(outcomes.map((s) => `${s.metric.service} ${s.metric.outcome}`).sort()).toEqual([
      'funding failed', 'funding success', 'trading failed', 'trading pending', 'trading success',
    ]);
    // Reads of the ledgers by route template, never by raw path.
    const ledgerRoutes = Object.keys(byLabel(await q('sum by (route) (internal_transfer_http_request_duration_seconds_count{app="ledgers"})'), 'route'));
    expect(ledgerRoutes).toContain('/v1/balances/:user_id/:asset_id');
    expect(ledgerRoutes.every((r) => !/\d/.test(r.replace('/v1', '')))).toBe(true);
  });

  it('an anomaly (Funding refuses to commit a freeze rolled back behind the worker) drives TransferAnomaly to pending', async () => {
    // Trading answers slowly, so the transfer sits in target_pending with Funding's freeze held; the freeze is
    // then rolled back directly on Funding, which must refuse the commit that follows.
    // Long enough that a loaded machine still rolls the freeze back before the deposit's answer arrives.
    await product.setFaults('trading', { latency_ms: 5_000 });
    const res = await move();
    expect(res.status).toBe(202);
    const reqId = res.body.req_id;
    await eventually('the deposit in flight', async () => (await product.getTransfer(reqId, token)).body.state === 'target_pending', 10_000, 50);
    const rollback = await fetch(`${product.ledgerUrl.funding}/v1/rollback`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${SERVICE_TOKEN}` },
      body: JSON.stringify({ req_id: reqId }),
    });
    expect(rollback.status).toBe(200);
    await product.setFaults('trading', {});
    await eventually('the refused commit counted', async () =>
      (await product.workerCounter('internal_transfer_anomalies_total', { kind: 'commit_refused' })) >= 1, 20_000);

    const rule = await eventually('TransferAnomaly active', async () => {
      const r = (await prometheus.alertingRules()).find((x) => x.name === 'TransferAnomaly');
      return r && r.state !== 'inactive' && r;
    }, 30_000);
    expect(['pending', 'firing']).toContain(rule.state);
    expect(rule.alerts.map((a) => a.labels)).toEqual([expect.objectContaining({ alertname: 'TransferAnomaly', kind: 'commit_refused', severity: 'page' })]);
    // The transfer is held in finalizing, retried, never guessed past: it is not committed.
    expect((await product.getTransfer(reqId, token)).body).toMatchObject({ state: 'finalizing', error: expect.stringContaining('refused to commit') });
    // Nothing else fired on the way.
    const others = (await prometheus.alertingRules()).filter((r) => r.name !== 'TransferAnomaly' && r.state !== 'inactive');
    expect(others.map((r) => r.name)).toEqual([]);
  });
});
