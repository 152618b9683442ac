// Logger and Prometheus metrics shared by every process. One registry per process.
import { pino, type DestinationStream, type Logger } from 'pino';
import client from 'prom-client';

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

export function createMetrics(app: string) {
  const registry = new client.Registry();
  registry.setDefaultLabels({ app });
  client.collectDefaultMetrics({ register: registry });
  const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
    new client.Counter<L>({ name, help, labelNames, registers: [registry] });
  const latency = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new client.Histogram<L>({ name, help, labelNames, buckets: latencyBuckets, registers: [registry] });
  const gauge = (name: string, help: string) => new client.Gauge({ name, help, registers: [registry] });
  return {
    registry,
    transfersCreated: counter('transfers_created_total', 'Transfers accepted by the API', ['source', 'target']),
    transfersFinished: counter('transfers_finished_total', 'Transfers that reached a terminal state, by outcome', ['outcome']),
    transferDuration: latency('transfer_duration_seconds', 'From creation to terminal state', ['outcome']),
    stepDuration: latency(
      'transfer_step_duration_seconds',
      'One saga step (persist intent, call, record outcome), by the state it started from and its result',
      ['from_state', 'result'],
    ),
    adapterCalls: latency(
      'adapter_call_duration_seconds',
      'Calls to Funding and Trading, by service, operation and outcome',
      ['service', 'operation', 'outcome'],
    ),
    anomalies: counter(
      'transfer_anomalies_total',
      'Answers that should never happen (a refused commit or rollback, a corrupt row)',
      ['kind'],
    ),
    casConflicts: counter(
      'transfer_cas_conflicts_total',
      'Compare-and-set races lost to another worker (normal under duplicate delivery)',
    ),
    sweeperRuns: counter('sweeper_runs_total', 'Sweeper passes, by result', ['result']),
    sweeperRecovered: counter('sweeper_recovered_total', 'Overdue transfers the sweeper re-enqueued'),
    sweeperFailedPartitions: counter(
      'sweeper_failed_partitions_total',
      'Active-index partitions a sweep could not read (skipped, retried by the next sweep)',
    ),
    activeTransfers: gauge('transfers_active', 'Non-terminal transfers seen by the last sweep'),
    stuckTransfers: gauge('transfers_stuck', 'Non-terminal transfers older than the stuck threshold, seen by the last sweep'),
    corruptTransfers: gauge('transfers_corrupt', 'Transfers whose stored row this version cannot read, seen by the last sweep'),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
