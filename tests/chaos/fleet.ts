// The processes a chaos run drives, all its own so it may kill, flush and restart them: a Redis (one server, or a
// 3-master Redis Cluster) on free ports in a temporary directory, the reference ledgers, N workers and M APIs
// as separate Node processes on their own keyspaces, over the shared single Cassandra node or the 3-node cluster
// (QUORUM/SERIAL; started when not up, stopped again if the run started it).
import { randomUUID } from 'node:crypto';
import { createCassandraClient, type CassandraClient } from '@it/cassandra';
import { cassandraSettings, loadBaseConfig, redisTarget, type BaseConfig } from '@it/config';
import type { Account } from '@it/domain';
import { createRedisConnection, dataNodes, type RedisConnection } from '@it/queue';
import { sleep } from '@it/runtime';
import { openTransferStore } from '@it/store';
import { cassandraDown, cassandraUp, FLEET, nodePid, startNode, waitForCql } from '../../scripts/stack.mjs';
import { migrateProduct } from '../../scripts/migrate.ts';
import { startApp, type AppProcess } from '../support/processes.ts';
import { ADMIN_TOKEN, JWT_SECRET, SERVICE_TOKEN } from '../support/product.ts';
import { freePort } from '../support/prometheus.ts';
import { OwnRedis } from '../support/redis-cluster.ts';

export type Topology = 'single' | 'cluster';

export interface FleetOptions {
  cassandra: Topology;
  redis: Topology;
  workers: number;
  apis: number;
  /** Settings for every worker / API on top of the fleet's own. */
  workerEnv?: Record<string, string>;
  apiEnv?: Record<string, string>;
  log: (line: string) => void;
}

/** One process of the fleet: what it runs with, so a killed one restarts the same. */
interface Slot {
  name: string;
  app: 'worker' | 'api';
  env: Record<string, string>;
  readyUrl: string;
  proc: AppProcess | undefined;
  /** Each killed process's /metrics, read just before the kill (a SIGKILL loses its counters otherwise). */
  pastMetrics: string[];
}

const CLUSTER_CONTACT_POINTS = [1, 2, 3].map((i) => `127.0.0.${i}:${FLEET.nativePort}`).join(',');

/**
 * SIGTERM, then SIGKILL if it has not exited after a grace: a worker finishes its jobs in hand first, which never
 * happens while Cassandra is unreachable (as Kubernetes' termination grace period would end it).
 */
async function stopProcess(proc: AppProcess, graceMs = 10_000): Promise<void> {
  const exited = proc.kill('SIGTERM');
  if ((await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)])) === false) await proc.kill('SIGKILL');
}

export class Fleet {
  readonly runId = `${Date.now().toString(36)}${randomUUID().slice(0, 4)}`;
  readonly keyspace = `chaos_${this.runId}`;
  readonly ledgerKeyspace = `chaos_ledger_${this.runId}`;
  readonly prefix = '{chaos}';
  readonly apiUrls: string[] = [];
  readonly ledgerUrl = {} as Record<Account, string>;
  private readonly redis: OwnRedis;
  private readonly slots: Slot[] = [];
  private ledgers: AppProcess | undefined;
  private ledgersStart: Promise<AppProcess> | undefined;
  private startedCassandraCluster = false;
  /** Set when stop() begins: nothing is started after it (a fault's restart racing an interrupt). */
  private stopping = false;
  /** Starts in progress: stop() waits for them, so none is left running behind it. */
  private readonly starting = new Set<Promise<void>>();
  private readonly downCassandraNodes = new Set<number>();

  constructor(readonly opts: FleetOptions) {
    this.redis = new OwnRedis(opts.redis);
  }

  /** The environment every process of the run shares: Cassandra, keyspaces, Redis, queue prefix. */
  get env(): Record<string, string> {
    const cassandra: Record<string, string> = this.opts.cassandra === 'cluster'
      ? {
        CASSANDRA_CONTACT_POINTS: CLUSTER_CONTACT_POINTS, CASSANDRA_REPLICATION: 'SimpleStrategy:3',
        CASSANDRA_CONSISTENCY: 'QUORUM', CASSANDRA_SERIAL_CONSISTENCY: 'SERIAL',
      }
      : { CASSANDRA_CONTACT_POINTS: process.env.CASSANDRA_CONTACT_POINTS ?? '127.0.0.1:9042' };
    return {
      NODE_ENV: 'test', ...cassandra, ...this.redis.env, QUEUE_PREFIX: this.prefix,
      CASSANDRA_KEYSPACE: this.keyspace, CASSANDRA_LEDGER_KEYSPACE: this.ledgerKeyspace,
    };
  }

  get config(): BaseConfig {
    return loadBaseConfig(this.env);
  }

