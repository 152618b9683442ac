// Logger and Prometheus metrics shared by every process. One registry per process (per ledger for the
// reference ledgers); every product metric is named `internal_transfer_…` and declared here.
import { pino, type DestinationStream, type Logger } from 'pino';
import client from 'prom-client';
import pkg from '../package.json' with { type: 'json' };

export type { Logger };

/** Keys whose values never reach a log line, at any depth: credentials in headers, configs, error details. */
const SENSITIVE_KEY = /authorization|password|passwd|secret|token|api[-_]?key|cookie|credential/i;
export const REDACTED = '[redacted]';

/** A copy of `value` with every sensitive key's value replaced. Errors are left to pino's serializer. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || value instanceof Error || depth > 10) return value;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) out[key] = SENSITIVE_KEY.test(key) ? REDACTED : redactSecrets(v, depth + 1);
  return out;
}

export function createLogger(name: string, level: string = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options = {
    name,
    level,
    base: { service: name },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { log: (object: Record<string, unknown>) => redactSecrets(object) as Record<string, unknown> },
  };
  return destination ? pino(options, destination) : pino(options);
}

// ---- metrics -----------------------------------------------------------------------------------------------
// Every labelled counter is created at zero for the label values it can take, so `increase()` and `rate()` see
// the first event (prom-client creates a labelled series only at its first increment otherwise).

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** How an API request's synchronous wait ended (see docs/operations.md). */
export const SYNC_WAIT_RESULTS = ['terminal', 'timeout', 'skipped'] as const;
export type SyncWaitResult = (typeof SYNC_WAIT_RESULTS)[number];
/** Why a step threw instead of returning a result: Cassandra unreachable, a write left unsettled, or a bug. */
export const STEP_ERRORS = ['store_unavailable', 'unknown_outcome', 'unexpected'] as const;
export type StepError = (typeof STEP_ERRORS)[number];
// Label values of other packages' types, repeated so this package depends on none of them (a unit test keeps
// them equal to @it/fsm's terminal states and @it/domain's accounts).
export const TERMINAL_OUTCOMES = ['committed', 'rolled_back', 'failed'] as const;
export const TRANSFER_DIRECTIONS = [
  { source: 'funding', target: 'trading' },
  { source: 'trading', target: 'funding' },
] as const;
export const ANOMALY_KINDS = ['commit_refused', 'rollback_refused', 'corrupt_row'] as const;
export const JOB_NAMES = ['step', 'sweep'] as const;
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** Every combination of the given label values: `{a: [1, 2], b: [x]}` → `[{a: 1, b: x}, {a: 2, b: x}]`. */
export function labelCombinations<L extends string>(values: Record<L, readonly string[]>): Record<L, string>[] {
  let out: Record<string, string>[] = [{}];
  for (const [name, options] of Object.entries(values) as [L, readonly string[]][]) {
    out = out.flatMap((partial) => options.map((v) => ({ ...partial, [name]: v })));
  }
  return out;
}

/** The product's version (its packages are versioned together) and, when the image build sets it, the revision. */
function buildLabels() {
  const revision = process.env.BUILD_REVISION ?? '';
  return {
    version: pkg.version,
    // Build metadata, not configuration: shown as given when it looks like a revision, never refused.
    revision: /^[\w.+-]{1,64}$/.test(revision) ? revision : 'unknown',
    node_version: process.version,
  };
}

/** A registry with prom-client's default process metrics (standard names) and `internal_transfer_build_info`. */
function productRegistry(labels: Record<string, string>) {
  const registry = new client.Registry();
  registry.setDefaultLabels(labels);
  client.collectDefaultMetrics({ register: registry });
  new client.Gauge({
    name: 'internal_transfer_build_info',
    help: 'Always 1; the labels say which build runs',
    labelNames: ['version', 'revision', 'node_version'] as const,
    registers: [registry],
  }).set(buildLabels(), 1);
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = [], zeroes: Record<L, string>[] = []) => {
    const c = new client.Counter<L>({ name, help, labelNames, registers: [registry] });
    for (const labels of zeroes) c.inc(labels, 0);
    return c;
  };
  const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets = LATENCY_BUCKETS) =>
    new client.Histogram<L>({ name, help, labelNames, buckets, registers: [registry] });
  return { registry, counter, histogram };
}

