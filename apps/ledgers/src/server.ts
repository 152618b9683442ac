// Starts the Funding and Trading reference ledgers in one process, each on its own port, over one
// Cassandra session. Tests start it in-process on port 0 and read the bound ports back.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { createCassandraClient, serialConsistency, type CassandraClient } from '@it/cassandra';
import { cassandraSettings, type LedgerConfig } from '@it/config';
import type { Account } from '@it/domain';
import { createLogger, type Logger } from '@it/observability';
import { closeServer, errorMessage, listen } from '@it/runtime';
import { createLedgerApp } from './app.ts';
import { DEFAULT_ASSETS, parseAssetSet, type AssetSet } from './assets.ts';
import { faultInjectionAllowed, refuseFaultsOutsideDevelopment } from './config.ts';
import { Faults, type FaultSettings } from './faults.ts';
import { LedgerStore } from './ledger-store.ts';

export interface StartLedgersOptions {
  fundingPort?: number;
  tradingPort?: number;
  host?: string;
  logger?: Logger;
  /** A session on the ledger keyspace to share; it is left open by close(). Default: one of our own. */
  client?: CassandraClient;
  assets?: AssetSet;
  /** Extra random latency for the env-configured faults (FAULT_LATENCY_JITTER_MS). */
  latencyJitterMs?: number;
  /** How long close() lets requests in flight finish before cutting their connections. */
  shutdownGraceMs?: number;
}

export interface RunningLedgers {
  fundingPort: number;
  tradingPort: number;
  urls: Record<Account, string>;
  faults: Record<Account, Faults>;
  store: LedgerStore;
  close(): Promise<void>;
}

/** Fails start-up with the fix when the ledger tables are missing, rather than on the first request. */
async function assertSchema(client: CassandraClient, keyspace: string): Promise<void> {
  try {
    await client.execute('SELECT req_id FROM ops LIMIT 1', [], { isIdempotent: true });
    await client.execute('SELECT req_id FROM accounts LIMIT 1', [], { isIdempotent: true });
  } catch (err) {
    throw new Error(`ledger schema missing in keyspace ${keyspace}: run \`npm run migrate\` (${errorMessage(err)})`, { cause: err });
  }
}

/** One PRNG per ledger, seeded apart, so the two ledgers' faults are reproducible but not in lockstep. */
function configuredFaults(config: LedgerConfig, latencyJitterMs: number): Record<Account, Faults> {
  const base: FaultSettings = {
    latencyMs: config.FAULT_LATENCY_MS,
    latencyJitterMs,
    errorRate: config.FAULT_ERROR_RATE,
    dropResponseRate: config.FAULT_DROP_RESPONSE_RATE,
    refuseRate: config.FAULT_REFUSE_RATE,
    seed: config.FAULT_SEED,
  };
  return { funding: new Faults(base), trading: new Faults({ ...base, seed: base.seed + 1 }) };
}

function baseUrl(scheme: 'http' | 'https', host: string, port: number): string {
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Key and certificate read once at start-up: a missing or unreadable file fails the start, naming the file. */
function tlsOptions(config: LedgerConfig): https.ServerOptions | undefined {
  if (config.LEDGER_TLS_CERT_FILE === undefined || config.LEDGER_TLS_KEY_FILE === undefined) return undefined;
  return { cert: fs.readFileSync(config.LEDGER_TLS_CERT_FILE), key: fs.readFileSync(config.LEDGER_TLS_KEY_FILE) };
}

export async function startLedgers(config: LedgerConfig, opts: StartLedgersOptions = {}): Promise<RunningLedgers> {
  refuseFaultsOutsideDevelopment(config, opts.latencyJitterMs ?? 0);
  const logger = opts.logger ?? createLogger('ledgers', config.LOG_LEVEL);
  const host = opts.host ?? config.LEDGER_HOST;
  const settings = cassandraSettings(config, config.CASSANDRA_LEDGER_KEYSPACE);
  const ownClient = !opts.client;
  const client = opts.client ?? createCassandraClient(settings);
  const servers: http.Server[] = [];
  const tls = tlsOptions(config);
  try {
    await client.connect();
    await assertSchema(client, config.CASSANDRA_LEDGER_KEYSPACE);
    const assets = opts.assets ?? parseAssetSet(DEFAULT_ASSETS);
    const store = new LedgerStore(client, { serialConsistency: serialConsistency(settings), assets });
    const faults = configuredFaults(config, opts.latencyJitterMs ?? 0);
    const serve = (ledger: Account, port: number) => {
      const app = createLedgerApp({
        ledger,
        store,
        faults: faults[ledger],
        adminToken: config.LEDGER_ADMIN_TOKEN,
        serviceToken: config.LEDGER_SERVICE_TOKEN,
        faultInjection: faultInjectionAllowed(config.NODE_ENV),
        logger: logger.child({ ledger }),
      });
      const server = tls ? https.createServer(tls, app) : http.createServer(app);
      servers.push(server);
      return listen(server, port, host);
    };
    const fundingPort = await serve('funding', opts.fundingPort ?? config.FUNDING_PORT);
    const tradingPort = await serve('trading', opts.tradingPort ?? config.TRADING_PORT);
    const urls: Record<Account, string> = {
      funding: baseUrl(tls ? 'https' : 'http', host, fundingPort),
      trading: baseUrl(tls ? 'https' : 'http', host, tradingPort),
    };
    for (const [ledger, url] of Object.entries(urls) as [Account, string][]) {
      const f = faults[ledger];
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
          logger.info('ledgers stopped');
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
