// `npx tsx apps/ledgers/src/main.ts`: the reference Funding (two-phase) and Trading (single-phase) ledgers.
import { pino } from 'pino';
import { loadLedgerConfig, type LedgerConfig } from '@it/config';
import { loadLedgerExtras, type LedgerExtras } from './config.ts';
import { startLedgers } from './server.ts';

let config: LedgerConfig;
let extras: LedgerExtras;
try {
  config = loadLedgerConfig();
  extras = loadLedgerExtras();
} catch (err) {
  // A configuration problem is the operator's to fix: say what, without a stack trace.
  console.error(`[ledgers] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
const logger = pino({ level: config.LOG_LEVEL, base: { service: 'ledgers' } });

process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));

const ledgers = await startLedgers(config, { logger, assets: extras.assets, latencyJitterMs: extras.latencyJitterMs }).catch(
  (err: unknown) => {
    logger.fatal({ err }, 'ledgers failed to start');
    process.exit(1);
  },
);

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing requests in flight');
    ledgers.close().then(
      () => {
        logger.info('ledgers stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'unclean shutdown');
        process.exit(1);
      },
    );
  });
}