/** Requests by method, route template (never the raw path) and status code: API and reference ledgers. */
function httpRequests(histogram: ReturnType<typeof productRegistry>['histogram']) {
  return histogram(
    'internal_transfer_http_request_duration_seconds',
    'HTTP requests by method, route template and status code',
    ['method', 'route', 'status'],
    HTTP_BUCKETS,
  );
}

/** The latest reconciliation run (npm run reconcile or the ops API), as recorded in Cassandra. */
export interface ReconciliationSnapshot {
  finishedAt: Date;
  checked: number;
  mismatches: number;
  unverified: number;
}

export interface ApiMetricsOptions {
  /** Job counts by state, read from Redis at scrape time; undefined while Redis does not answer. */
  queueJobs?: () => Promise<Partial<Record<QueueState, number>> | undefined>;
  /** The latest reconciliation, read at scrape time; undefined when none is recorded (or Cassandra does not answer). */
  lastReconciliation?: () => Promise<ReconciliationSnapshot | undefined>;
}

/**
 * Gauges read from one snapshot per scrape (the gauges are collected concurrently: one read serves them all),
 * absent, not 0, when unknown: a dashboard must not show "0 stuck" when nobody knows.
 */
function snapshotGauges<S>(registry: client.Registry, read: (() => Promise<S | undefined>) | undefined, gauges: [string, string, (s: S) => number][]) {
  let shared: { at: number; snapshot: Promise<S | undefined> } | undefined;
  const snapshot = () => {
    if (!shared || Date.now() - shared.at > 500) {
      shared = { at: Date.now(), snapshot: (read ?? (() => Promise.resolve(undefined)))().catch(() => undefined) };
    }
    return shared.snapshot;
  };
  for (const [name, help, pick] of gauges) {
    new client.Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const s = await snapshot();
        if (s) this.set(pick(s));
        else this.remove();
      },
    });
  }
}

export function createApiMetrics(opts: ApiMetricsOptions = {}) {
  const { registry, counter, histogram } = productRegistry({ app: 'api' });
  const { queueJobs } = opts;
  snapshotGauges(registry, opts.lastReconciliation, [
    ['internal_transfer_reconciliation_last_run_timestamp_seconds', 'When the latest reconciliation against the ledgers finished (Unix seconds)', (s) => s.finishedAt.getTime() / 1000],
    ['internal_transfer_reconciliation_mismatches', 'Mismatches the latest reconciliation found (0: the ledgers agree with every finished transfer checked)', (s) => s.mismatches],
    ['internal_transfer_reconciliation_unverified', 'Transfers the latest reconciliation could not verify (a ledger did not answer)', (s) => s.unverified],
    ['internal_transfer_reconciliation_checked', 'Finished transfers the latest reconciliation compared with both ledgers', (s) => s.checked],
  ]);
  new client.Gauge({
    name: 'internal_transfer_queue_jobs',
    help: 'Jobs in the transfer queue, by state, read from Redis at scrape time (every API replica reports the same queue)',
    labelNames: ['state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const counts = await queueJobs?.();
      if (counts) for (const state of QUEUE_STATES) this.set({ state }, counts[state] ?? 0);
    },
  });
  return {
    registry,
    transfersCreated: counter(
      'internal_transfer_transfers_created_total',
      'Transfers accepted by the API (a new init row; idempotent replays are not counted)',
      ['source', 'target'],
      TRANSFER_DIRECTIONS.map((d) => ({ ...d })),
    ),
    syncWait: counter(
      'internal_transfer_sync_wait_total',
      'How the synchronous wait of a new transfer ended: terminal (200), timeout (202 after the window), skipped (202 at once: window full or queue unreachable)',
      ['result'],
      labelCombinations({ result: SYNC_WAIT_RESULTS }),
    ),
    httpRequests: httpRequests(histogram),
  };
}
export type ApiMetrics = ReturnType<typeof createApiMetrics>;

/** The latest successful sweep, as every worker reports it (shared, so no replica reports a stale one). */
export interface SweepSnapshot {
  finishedAt: Date;
  active: number;
  stuck: number;
  overdue: number;
  corrupt: number;
  /** Age of the oldest active transfer at the sweep, 0 when none. */
  oldestActiveAgeSeconds: number;
}

export interface WorkerMetricsOptions {
  /** The latest successful sweep, read at scrape time; undefined when none is known (or Redis does not answer). */
  sweepSnapshot?: () => Promise<SweepSnapshot | undefined>;
}

