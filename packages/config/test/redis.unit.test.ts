// Where every process's Redis is (issue 16): REDIS_URL, or a Redis Cluster by REDIS_CLUSTER_NODES, whose queue
// prefix must carry a hash tag.
import { describe, expect, it } from 'vitest';
import { hasHashTag, loadBaseConfig, loadWorkerConfig, redisTarget } from '../src/index.ts';

const dev = { NODE_ENV: 'test' } as const;

function problems(load: () => unknown): string[] {
  try {
    load();
  } catch (err) {
    return (err as Error).message.split('\n').slice(1).map((l) => l.trim());
  }
  throw new Error('expected a refusal');
}

describe('redisTarget', () => {
  it('is REDIS_URL when no cluster is named (an empty REDIS_CLUSTER_NODES names none)', () => {
    expect(redisTarget(loadBaseConfig(dev))).toEqual({ mode: 'single', url: 'redis://127.0.0.1:6390' });
    expect(redisTarget(loadBaseConfig({ ...dev, REDIS_URL: 'rediss://:pw@redis.internal:6380', REDIS_CLUSTER_NODES: ' ' }))).toEqual({
      mode: 'single', url: 'rediss://:pw@redis.internal:6380',
    });
  });

  it('is the cluster\'s seed nodes, host:port or URLs, with their credentials and TLS', () => {
    expect(redisTarget(loadBaseConfig({ ...dev, REDIS_CLUSTER_NODES: '127.0.0.1:7301, 127.0.0.1:7302,127.0.0.1:7303' }))).toEqual({
      mode: 'cluster',
      nodes: [{ host: '127.0.0.1', port: 7301 }, { host: '127.0.0.1', port: 7302 }, { host: '127.0.0.1', port: 7303 }],
      username: undefined, password: undefined, tls: false,
    });
    expect(redisTarget(loadBaseConfig({ ...dev, REDIS_CLUSTER_NODES: 'rediss://app:p%40ss@a.internal:6379,rediss://app:p%40ss@[::1]:6380' }))).toEqual({
      mode: 'cluster',
      nodes: [{ host: 'a.internal', port: 6379 }, { host: '::1', port: 6380 }],
      username: 'app', password: 'p@ss', tls: true,
    });
  });

  it('refuses entries that are not nodes, and nodes that disagree on credentials or TLS', () => {
    expect(problems(() => loadBaseConfig({ ...dev, REDIS_CLUSTER_NODES: 'a.internal,http://b.internal:1,c.internal:6379/2' }))).toEqual([
      'REDIS_CLUSTER_NODES: not host:port or redis[s]://[user:password@]host:port: a.internal, http://b.internal:1, c.internal:6379/2',
    ]);
    expect(problems(() => loadBaseConfig({ ...dev, REDIS_CLUSTER_NODES: 'rediss://a:6379,redis://b:6379' }))).toEqual([
      'REDIS_CLUSTER_NODES: every node must have the same scheme and credentials',
    ]);
    expect(problems(() => loadBaseConfig({ ...dev, REDIS_CLUSTER_NODES: ',,' }))).toEqual(['REDIS_CLUSTER_NODES: no node given']);
  });

  it('on a cluster, refuses a queue prefix without a hash tag (BullMQ\'s scripts need one slot)', () => {
    expect(problems(() => loadWorkerConfig({ ...dev, REDIS_CLUSTER_NODES: '127.0.0.1:7301', QUEUE_PREFIX: 'transfer' }))).toEqual([
      'QUEUE_PREFIX must contain a hash tag such as {transfer} on a Redis Cluster (is transfer)',
    ]);
    expect(loadWorkerConfig({ ...dev, REDIS_CLUSTER_NODES: '127.0.0.1:7301', QUEUE_PREFIX: 'app:{transfer}' }).QUEUE_PREFIX).toBe('app:{transfer}');
    // One server needs no tag.
    expect(loadWorkerConfig({ ...dev, QUEUE_PREFIX: 'transfer' }).QUEUE_PREFIX).toBe('transfer');
  });

  it('hasHashTag follows Redis: the first { and the next }, not empty', () => {
    expect(['{transfer}', 'a{b}c', 'x{}{y}'].map(hasHashTag)).toEqual([true, true, false]);
    expect(['transfer', '{', '}{', '{}'].map(hasHashTag)).toEqual([false, false, false, false]);
  });
});
