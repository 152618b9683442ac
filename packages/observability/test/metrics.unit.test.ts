// The metrics every process exports: one prefix for the product's own, counters at zero for every label value
// they can take (so increase() sees the first event), sweep and queue gauges absent rather than a made-up 0.
import { describe, expect, it } from 'vitest';
import { ACCOUNTS } from '@it/domain';
import { TERMINAL_STATES } from '@it/fsm';
import {
  ANOMALY_KINDS,
  createApiMetrics,
  createLedgerMetrics,
  createWorkerMetrics,
  labelCombinations,
  STEP_ERRORS,
  SYNC_WAIT_RESULTS,
  TERMINAL_OUTCOMES,
  TRANSFER_DIRECTIONS,
} from '../src/index.ts';

/** Metric families of an exposition text (from its `# TYPE` lines). */
const families = (text: string) => [...text.matchAll(/^# TYPE (\S+) \S+$/gm)].map((m) => m[1]!);
/** prom-client's default process metrics keep their standard names. */
const DEFAULT_METRIC = /^(process_|nodejs_)/;

describe('names', () => {
  it.each([
    ['api', () => createApiMetrics().registry],
    ['worker', () => createWorkerMetrics().registry],
    ['ledger', () => createLedgerMetrics('funding').registry],
  ])('every %s metric is internal_transfer_… or a prom-client default', async (_name, registry) => {
    const names = families(await registry().metrics());
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((n) => !n.startsWith('internal_transfer_') && !DEFAULT_METRIC.test(n))).toEqual([]);
    expect(names).toContain('internal_transfer_build_info');
    expect(names).toContain('process_cpu_seconds_total');
  });

  it('build info says the version and Node, with the app as a label', async () => {
    const text = await createWorkerMetrics().registry.metrics();
    expect(text).toMatch(/^internal_transfer_build_info\{version="1\.0\.0",revision="[^"]+",node_version="v24\.[\d.]+",app="worker"\} 1$/m);
  });

  it('the label values repeated here are the other packages’ own', () => {
    expect([...TERMINAL_OUTCOMES]).toEqual([...TERMINAL_STATES]);
    expect(TRANSFER_DIRECTIONS.map((d) => [d.source, d.target])).toEqual(
      ACCOUNTS.flatMap((s) => ACCOUNTS.filter((t) => t !== s).map((t) => [s, t])),
    );
  });
});

describe('counters start at zero for their known label values', () => {
  it('api: created by direction, sync wait by result', async () => {
    const text = await createApiMetrics().registry.metrics();
    for (const { source, target } of TRANSFER_DIRECTIONS) {
      expect(text).toContain(`internal_transfer_transfers_created_total{source="${source}",target="${target}",app="api"} 0`);
    }
    for (const result of SYNC_WAIT_RESULTS) expect(text).toContain(`internal_transfer_sync_wait_total{result="${result}",app="api"} 0`);
  });

  it('worker: finished by outcome, anomalies, step errors, sweeper runs, failed jobs; unlabelled ones too', async () => {
    const text = await createWorkerMetrics().registry.metrics();
    const zeroes = [
      ...TERMINAL_OUTCOMES.map((o) => `internal_transfer_transfers_finished_total{outcome="${o}",app="worker"} 0`),
      ...ANOMALY_KINDS.map((k) => `internal_transfer_anomalies_total{kind="${k}",app="worker"} 0`),
      ...STEP_ERRORS.map((e) => `internal_transfer_step_errors_total{error="${e}",app="worker"} 0`),
      'internal_transfer_sweeper_runs_total{result="ok",app="worker"} 0',
      'internal_transfer_sweeper_runs_total{result="error",app="worker"} 0',
      'internal_transfer_jobs_failed_total{job="step",app="worker"} 0',
      'internal_transfer_jobs_failed_total{job="sweep",app="worker"} 0',
      'internal_transfer_jobs_stalled_total{app="worker"} 0',
      'internal_transfer_cas_conflicts_total{app="worker"} 0',
    ];
    for (const line of zeroes) expect(text).toContain(line);
  });

  it('labelCombinations is the cartesian product', () => {
    expect(labelCombinations({ a: ['1', '2'], b: ['x', 'y'] })).toEqual([
      { a: '1', b: 'x' }, { a: '1', b: 'y' }, { a: '2', b: 'x' }, { a: '2', b: 'y' },
    ]);
  });
});

describe('gauges read at scrape time', () => {
  const SWEEP_GAUGES = [
    'internal_transfer_sweeper_last_success_timestamp_seconds',
    'internal_transfer_transfers_active',
    'internal_transfer_transfers_stuck',
    'internal_transfer_transfers_overdue',
    'internal_transfer_transfers_corrupt',
    'internal_transfer_oldest_active_transfer_age_seconds',
  ];
  const samplesOf = (text: string, name: string) => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

  it('sweep results: the shared latest sweep, one read per scrape', async () => {
    let reads = 0;
    const metrics = createWorkerMetrics({
      sweepSnapshot: () => {
        reads++;
        return Promise.resolve({ finishedAt: new Date(1_700_000_000_500), active: 7, stuck: 2, overdue: 3, corrupt: 1, oldestActiveAgeSeconds: 421.5 });
      },
    });
    const text = await metrics.registry.metrics();
    expect(SWEEP_GAUGES.map((n) => samplesOf(text, n))).toEqual([
      ['internal_transfer_sweeper_last_success_timestamp_seconds{app="worker"} 1700000000.5'],
      ['internal_transfer_transfers_active{app="worker"} 7'],
      ['internal_transfer_transfers_stuck{app="worker"} 2'],
      ['internal_transfer_transfers_overdue{app="worker"} 3'],
      ['internal_transfer_transfers_corrupt{app="worker"} 1'],
      ['internal_transfer_oldest_active_transfer_age_seconds{app="worker"} 421.5'],
    ]);
    expect(reads).toBe(1);
  });

  it('no known sweep (none yet, Redis down, the read failed): absent, not zero', async () => {
    for (const read of [() => Promise.resolve(undefined), () => Promise.reject(new Error('redis down'))]) {
      const text = await createWorkerMetrics({ sweepSnapshot: read }).registry.metrics();
      for (const name of SWEEP_GAUGES) {
        expect(text).toContain(`# TYPE ${name} gauge`);
        expect(samplesOf(text, name)).toEqual([]);
      }
    }
  });

  it('queue jobs by state; absent while Redis does not answer', async () => {
    let counts: Record<string, number> | undefined = { waiting: 4, active: 1, delayed: 9 };
    const metrics = createApiMetrics({ queueJobs: () => Promise.resolve(counts) });
    expect(samplesOf(await metrics.registry.metrics(), 'internal_transfer_queue_jobs')).toEqual([
      'internal_transfer_queue_jobs{state="waiting",app="api"} 4',
      'internal_transfer_queue_jobs{state="active",app="api"} 1',
      'internal_transfer_queue_jobs{state="delayed",app="api"} 9',
      'internal_transfer_queue_jobs{state="failed",app="api"} 0',
      'internal_transfer_queue_jobs{state="completed",app="api"} 0',
    ]);
    counts = undefined;
    expect(samplesOf(await metrics.registry.metrics(), 'internal_transfer_queue_jobs')).toEqual([]);
  });

  it('the latest reconciliation from one read; absent when none is recorded or Cassandra does not answer', async () => {
    const names = ['last_run_timestamp_seconds', 'mismatches', 'unverified', 'checked'].map((n) => `internal_transfer_reconciliation_${n}`);
    let reads = 0;
    const metrics = createApiMetrics({
      lastReconciliation: () => {
        reads++;
        return Promise.resolve({ finishedAt: new Date(1_700_000_000_000), checked: 120, mismatches: 2, unverified: 1 });
      },
    });
    const exposition = await metrics.registry.metrics();
    expect(names.map((n) => samplesOf(exposition, n))).toEqual([
      ['internal_transfer_reconciliation_last_run_timestamp_seconds{app="api"} 1700000000'],
      ['internal_transfer_reconciliation_mismatches{app="api"} 2'],
      ['internal_transfer_reconciliation_unverified{app="api"} 1'],
      ['internal_transfer_reconciliation_checked{app="api"} 120'],
    ]);
    expect(reads).toBe(1);
    for (const read of [() => Promise.resolve(undefined), () => Promise.reject(new Error('cassandra down'))]) {
      const t = await createApiMetrics({ lastReconciliation: read }).registry.metrics();
      for (const name of names) expect(samplesOf(t, name)).toEqual([]);
    }
  });
});
