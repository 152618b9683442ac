// Every transition a worker writes is announced on the transfer's Redis channel (@it/queue transitions), so
// the API's live event streams see it on whichever replica holds them. Done around the store the coordinator
// is given, not inside the coordinator: a transition is announced exactly when its compare-and-set applied,
// and the saga's code does not know streams exist. Fire and forget: the write is already durable, and a
// stream that misses a message catches up from Cassandra at its next heartbeat.
import type { Logger } from '@it/observability';
import { encodeTransition, publishMessage, transitionChannel, type RedisConnection } from '@it/queue';
import { throttledWarn } from '@it/runtime';
import type { TransferRecord } from '@it/store';
import type { CoordinatorStore } from './coordinator.ts';

export type PublishTransition = (record: TransferRecord) => void;

export function createTransitionPublisher(redis: RedisConnection, prefix: string, logger: Logger): PublishTransition {
  const warn = throttledWarn(logger);
  return (record) => {
    // A connection that is down would queue the command until Redis returns: nobody waits for it by then.
    if (redis.status !== 'ready') return;
    const message = encodeTransition({
      reqId: record.reqId, state: record.state, version: record.version, error: record.error, attempt: record.attempt,
      updatedAt: record.updatedAt,
    });
    publishMessage(redis, transitionChannel(prefix, record.reqId), message).catch((err: unknown) => warn(err, 'transition not published'));
  };
}

/**
 * `store` with every applied compare-and-set announced through `publish`; every other member is the store's
 * own, so the wrapper keeps fitting whatever the coordinator comes to need of its store.
 */
export function publishingStore<S extends CoordinatorStore>(store: S, publish: PublishTransition): S {
  const compareAndSet: CoordinatorStore['compareAndSet'] = async (req) => {
    const result = await store.compareAndSet(req);
    if (result.applied) publish(result.record);
    return result;
  };
  return new Proxy(store, {
    get(target, property) {
      if (property === 'compareAndSet') return compareAndSet;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
