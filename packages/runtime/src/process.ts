// The life of a service process, the same for the API, the workers and the reference ledgers: signal
// handlers installed before start-up, a configuration problem reported without a stack trace, one graceful
// close on SIGTERM/SIGINT (a second signal exits at once), exit 0 after a clean close, exit 1 on an
// unhandled rejection.
import { ConfigError } from '@it/config';
import { createLogger, type Logger } from '@it/observability';

export interface Closeable {
  close(): Promise<void>;
}

export function runProcess(name: string, start: (logger: Logger) => Promise<Closeable>): void {
  const logger = createLogger(name);
  let running: Closeable | undefined;
  let stopping = false;

  const shutdown = (service: Closeable) => {
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // A signal that arrives while starting (a rollout, a probe) still closes cleanly once started.
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing the work in hand');
    if (running) shutdown(running);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Node's own rule (a rejection nobody handles ends the process), said in the JSON log before exiting: a
  // process in an unknown state restarts from Cassandra, the source of truth.
  process.on('unhandledRejection', (err) => {
    logger.fatal({ err }, 'unhandled rejection: exiting');
    process.exit(1);
  });

  // Through a promise so a configuration error thrown synchronously by `start` is reported the same way.
  logger.info({ node: process.versions.node, pid: process.pid }, `${name} starting`);
  Promise.resolve()
    .then(() => start(logger))
    .then(
      (service) => {
        running = service;
        if (stopping) shutdown(service);
      },
      (err: unknown) => {
        // A configuration problem is the operator's to fix: say what, without a stack trace.
        logger.fatal({ err: err instanceof ConfigError ? err.message : err }, `${name} failed to start`);
        process.exit(1);
      },
    );
}
