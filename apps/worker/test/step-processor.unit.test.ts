// Which record each step of a job run starts from: the row as the API created it on the job's first run,
// then the record the previous step's compare-and-set returned; a read (nothing known) otherwise.
import type { Job } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@it/observability';
import type { TransferJobData } from '@it/queue';
import { createdSnapshot, type TransferRecord } from '@it/store';
import type { Coordinator, StepResult } from '../src/coordinator.ts';
import { createStepProcessor } from '../src/step-processor.ts';

const REQ_ID = '2f1c6c0e-6f5e-4b7c-9a43-3a4c2b1d0e9f';
const created: TransferRecord = {
  reqId: REQ_ID, userId: 1001n, assetId: 7, amount: 250n, source: 'funding', target: 'trading', state: 'init', version: 1,
  transitionId: 'created', error: null, attempt: 0, nextAttemptAt: new Date('2026-01-02T03:04:15.000Z'),
  createdAt: new Date('2026-01-02T03:04:05.000Z'), updatedAt: new Date('2026-01-02T03:04:05.000Z'), retryRun: null, operatorRetry: null,
};
const at = (state: TransferRecord['state'], version: number): TransferRecord => ({ ...created, state, version, transitionId: `t${version}` });

/** A coordinator that answers from a script and records what each step was given. */
function scripted(results: StepResult[]) {
  const given: (TransferRecord | undefined)[] = [];
  const coordinator = {
    step: (reqId: string, known?: TransferRecord) => {
      expect(reqId).toBe(REQ_ID);
      given.push(known);
      return Promise.resolve(results.shift()!);
    },
  } as unknown as Coordinator;
  return { coordinator, given };
}

function run(coordinator: Coordinator, job: Partial<Job<TransferJobData>>) {
  const processor = createStepProcessor({
    coordinator, backoff: { baseMs: 1_000, maxMs: 10_000 }, logger: createLogger('step-processor-test', 'silent'), closing: () => false,
  });
  return processor(job as Job<TransferJobData>, 'token');
}

describe('the record each step starts from', () => {
  const saga: StepResult[] = [
    { kind: 'progressed', record: at('target_pending', 4) },
    { kind: 'progressed', record: at('finalizing', 5) },
    { kind: 'terminal', record: at('committed', 6) },
  ];

  it('a first run the API enqueued: the created row, then each applied write’s record; nothing read', async () => {
    const { coordinator, given } = scripted([...saga]);
    const data = JSON.parse(JSON.stringify({ reqId: REQ_ID, created: createdSnapshot(created) })) as TransferJobData;
    expect(await run(coordinator, { data, attemptsStarted: 1 })).toBe('committed');
    expect(given).toEqual([created, at('target_pending', 4), at('finalizing', 5)]);
  });

  it('a later run, or a job without the created row (sweeper, operator): the first step reads', async () => {
    for (const job of [
      { data: { reqId: REQ_ID, created: createdSnapshot(created)! }, attemptsStarted: 2 },
      { data: { reqId: REQ_ID }, attemptsStarted: 1 },
    ]) {
      const { coordinator, given } = scripted([...saga]);
      expect(await run(coordinator, job)).toBe('committed');
      expect(given).toEqual([undefined, at('target_pending', 4), at('finalizing', 5)]);
    }
  });
});