export function createWorkerMetrics(opts: WorkerMetricsOptions = {}) {
  const { registry, counter, histogram } = productRegistry({ app: 'worker' });
  snapshotGauges(registry, opts.sweepSnapshot, [
    ['internal_transfer_sweeper_last_success_timestamp_seconds', 'When the latest successful sweep finished (Unix seconds)', (s) => s.finishedAt.getTime() / 1000],
    ['internal_transfer_transfers_active', 'Non-terminal transfers at the latest sweep', (s) => s.active],
    ['internal_transfer_transfers_stuck', 'Non-terminal transfers older than STUCK_AFTER_MS at the latest sweep', (s) => s.stuck],
    ['internal_transfer_transfers_overdue', 'Active transfers whose next attempt was overdue at the latest sweep', (s) => s.overdue],
    ['internal_transfer_transfers_corrupt', 'Transfer rows this version cannot read, at the latest sweep', (s) => s.corrupt],
    ['internal_transfer_oldest_active_transfer_age_seconds', 'Age of the oldest non-terminal transfer at the latest sweep (0 when none)', (s) => s.oldestActiveAgeSeconds],
  ]);

  return {
    registry,
    transfersFinished: counter(
      'internal_transfer_transfers_finished_total',
      'Transfers that reached a terminal state, by outcome',
      ['outcome'],
      labelCombinations({ outcome: TERMINAL_OUTCOMES }),
    ),
    transferDuration: histogram('internal_transfer_transfer_duration_seconds', 'From creation to terminal state', ['outcome']),
    stepDuration: histogram(
      'internal_transfer_step_duration_seconds',
      'One saga step (persist intent, call, record outcome), by the state it started from and its result',
      ['from_state', 'result'],
    ),
    stepErrors: counter(
      'internal_transfer_step_errors_total',
      'Steps that threw instead of deciding (Cassandra unreachable, a write left unsettled, a bug): retried later',
      ['error'],
      labelCombinations({ error: STEP_ERRORS }),
    ),
    adapterCalls: histogram(
      'internal_transfer_adapter_call_duration_seconds',
      'Calls to Funding and Trading, by service, operation and outcome',
      ['service', 'operation', 'outcome'],
    ),
    adapterPending: counter(
      'internal_transfer_adapter_pending_total',
      'Calls whose outcome is unknown, by service and cause (timeout, connection_error, server_error, bad_reply, in_flight, adapter_error, unspecified)',
      ['service', 'reason'],
    ),
    anomalies: counter(
      'internal_transfer_anomalies_total',
      'Answers that should never happen (a refused commit or rollback, a corrupt row)',
      ['kind'],
      labelCombinations({ kind: ANOMALY_KINDS }),
    ),
    casConflicts: counter(
      'internal_transfer_cas_conflicts_total',
      'Compare-and-set races lost to another worker (normal under duplicate delivery)',
    ),
    jobsFailed: counter('internal_transfer_jobs_failed_total', 'BullMQ jobs that failed, by job name', ['job'], labelCombinations({ job: JOB_NAMES })),
    jobsStalled: counter('internal_transfer_jobs_stalled_total', 'BullMQ jobs whose worker lost their lock (detected by this worker)'),
    queueWait: histogram(
      'internal_transfer_queue_wait_seconds',
      'From when a job became due to when a worker started it, on its first run (later runs are deliberate backoff)',
      ['job'],
    ),
    sweeperRuns: counter('internal_transfer_sweeper_runs_total', 'Sweeper passes, by result', ['result'], labelCombinations({ result: ['ok', 'error'] })),
    sweeperRecovered: counter('internal_transfer_sweeper_recovered_total', 'Overdue transfers the sweeper re-enqueued'),
    sweeperFailedPartitions: counter(
      'internal_transfer_sweeper_failed_partitions_total',
      'Active-index partitions a sweep could not read (skipped, retried by the next sweep)',
    ),
  };
}
export type WorkerMetrics = ReturnType<typeof createWorkerMetrics>;

/** One reference ledger's registry (each ledger listens on its own port and is scraped on it). */
export function createLedgerMetrics(ledger: string) {
  const { registry, histogram } = productRegistry({ app: 'ledgers', ledger });
  return { registry, httpRequests: httpRequests(histogram) };
}
export type LedgerMetrics = ReturnType<typeof createLedgerMetrics>;
export type HttpRequestMetric = ApiMetrics['httpRequests'];
