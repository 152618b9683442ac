// The coordinator creates its adapter series at zero for every service, operation, outcome and cause it can
// report, so a first refusal or a first unknown outcome shows in increase()/rate().
import { describe, expect, it } from 'vitest';
import { PENDING_CAUSES } from '@it/domain';
import { createLogger, createWorkerMetrics } from '@it/observability';
import { Coordinator, type Adapters, type CoordinatorStore } from '../src/coordinator.ts';

describe('coordinator metrics', () => {
  it('every adapter series exists at zero before the first call', async () => {
    const metrics = createWorkerMetrics();
    const adapter = (name: string) => ({ name }) as Adapters['funding'];
    new Coordinator({} as CoordinatorStore, { funding: adapter('funding'), trading: adapter('trading') }, {
      backoff: { baseMs: 100, maxMs: 1_000 },
      leaseMs: 1_000,
      logger: createLogger('coordinator-metrics-test', 'silent'),
      metrics,
    });
    const counts = (await metrics.adapterCalls.get()).values.filter((v) => v.metricName?.endsWith('_count'));
    expect(counts.map((v) => `${String(v.labels.service)} ${String(v.labels.operation)} ${String(v.labels.outcome)} ${v.value}`).sort()).toEqual(
      ['funding', 'trading'].flatMap((s) =>
        ['commit', 'deposit', 'rollback', 'withdraw'].flatMap((op) => ['failed', 'pending', 'success'].map((o) => `${s} ${op} ${o} 0`)),
      ),
    );
    const pending = (await metrics.adapterPending.get()).values;
    expect(pending.map((v) => `${String(v.labels.service)} ${String(v.labels.reason)} ${v.value}`).sort()).toEqual(
      ['funding', 'trading'].flatMap((s) => [...PENDING_CAUSES].sort().map((r) => `${s} ${r} 0`)),
    );
  });
});
