// Starts the Funding and Trading reference ledgers in one process, each on its own port, over one
// Cassandra session. Tests start it in-process on port 0 and read the bound ports back.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type cassandra from 'cassandra-driver';
import { pino, type Logger } from 'pino';
import type { LedgerConfig } from '@it/config';
import { createCassandraClient, serialConsistency } from '@it/store';
import { createLedgerApp } from './app.ts';
import { DEFAULT_ASSETS, parseAssetSet, type AssetSet } from './assets.ts';
import { Faults, type FaultSettings } from './faults.ts';
import { LedgerStore, type LedgerName } from './ledger-store.ts';

export interface StartLedgersOptions {
  fundingPort?: number;
  tradingPort?: number;
  host?: string;
  logger?: Logger;
  /** A session on the ledger keyspace to share; it is left open by close(). Default: one of our own. */
  client?: cassandra.Client;
  assets?: AssetSet;
  /** Extra random latency for the env-configured faults (FAULT_LATENCY_JITTER_MS). */
  latencyJitterMs?: number;
  /** How long close() lets requests in flight finish before cutting their connections. */
  shutdownGraceMs?: number;
}

export interface RunningLedgers {
  fundingPort: number;
  tradingPort: number;
  urls: Record<LedgerName, string>;
  faults: Record<LedgerName, Faults>;
  store: LedgerStore;
  close(): Promise<void>;
}

export async function startLedgers(config: LedgerConfig, opts: StartLedgersOptions = {}): Promise<RunningLedgers> {
  const logger = opts.logger ?? pino({ level: config.LOG_LEVEL, base: { service: 'ledgers' } });
  const host = opts.host ?? config.LEDGER_HOST;
  const ownClient = !opts.client;
  const client = opts.client ?? createCassandraClient(config, config.CASSANDRA_LEDGER_KEYSPACE);
  const servers: http.Server[] = [];
  try {
    await client.connect();
    try {
      await client.execute('SELECT req_id FROM ops LIMIT 1', [], { isIdempotent: true });
      await client.execute('SELECT req_id FROM accounts LIMIT 1', [], { isIdempotent: true });
    } catch (err) {
      throw new Error(
        `ledger schema missing in keyspace ${config.CASSANDRA_LEDGER_KEYSPACE}: run \`npm run migrate\` (${(err as Error).message})`,
        { cause: err },
      );
    }
    const assets = opts.assets ?? parseAssetSet(DEFAULT_ASSETS);
    const store = new LedgerStore(client, { serialConsistency: serialConsistency(config), assets });
    const base: FaultSettings = {
      latencyMs: config.FAULT_LATENCY_MS,
      latencyJitterMs: opts.latencyJitterMs ?? 0,
      errorRate: config.FAULT_ERROR_RATE,
      dropResponseRate: config.FAULT_DROP_RESPONSE_RATE,
      refuseRate: config.FAULT_REFUSE_RATE,
      seed: config.FAULT_SEED,
    };
    // One PRNG per ledger, seeded apart, so the two ledgers' faults are reproducible but not in lockstep.
    const faults: Record<LedgerName, Faults> = {
      funding: new Faults(base),
      trading: new Faults({ ...base, seed: base.seed + 1 }),
    };
    const listen = async (ledger: LedgerName, port: number) => {
      const app = createLedgerApp({
        ledger,
        store,
        faults: faults[ledger],
        adminToken: config.LEDGER_ADMIN_TOKEN,
        logger: logger.child({ ledger }),
      });
      const server = http.createServer(app);
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return (server.address() as AddressInfo).port;
    };
    const fundingPort = await listen('funding', opts.fundingPort ?? config.FUNDING_PORT);
    const tradingPort = await listen('trading', opts.tradingPort ?? config.TRADING_PORT);
    const urlHost = host.includes(':') ? `[${host}]` : host;
    const urls = { funding: `http://${urlHost}:${fundingPort}`, trading: `http://${urlHost}:${tradingPort}` };
    for (const [ledger, url] of Object.entries(urls)) {
      const f = faults[ledger as LedgerName];
      logger.info({ ledger, url, faults: f.active ? f.get() : 'off', assets: assets.spec }, 'ledger listening');
    }

    let closing: Promise<void> | undefined;
    return {
      fundingPort,
      tradingPort,
      urls,
      faults,
      store,
      close() {
        closing ??= (async () => {
          await Promise.all(servers.map((s) => closeServer(s, opts.shutdownGraceMs ?? 5_000)));
          if (ownClient) await client.shutdown();
        })();
        return closing;
      },
    };
  } catch (err) {
    await Promise.all(servers.map((s) => closeServer(s, 0)));
    if (ownClient) await client.shutdown().catch(() => undefined);
    throw err;
  }
}

/** Stops accepting, lets requests in flight finish for up to graceMs, then cuts what is left. */
function closeServer(server: http.Server, graceMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
