// `npx tsx apps/ledgers/src/main.ts`: the reference Funding (two-phase) and Trading (single-phase) ledgers.
// The process lifecycle (signals, graceful close, configuration errors) is @it/runtime's runProcess.
import { loadLedgerConfig } from '@it/config';
import { runProcess } from '@it/runtime';
import { loadLedgerExtras } from './config.ts';
import { startLedgers } from './server.ts';

runProcess('ledgers', async (logger) => {
  const config = loadLedgerConfig();
  const { assets, latencyJitterMs } = loadLedgerExtras();
  return startLedgers(config, { logger, assets, latencyJitterMs });
});
