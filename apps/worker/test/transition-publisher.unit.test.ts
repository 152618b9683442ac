// The worker's announcements for live event streams: every applied compare-and-set, and only those, is
// published on the transfer's channel; a Redis that is not connected is skipped (the write is durable, the
// streams resync from Cassandra); the wrapped store is otherwise the store itself.
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@it/observability';
import { decodeTransition } from '@it/queue';
import type { CasResult, CompareAndSet, TransferRecord } from '@it/store';
import type { CoordinatorStore } from '../src/coordinator.ts';
import { createTransitionPublisher, publishingStore } from '../src/transition-publisher.ts';

const REQ_ID = '2f1c6c0e-6f5e-4b7c-9a43-3a4c2b1d0e9f';
const row = (state: TransferRecord['state'], version: number) =>
  ({ reqId: REQ_ID, state, version, error: null, attempt: 0, updatedAt: new Date('2026-01-02T03:04:05.000Z') }) as TransferRecord;

class ScriptedStore implements CoordinatorStore {
  constructor(private readonly results: CasResult[]) {}
  readonly reads: string[] = [];
  get(reqId: string) {
    this.reads.push(reqId);
    return Promise.resolve(row('init', 1));
  }
  compareAndSet(_req: CompareAndSet) {
    return Promise.resolve(this.results.shift()!);
  }
  /** A member the coordinator's type does not list: still reachable, with its own `this`. */
  extra() {
    return this.reads.length;
  }
}

describe('publishingStore', () => {
  it('announces applied transitions only, and returns the store\'s answers unchanged', async () => {
    const applied: CasResult = { applied: true, record: row('source_pending', 2) };
    const lost: CasResult = { applied: false, current: row('source_pending', 2) };
    const store = new ScriptedStore([applied, lost]);
    const published: TransferRecord[] = [];
    const wrapped = publishingStore(store, (r) => published.push(r));
    const req = { from: row('init', 1), to: 'source_pending', error: null, attempt: 0, nextAttemptAt: null } as const;
    expect(await wrapped.compareAndSet(req)).toBe(applied);
    expect(await wrapped.compareAndSet(req)).toBe(lost);
    expect(published).toEqual([applied.record]);
    expect(await wrapped.get(REQ_ID)).toEqual(row('init', 1));
    expect(wrapped.extra()).toBe(1);
  });
});

describe('createTransitionPublisher', () => {
  const fakeRedis = (status: string) => {
    const sent: [string, string][] = [];
    const redis = { status, publish: (channel: string, message: string) => (sent.push([channel, message]), Promise.resolve(1)) };
    return { redis: redis as unknown as Redis, sent };
  };
  const logger = createLogger('test', 'silent');

  it('publishes the transition on the transfer\'s channel', () => {
    const { redis, sent } = fakeRedis('ready');
    createTransitionPublisher(redis, '{p}', logger)(row('committed', 7));
    expect(sent).toHaveLength(1);
    expect(sent[0]![0]).toBe(`{p}:transitions:${REQ_ID}`);
    expect(decodeTransition(sent[0]![1])).toEqual({ reqId: REQ_ID, state: 'committed', version: 7, error: null, attempt: 0, updatedAt: new Date('2026-01-02T03:04:05.000Z') });
  });

  it('skips a connection that is not ready rather than queueing behind it', () => {
    const { redis, sent } = fakeRedis('reconnecting');
    createTransitionPublisher(redis, '{p}', logger)(row('committed', 7));
    expect(sent).toEqual([]);
  });
});
