// The API's side of the transitions channel (@it/queue transitions): one Redis subscriber connection per
// process, subscribed to the channels of the transfers it has event streams open for, dispatching each
// message to those streams. The messages come from the workers through Redis, never from this process's
// memory, so a stream sees the transfer move whichever replica took its POST.
import type { Logger } from '@it/observability';
import type { RedisTarget } from '@it/config';
import {
  channelSubscriber, createRedisConnection, decodeTransition, transitionChannel, type ChannelSubscriber, type RedisConnection,
  type TransitionMessage,
} from '@it/queue';
import { throttledWarn, withDeadline } from '@it/runtime';

/** A stream does not wait longer than this for Redis to confirm its subscription: it resyncs from Cassandra. */
const SUBSCRIBE_DEADLINE_MS = 1_000;

type Listener = (message: TransitionMessage) => void;

export class TransitionHub {
  private readonly channels = new Map<string, { listeners: Set<Listener>; subscribed: Promise<unknown> }>();
  private readonly warn: (err: unknown, message: string) => void;
  private readonly channelsOf: ChannelSubscriber;

  /**
   * `subscriber` becomes a subscriber connection: it must not be used for anything else. On a Redis Cluster
   * the channels are sharded (@it/queue channelSubscriber), as the workers publish them.
   */
  constructor(
    private readonly subscriber: RedisConnection,
    private readonly prefix: string,
    logger: Logger,
  ) {
    this.warn = throttledWarn(logger);
    this.channelsOf = channelSubscriber(subscriber);
    this.channelsOf.onMessage((channel: string, text: string) => {
      const entry = this.channels.get(channel);
      if (!entry) return;
      const message = decodeTransition(text);
      if (!message || transitionChannel(this.prefix, message.reqId) !== channel) {
        this.warn(new Error(`unreadable message on ${channel}`), 'transition message ignored');
        return;
      }
      for (const listener of entry.listeners) listener(message);
    });
  }

  /**
   * Calls `listener` with every transition of `reqId` from now on; resolves once Redis confirmed the
   * subscription (or its deadline passed: the caller's resyncs cover a Redis that is away). Returns the
   * function that stops listening.
   */
  async listen(reqId: string, listener: Listener): Promise<() => void> {
    const channel = transitionChannel(this.prefix, reqId);
    let entry = this.channels.get(channel);
    if (!entry) {
      // ioredis sends commands in order: a SUBSCRIBE after a pending UNSUBSCRIBE of the same channel wins.
      entry = { listeners: new Set(), subscribed: this.channelsOf.subscribe(channel) };
      this.channels.set(channel, entry);
    }
    entry.listeners.add(listener);
    const { listeners, subscribed } = entry;
    await withDeadline(subscribed, SUBSCRIBE_DEADLINE_MS, 'subscribe').catch((err: unknown) => this.warn(err, 'transitions: not subscribed yet'));
    return () => {
      if (!listeners.delete(listener) || listeners.size > 0) return;
      this.channels.delete(channel);
      this.channelsOf.unsubscribe(channel).catch((err: unknown) => this.warn(err, 'transitions: unsubscribe failed'));
    };
  }

  /** Channels subscribed now (one per transfer with open streams in this process). */
  get size(): number {
    return this.channels.size;
  }

  close(): void {
    this.channels.clear();
    this.subscriber.disconnect();
  }
}

/** A hub on a connection of its own (a subscriber connection can do nothing else), reconnecting forever. */
export function openTransitionHub(redis: RedisTarget | string, prefix: string, logger: Logger): TransitionHub {
  const subscriber = createRedisConnection(redis, 'subscriber');
  const warn = throttledWarn(logger);
  subscriber.on('error', (err: unknown) => warn(err, 'redis transitions subscriber error'));
  return new TransitionHub(subscriber, prefix, logger);
}
