// `npm start -w @it/api` / `tsx apps/api/src/main.ts`: the public API. SIGTERM/SIGINT stop accepting,
// let requests in flight finish, close Redis and Cassandra, and exit 0.
import { ConfigError, loadApiConfig } from '@it/config';
import { createLogger } from '@it/observability';
import { startApi, type RunningApi } from './app.ts';

const logger = createLogger('api');
let api: RunningApi | undefined;
let stopping = false;

function shutdown(running: RunningApi): void {
  running.close().then(
    () => process.exit(0),
    (err: unknown) => {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
}

// Installed before start-up: a signal that arrives while starting (a rollout, a probe) still closes cleanly.
function stop(signal: string): void {
  if (stopping) {
    logger.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  stopping = true;
  logger.info({ signal }, 'shutting down');
  if (api) shutdown(api);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

try {
  const config = loadApiConfig();
  api = await startApi(config, { logger });
  if (stopping) shutdown(api);
} catch (err) {
  // A configuration problem is the operator's to fix: say what, without a stack trace.
  logger.fatal({ err: err instanceof ConfigError ? err.message : err }, 'api failed to start');
  process.exit(1);
}
