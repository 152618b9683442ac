// A step that throws (Cassandra unreachable, a write left unsettled, a bug) decides nothing: the job is parked
// for later and the failure is counted by kind, so the path that used to record nothing shows on a dashboard.
import { DelayedError, type Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError, UnknownOutcomeError } from '@it/cassandra';
import { createLogger, createWorkerMetrics } from '@it/observability';
import type { TransferJobData } from '@it/queue';
import type { Coordinator } from '../src/coordinator.ts';
import { createStepProcessor } from '../src/step-processor.ts';

const logger = createLogger('step-errors-test', 'silent');

describe('step errors', () => {
  it.each([
    ['store_unavailable', new StoreUnavailableError('no host available')],
    ['unknown_outcome', new UnknownOutcomeError('write timed out, SERIAL read failed')],
    ['unexpected', new Error('coordinator bug')],
  ])('%s: counted, and the job is delayed', async (kind, error) => {
    const metrics = createWorkerMetrics();
    const coordinator = { step: () => Promise.reject(error) } as unknown as Coordinator;
    const processor = createStepProcessor({ coordinator, backoff: { baseMs: 1_000, maxMs: 10_000 }, logger, metrics, closing: () => false });
    const delayedUntil: number[] = [];
    const job = {
      data: { reqId: 'r1' },
      attemptsStarted: 1,
      moveToDelayed: (at: number) => {
        delayedUntil.push(at);
        return Promise.resolve();
      },
    } as unknown as Job<TransferJobData>;
    const t0 = Date.now();
    await expect(processor(job, 'token')).rejects.toBeInstanceOf(DelayedError);
    expect(delayedUntil).toHaveLength(1);
    expect(delayedUntil[0]).toBeGreaterThan(t0);
    const values = Object.fromEntries((await metrics.stepErrors.get()).values.map((v) => [v.labels.error, v.value]));
    expect(values).toEqual({ store_unavailable: 0, unknown_outcome: 0, unexpected: 0, [kind]: 1 });
  });
});