  get workers(): number {
    return this.slots.filter((s) => s.app === 'worker').length;
  }

  get apis(): number {
    return this.apiUrls.length;
  }

  async start(): Promise<void> {
    const { log } = this.opts;
    await this.redis.start();
    log(`redis (${this.opts.redis}) on ${this.redis.ports.join(',')}`);
    if (this.opts.cassandra === 'cluster') {
      this.startedCassandraCluster = await cassandraUp(FLEET);
      await this.waitForRing();
    }
    await migrateProduct({ ...process.env, ...this.env });
    log(`keyspaces ${this.keyspace}, ${this.ledgerKeyspace} on cassandra (${this.opts.cassandra})`);

    const [funding, trading] = [await freePort(), await freePort()];
    this.ledgerUrl.funding = `http://127.0.0.1:${funding}`;
    this.ledgerUrl.trading = `http://127.0.0.1:${trading}`;
    this.ledgersStart = startApp(
      'ledgers',
      { ...this.env, FUNDING_PORT: String(funding), TRADING_PORT: String(trading), LEDGER_ADMIN_TOKEN: ADMIN_TOKEN, LEDGER_SERVICE_TOKEN: SERVICE_TOKEN },
      `${this.ledgerUrl.trading}/livez`,
      'ledgers',
    );
    this.ledgers = await this.ledgersStart;
    const ledgerAccess = {
      FUNDING_URL: this.ledgerUrl.funding, TRADING_URL: this.ledgerUrl.trading, FUNDING_TOKEN: SERVICE_TOKEN, TRADING_TOKEN: SERVICE_TOKEN,
    };
    for (let i = 0; i < this.opts.workers; i++) {
      const metrics = await freePort();
      this.slots.push({
        name: `worker-${i}`, app: 'worker', readyUrl: `http://127.0.0.1:${metrics}/readyz`, proc: undefined, pastMetrics: [],
        env: {
          ...this.env, ...ledgerAccess, METRICS_PORT: String(metrics),
          // Short backoff: a transfer parked behind an unknown outcome is retried within seconds once faults stop.
          BACKOFF_BASE_MS: '200', BACKOFF_MAX_MS: '2000', ...this.opts.workerEnv,
        },
      });
    }
    for (let i = 0; i < this.opts.apis; i++) {
      const [port, metrics] = [await freePort(), await freePort()];
      this.apiUrls.push(`http://127.0.0.1:${port}`);
      this.slots.push({
        name: `api-${i}`, app: 'api', readyUrl: `http://127.0.0.1:${port}/readyz`, proc: undefined, pastMetrics: [],
        env: {
          ...this.env, ...ledgerAccess, API_PORT: String(port), METRICS_PORT: String(metrics), AUTH_MODE: 'jwt', JWT_SECRET,
          // The load is many users at full speed: the abuse limits are not under test here.
          RATE_LIMIT_POSTS_PER_MINUTE: '100000', MAX_OPEN_TRANSFERS_PER_USER: '10000', ...this.opts.apiEnv,
        },
      });
    }
    await Promise.all(this.slots.map((s) => this.startSlot(s)));
    log(`${this.workers} workers, ${this.apis} APIs, ledgers up`);
  }

  /** CQL answers on a node before gossip has marked the others up: wait for the full ring. */
  private async waitForRing(): Promise<void> {
    const client = createCassandraClient(cassandraSettings(loadBaseConfig(this.env)));
    try {
      await client.connect();
      for (let i = 0; i < 240 && client.hosts.values().filter((h) => h.isUp()).length < 3; i++) await sleep(500);
    } finally {
      await client.shutdown();
    }
  }

  private async startSlot(slot: Slot): Promise<void> {
    if (this.stopping) throw new Error(`${slot.name} not started: the fleet is stopping`);
    const started = (async () => {
      const proc = await startApp(slot.app, slot.env, slot.readyUrl, slot.name);
      if (this.stopping) await proc.kill('SIGKILL');
      else slot.proc = proc;
    })();
    this.starting.add(started);
    try {
      await started;
    } finally {
      this.starting.delete(started);
    }
  }

  private slotsOf(app: Slot['app']): Slot[] {
    return this.slots.filter((s) => s.app === app);
  }

  /** SIGKILLs the i-th worker or API (its metrics read first); resolves once it is gone. */
  async kill(app: Slot['app'], index: number): Promise<void> {
    const slot = this.slotsOf(app)[index]!;
    const proc = slot.proc;
    if (!proc) return;
    slot.proc = undefined;
    slot.pastMetrics.push(await this.readMetrics(slot).catch(() => ''));
    await proc.kill('SIGKILL');
  }

  /** Starts the i-th worker or API again if it is not running; resolves once it is ready. */
  async restart(app: Slot['app'], index: number): Promise<void> {
    const slot = this.slotsOf(app)[index]!;
    if (!slot.proc) await this.startSlot(slot);
  }

