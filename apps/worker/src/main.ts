// `tsx apps/worker/src/main.ts`: a worker. SIGTERM/SIGINT let each job in hand finish its step and release
// the job, then close Redis and Cassandra and exit 0.
import { loadWorkerConfig } from '@it/config';
import { runProcess } from '@it/runtime';
import { startWorker } from './worker.ts';

runProcess('worker', (logger) => startWorker(loadWorkerConfig(), { logger }));
