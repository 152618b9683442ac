// `npm run reconcile -- --since <when> [--until <when>] [--json]`: checks every finished transfer created in the
// window against the ledgers' own records (packages/reconciliation) and prints each mismatch with its req_id,
// then a summary. Runs with a worker's configuration (Cassandra, FUNDING_URL/TRADING_URL and their tokens).
// Exit status: 0 clean, 1 mismatches, 2 no mismatch but some transfers could not be verified, 3 error.
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cassandraSettings, loadWorkerConfig } from '@it/config';
import { formatMismatch, formatSummary, httpLedgerReaders, parseInstant, reconcile, runOf, type ReconcileSummary } from '@it/reconciliation';
import { errorMessage } from '@it/runtime';
import { openTransferStore } from '@it/store';

const USAGE = 'usage: npm run reconcile -- --since <ISO time | 24h | 7d> [--until <ISO time | duration ago>] [--json] [--page-size N] [--concurrency N]';

export async function runReconcile(argv: string[], env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        since: { type: 'string' },
        until: { type: 'string' },
        json: { type: 'boolean', default: false },
        'page-size': { type: 'string' },
        concurrency: { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (err) {
    out(`${errorMessage(err)}\n${USAGE}`);
    return 3;
  }
  const now = new Date();
  const since = args.since === undefined ? undefined : parseInstant(args.since, now);
  const until = args.until === undefined ? now : parseInstant(args.until, now);
  const positive = (v: string | undefined, fallback: number) => (v === undefined ? fallback : /^[1-9]\d{0,4}$/.test(v) ? Number(v) : NaN);
  const pageSize = positive(args['page-size'], 500);
  const concurrency = positive(args.concurrency, 16);
  if (!since || !until || since >= until || Number.isNaN(pageSize) || Number.isNaN(concurrency)) {
    out(`--since and --until must be ISO times or durations (90m, 24h, 7d), since before until; --page-size and --concurrency positive integers\n${USAGE}`);
    return 3;
  }
  const config = loadWorkerConfig(env);
  const { client, store } = openTransferStore(cassandraSettings(config, config.CASSANDRA_KEYSPACE));
  const ledgers = httpLedgerReaders({
    fundingUrl: config.FUNDING_URL, tradingUrl: config.TRADING_URL,
    fundingToken: config.FUNDING_TOKEN, tradingToken: config.TRADING_TOKEN, timeoutMs: config.ADAPTER_TIMEOUT_MS,
  });
  let summary: ReconcileSummary;
  try {
    summary = await reconcile({
      since, until, store, ledgers, pageSize, concurrency,
      onMismatch: (m) => out(args.json ? JSON.stringify({ type: 'mismatch', req_id: m.reqId, state: m.state, kind: m.kind, ledger: m.ledger, detail: m.detail }) : formatMismatch(m)),
      onUnverified: (reqId, detail) => out(args.json ? JSON.stringify({ type: 'unverified', req_id: reqId, detail }) : `UNVERIFIED ${reqId}: ${detail}`),
    });
    try {
      await store.recordReconciliation(runOf(summary, `reconcile-cli ${hostname()}/${process.pid}`));
    } catch (err) {
      out(`warning: the result could not be recorded for the metrics: ${errorMessage(err)}`);
    }
  } finally {
    await Promise.all([ledgers.funding.close(), ledgers.trading.close()]);
    await client.shutdown();
  }
  out(args.json ? JSON.stringify({ type: 'summary', ...summary }) : formatSummary(summary));
  return summary.mismatches > 0 ? 1 : summary.unverified > 0 ? 2 : 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runReconcile(process.argv.slice(2), process.env, (line) => console.log(line))
    .then((code) => process.exit(code))
    .catch((err: unknown) => {
      console.error(`reconcile failed: ${errorMessage(err)}`);
      process.exit(3);
    });
}
