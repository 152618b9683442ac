// The Redis layer on a real 3-master Redis Cluster (the stack's, `npm run stack:up -- --redis-cluster`; started
// here when not up and stopped again): BullMQ's queue, worker and QueueEvents on one hash-tagged slot, sharded
// pub/sub reaching a subscriber whichever master owns the channel, and deleteQueueKeys across the masters.
import { randomUUID } from 'node:crypto';
import { QueueEvents, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBaseConfig, redisTarget, type RedisTarget } from '@it/config';
import { redisClusterDown, redisClusterNodes, redisClusterUp } from '../../../scripts/stack.mjs';
import {
  channelSubscriber, createRedisConnection, createTransferQueue, dataNodes, deleteQueueKeys, enqueueTransfer, isCluster, publishMessage,
  TRANSFER_QUEUE, type RedisConnection,
} from '../src/index.ts';

let startedHere = false;
let target: RedisTarget;
const open: RedisConnection[] = [];
const connect = (role: 'producer' | 'worker' | 'subscriber') => {
  const c = createRedisConnection(target, role);
  open.push(c);
  return c;
};

beforeAll(async () => {
  startedHere = await redisClusterUp();
  target = redisTarget(loadBaseConfig({ NODE_ENV: 'test', REDIS_CLUSTER_NODES: redisClusterNodes() }));
}, 60_000);

afterAll(async () => {
  for (const c of open) c.disconnect();
  if (startedHere) await redisClusterDown();
});

describe('on a Redis Cluster', () => {
  it('connects as a cluster and finds its three masters', async () => {
    const c = connect('worker');
    expect(isCluster(c)).toBe(true);
    expect(await dataNodes(c)).toHaveLength(3);
  });

  it('runs BullMQ jobs on the hash-tagged prefix: add, process, completion seen by QueueEvents', async () => {
    const prefix = `{it-${randomUUID().slice(0, 8)}}`;
    const queue = createTransferQueue(connect('producer'), prefix);
    const events = new QueueEvents(TRANSFER_QUEUE, { connection: connect('worker'), prefix });
    const seen: string[] = [];
    const worker = new Worker<{ reqId: string }>(TRANSFER_QUEUE, (job) => Promise.resolve(seen.push(job.data.reqId) && 'done'), {
      connection: connect('worker'), prefix,
    });
    try {
      await events.waitUntilReady();
      const reqId = randomUUID();
      const completed = new Promise<string>((resolve) => events.on('completed', ({ jobId }) => resolve(jobId)));
      await enqueueTransfer(queue, reqId);
      expect(await completed).toBe(`transfer-${reqId}`);
      expect(seen).toEqual([reqId]);
      // Every key of the queue is on the one master that owns the prefix's slot.
      const owners = await Promise.all((await dataNodes(connect('worker'))).map(async (n) => (await n.keys(`${prefix}*`)).length));
      expect(owners.filter((n) => n > 0)).toHaveLength(1);
    } finally {
      await worker.close();
      await events.close();
      await queue.close();
    }
  });

  it('delivers sharded pub/sub messages, on channels owned by each master', async () => {
    const subscriber = channelSubscriber(connect('subscriber'));
    const got: [string, string][] = [];
    subscriber.onMessage((channel, message) => got.push([channel, message]));
    // Tags chosen so that the three channels hash to slots of three different masters.
    const channels = ['{a}:transitions:x', '{b}:transitions:x', '{c}:transitions:x'];
    for (const ch of channels) await subscriber.subscribe(ch);
    const publisher = connect('worker');
    for (const ch of channels) await publishMessage(publisher, ch, `hello ${ch}`);
    await expect.poll(() => got.length, { timeout: 5_000 }).toBe(3);
    expect(got.sort()).toEqual(channels.map((ch) => [ch, `hello ${ch}`]).sort());
    await subscriber.unsubscribe(channels[0]!);
    await publishMessage(publisher, channels[0]!, 'after');
    await publishMessage(publisher, channels[1]!, 'still');
    await expect.poll(() => got.length, { timeout: 5_000 }).toBe(4);
    expect(got.at(-1)).toEqual([channels[1], 'still']);
  });

  it('deleteQueueKeys deletes the prefix\'s keys on whichever master holds them, and nothing else', async () => {
    const c = connect('worker');
    const mine = `{it-del-${randomUUID().slice(0, 8)}}`;
    const other = `{it-keep-${randomUUID().slice(0, 8)}}`;
    for (let i = 0; i < 5; i++) await c.set(`${mine}:k${i}`, '1');
    await c.set(`${other}:k`, '1');
    expect(await deleteQueueKeys(c, mine)).toBe(5);
    expect(await c.exists(`${mine}:k0`)).toBe(0);
    expect(await c.get(`${other}:k`)).toBe('1');
    await deleteQueueKeys(c, other);
  });
});
