// A Redis of a test's own on free ports, one server or a 3-master Redis Cluster (scripts/stack.mjs starts the
// nodes, as `npm run stack:up -- --redis-cluster` does), so the test may flush, stop and restart it without
// disturbing anyone else on the machine.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { redisClusterDown, redisClusterNodes, redisClusterUp, startRedisServer, stopRedisServer } from '../../scripts/stack.mjs';
import { canListen, freePort } from './prometheus.ts';

/** A free port whose cluster-bus port (+10000, inside the 16-bit range for every port freePort picks) is free too. */
export async function freeRedisPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (await canListen(port + 10_000)) return port;
  }
}

export class OwnRedis {
  private readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-'));
  ports: number[] = [];
  private stopped = false;

  constructor(readonly mode: 'single' | 'cluster') {}

  private get layout() {
    return { dir: this.dir, ports: this.ports };
  }

  async start(): Promise<this> {
    this.ports = await Promise.all(Array.from({ length: this.mode === 'cluster' ? 3 : 1 }, freeRedisPort));
    if (this.mode === 'cluster') await redisClusterUp(this.layout);
    else await startRedisServer(this.nodeDir(this.ports[0]!), this.ports[0]!);
    return this;
  }

  /** REDIS_URL (the first node) and REDIS_CLUSTER_NODES ('' for one server) for the processes' environment. */
  get env(): { REDIS_URL: string; REDIS_CLUSTER_NODES: string } {
    return {
      REDIS_URL: `redis://127.0.0.1:${this.ports[0]}`,
      REDIS_CLUSTER_NODES: this.mode === 'cluster' ? redisClusterNodes(this.layout) : '',
    };
  }

  private nodeDir(port: number): string {
    return this.mode === 'cluster' ? path.join(this.dir, String(port)) : path.join(this.dir, 'single');
  }

  /** The node holding `key` (the server, or the master owning its slot). */
  async portOf(key: string): Promise<number> {
    if (this.mode !== 'cluster') return this.ports[0]!;
    const probe = new Redis(this.ports[0]!, '127.0.0.1', { maxRetriesPerRequest: 1 });
    try {
      const slot = Number(await probe.call('CLUSTER', 'KEYSLOT', key));
      const ranges = (await probe.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
      const owner = ranges.find(([from, to]) => slot >= from && slot <= to);
      if (!owner) throw new Error(`no redis cluster node owns slot ${slot}`);
      return owner[2][1];
    } finally {
      probe.disconnect();
    }
  }

  /** Stops the node on `port` cleanly (its AOF complete), keeps it down `downMs`, starts it again on its data. */
  async restart(port: number, downMs: number): Promise<void> {
    await stopRedisServer(port);
    await new Promise((r) => setTimeout(r, downMs));
    // Stopped meanwhile (an interrupted run): stay stopped.
    if (!this.stopped) await startRedisServer(this.nodeDir(port), port, { cluster: this.mode === 'cluster' });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.mode === 'cluster') await redisClusterDown(this.layout);
    else if (this.ports[0] !== undefined) await stopRedisServer(this.ports[0]);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
