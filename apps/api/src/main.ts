// `tsx apps/api/src/main.ts`: the public API. SIGTERM/SIGINT stop accepting, let requests in flight finish,
// close Redis and Cassandra, and exit 0.
import { loadApiConfig } from '@it/config';
import { runProcess } from '@it/runtime';
import { startApi } from './app.ts';

runProcess('api', (logger) => startApi(loadApiConfig(), { logger }));
