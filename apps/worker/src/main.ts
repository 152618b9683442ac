import { ConfigError, loadWorkerConfig } from '@it/config';
import { createLogger } from '@it/observability';
import { startWorker } from './worker.ts';

const logger = createLogger('worker');
try {
  const config = loadWorkerConfig();
  const worker = await startWorker(config, { logger });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing the steps in hand');
    worker.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
} catch (err) {
  logger.fatal({ err: err instanceof ConfigError ? err.message : err }, 'worker failed to start');
  process.exit(1);
}