  /** Starts every worker and API that is not running. */
  async restartAll(): Promise<void> {
    await Promise.all(this.slots.filter((s) => !s.proc).map((s) => this.startSlot(s)));
  }

  /** SIGKILLs every worker and API at once. */
  async killAll(): Promise<void> {
    await Promise.all(this.slots.map((s) => this.kill(s.app, this.slotsOf(s.app).indexOf(s))));
  }

  private async readMetrics(slot: Slot): Promise<string> {
    const port = Number(slot.env.METRICS_PORT);
    return (await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
  }

  /** The /metrics text of every worker process of the run: those running now, and the killed ones as last read. */
  async workerMetrics(): Promise<string[]> {
    const slots = this.slotsOf('worker');
    const now = await Promise.all(slots.flatMap((s) => (s.proc ? [this.readMetrics(s).catch(() => '')] : [])));
    return [...now, ...slots.flatMap((s) => s.pastMetrics)];
  }

  /** A connection to the run's Redis as the workers make it. */
  connectRedis(): RedisConnection {
    return createRedisConnection(redisTarget(this.config), 'worker');
  }

  /** FLUSHALL on the server, or on every master of the cluster: the whole queue, its scheduler, the limits. */
  async flushRedis(): Promise<void> {
    const redis = this.connectRedis();
    try {
      for (const node of await dataNodes(redis)) await node.flushall();
    } finally {
      redis.disconnect();
    }
  }

  /** Stops the Redis node holding the queue (a clean shutdown: AOF complete), keeps it down, starts it again. */
  async restartRedis(downMs: number): Promise<void> {
    await this.redis.restart(await this.redis.portOf(this.prefix), downMs);
  }

  /** SIGKILLs Cassandra node i (0-based) of the 3-node cluster. */
  killCassandraNode(i: number): void {
    const pid = nodePid(FLEET, i);
    if (pid === undefined) throw new Error(`cassandra cluster node ${i + 1} is not running`);
    process.kill(pid, 'SIGKILL');
    this.downCassandraNodes.add(i);
  }

  /** Starts Cassandra node i again and waits until it serves CQL and the others see it. */
  async restartCassandraNode(i: number): Promise<void> {
    if (this.stopping && this.startedCassandraCluster) return;
    const { nodeDir } = await startNode(FLEET, i);
    await waitForCql(`127.0.0.${i + 1}`, FLEET.nativePort, nodeDir);
    await this.waitForRing();
    this.downCassandraNodes.delete(i);
  }

  async setLedgerFaults(ledger: Account, faults: Record<string, number>): Promise<void> {
    const res = await fetch(`${this.ledgerUrl[ledger]}/v1/admin/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      body: JSON.stringify(faults),
    });
    if (!res.ok) throw new Error(`faults on ${ledger}: ${res.status} ${await res.text()}`);
  }

  /** A transfer store and a Cassandra client on the run's keyspaces (the caller shuts the client down). */
  openStore() {
    return openTransferStore(cassandraSettings(this.config, this.keyspace));
  }

  openCassandra(keyspace?: string): CassandraClient {
    return createCassandraClient(cassandraSettings(this.config, keyspace));
  }

  /** Stops everything the run started; drops its keyspaces unless `keep`. */
  async stop(keep = false): Promise<void> {
    this.stopping = true;
    await Promise.allSettled(this.starting);
    const ledgers = await this.ledgersStart?.catch(() => undefined);
    await Promise.all([...this.slots.map((s) => s.proc), ledgers].flatMap((p) => (p ? [stopProcess(p)] : [])));
    // A cluster this run did not start is left whole; one it started is stopped below anyway.
    if (!this.startedCassandraCluster) for (const i of this.downCassandraNodes) await this.restartCassandraNode(i).catch(() => undefined);
    if (!keep) {
      const client = this.openCassandra();
      try {
        // Schema changes wait for every node's agreement: slow on a busy machine.
        for (const ks of [this.keyspace, this.ledgerKeyspace]) await client.execute(`DROP KEYSPACE IF EXISTS ${ks}`, [], { readTimeout: 120_000 });
      } catch (err) {
        this.opts.log(`could not drop the run's keyspaces: ${String(err)}`);
      } finally {
        await client.shutdown();
      }
    }
    await this.redis.stop();
    if (this.startedCassandraCluster) await cassandraDown(FLEET);
  }

  /** The last lines each process wrote, for a failure report. */
  output(): string {
    const procs = [this.ledgers, ...this.slots.map((s) => s.proc)].filter((p): p is AppProcess => p !== undefined);
    return procs.map((p) => `--- ${p.name}\n${p.output.slice(-20).join('')}`).join('\n');
  }
}
