// Redis connections for every process, on one server (REDIS_URL) or a Redis Cluster (REDIS_CLUSTER_NODES):
// the one place that decides which, so the queue, QueueEvents, the workers, the sweeper's lock, the abuse
// limits and the live-event pub/sub all follow the same configuration.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '@it/config';

/** A connection as every caller uses it: ioredis's Redis or Cluster, which share their command methods. */
export type RedisConnection = Redis | Cluster;

/**
 * `producer`: the API's, fails fast while Redis is down (the transfer is durable in Cassandra and the sweeper
 * enqueues it). `worker`: blocks and reconnects forever, as BullMQ requires. `subscriber`: a pub/sub connection
 * (live events), reconnecting forever; sharded subscribers on a cluster.
 */
export type RedisRole = 'producer' | 'worker' | 'subscriber';

function roleOptions(role: RedisRole): RedisOptions {
  return role === 'producer'
    ? { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000 }
    : { maxRetriesPerRequest: null };
}

/** A cluster node that restarts is reconnected to (ioredis otherwise waits for a topology change to notice it). */
const reconnectNode = (times: number) => Math.min(100 * times, 2_000);

function clusterConnection(target: Extract<RedisTarget, { mode: 'cluster' }>, role: RedisRole, extra: RedisOptions): Cluster {
  const { enableOfflineQueue, ...redisOptions } = { ...roleOptions(role), ...extra };
  const options: ClusterOptions = {
    redisOptions: {
      ...redisOptions,
      ...(target.username !== undefined ? { username: target.username } : {}),
      ...(target.password !== undefined ? { password: target.password } : {}),
      ...(target.tls ? { tls: {} } : {}),
    },
    clusterNodeRetryStrategy: reconnectNode,
    // Messages on a channel go to the shard that owns its slot only (SPUBLISH/SSUBSCRIBE), not to every node.
    shardedSubscribers: role === 'subscriber',
    ...(enableOfflineQueue !== undefined ? { enableOfflineQueue } : {}),
  };
  return new Cluster(target.nodes, options);
}

export function createRedisConnection(target: string, role: RedisRole, extra?: RedisOptions): Redis;
export function createRedisConnection(target: RedisTarget | string, role: RedisRole, extra?: RedisOptions): RedisConnection;
export function createRedisConnection(target: RedisTarget | string, role: RedisRole, extra: RedisOptions = {}): RedisConnection {
  if (typeof target !== 'string' && target.mode === 'cluster') return clusterConnection(target, role, extra);
  return new Redis(typeof target === 'string' ? target : target.url, { ...roleOptions(role), ...extra });
}

export function isCluster(connection: RedisConnection): connection is Cluster {
  return connection instanceof Cluster;
}

/** Each node that holds data: the server itself, or every master of a cluster (known once it is ready). */
export async function dataNodes(connection: RedisConnection): Promise<Redis[]> {
  if (!isCluster(connection)) return [connection];
  if (connection.status !== 'ready') {
    // The masters are known once the cluster's slots were read: wait for that (or fail on close).
    await new Promise<void>((resolve, reject) => {
      const ready = () => {
        connection.off('end', end);
        resolve();
      };
      const end = () => {
        connection.off('ready', ready);
        reject(new Error('redis cluster connection ended'));
      };
      connection.once('ready', ready);
      connection.once('end', end);
    });
  }
  return connection.nodes('master');
}

/** Publishes on `channel`: sharded on a cluster (the shard owning the channel's slot), plain on one server. */
export function publishMessage(connection: Pick<RedisConnection, 'publish'>, channel: string, message: string): Promise<unknown> {
  return connection instanceof Cluster ? connection.spublish(channel, message) : connection.publish(channel, message);
}

/** The subscribing side of publishMessage, on a connection used for nothing else. */
export interface ChannelSubscriber {
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  onMessage(listener: (channel: string, message: string) => void): void;
}

export function channelSubscriber(connection: RedisConnection): ChannelSubscriber {
  if (isCluster(connection)) {
    return {
      subscribe: (channel) => connection.ssubscribe(channel),
      unsubscribe: (channel) => connection.sunsubscribe(channel),
      onMessage: (listener) => void connection.on('smessage', listener),
    };
  }
  return {
    subscribe: (channel) => connection.subscribe(channel),
    unsubscribe: (channel) => connection.unsubscribe(channel),
    onMessage: (listener) => void connection.on('message', listener),
  };
}

/**
 * Deletes every key of a queue prefix (jobs, events, schedulers, metadata) and nothing else; returns how many.
 * What losing the queue means to one deployment, without touching anything else on the same Redis. On a
 * cluster every master is scanned, and each key deleted on its own node (keys of different slots cannot
 * share a command).
 */
export async function deleteQueueKeys(redis: RedisConnection, prefix: string): Promise<number> {
  // Glob-escape the prefix: only the keys that really start with it match.
  const match = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let deleted = 0;
  for (const node of await dataNodes(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      if (keys.length) {
        for (const [err, removed] of (await keys.reduce((p, k) => p.unlink(k), node.pipeline()).exec()) ?? []) {
          if (err) throw err;
          deleted += Number(removed);
        }
      }
      cursor = next;
    } while (cursor !== '0');
  }
  return deleted;
}
