// Logger and Prometheus metrics shared by every process. One registry per process.
import { pino, type Logger } from 'pino';
import client from 'prom-client';

export type { Logger };

export function createLogger(name: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { service: name }, timestamp: pino.stdTimeFunctions.isoTime });
}

export function createMetrics(app: string) {
  const registry = new client.Registry();
  registry.setDefaultLabels({ app });
  client.collectDefaultMetrics({ register: registry });
  const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
  return {
    registry,
    transfersCreated: new client.Counter({
      name: 'transfers_created_total',
      help: 'Transfers accepted by the API',
      labelNames: ['source', 'target'] as const,
      registers: [registry],
    }),
    transfersFinished: new client.Counter({
      name: 'transfers_finished_total',
      help: 'Transfers that reached a terminal state, by outcome',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    transferDuration: new client.Histogram({
      name: 'transfer_duration_seconds',
      help: 'From creation to terminal state',
      labelNames: ['outcome'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    stepDuration: new client.Histogram({
      name: 'transfer_step_duration_seconds',
      help: 'One saga step (persist intent, call, record outcome), by the state it started from and its result',
      labelNames: ['from_state', 'result'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    adapterCalls: new client.Histogram({
      name: 'adapter_call_duration_seconds',
      help: 'Calls to Funding and Trading, by service, operation and outcome',
      labelNames: ['service', 'operation', 'outcome'] as const,
      buckets: latencyBuckets,
      registers: [registry],
    }),
    anomalies: new client.Counter({
      name: 'transfer_anomalies_total',
      help: 'Answers that should never happen (a refused commit or rollback, a corrupt row)',
      labelNames: ['kind'] as const,
      registers: [registry],
    }),
    casConflicts: new client.Counter({
      name: 'transfer_cas_conflicts_total',
      help: 'Compare-and-set races lost to another worker (normal under duplicate delivery)',
      registers: [registry],
    }),
    sweeperRuns: new client.Counter({
      name: 'sweeper_runs_total',
      help: 'Sweeper passes, by result',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    sweeperRecovered: new client.Counter({
      name: 'sweeper_recovered_total',
      help: 'Overdue transfers the sweeper re-enqueued',
      registers: [registry],
    }),
    activeTransfers: new client.Gauge({
      name: 'transfers_active',
      help: 'Non-terminal transfers seen by the last sweep',
      registers: [registry],
    }),
    stuckTransfers: new client.Gauge({
      name: 'transfers_stuck',
      help: 'Non-terminal transfers older than the stuck threshold, seen by the last sweep',
      registers: [registry],
    }),
    corruptTransfers: new client.Gauge({
      name: 'transfers_corrupt',
      help: 'Transfers whose stored row this version cannot read, seen by the last sweep',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
