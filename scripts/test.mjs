#!/usr/bin/env node
// `npm test`: installs what is missing, brings the local stack up unless it already runs (or the
// environment points at existing servers), migrates, runs every test project, and stops what it started.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDeps } from './ensure-deps.mjs';
import { projectEnv, runOnProjectNode } from './project-node.mjs';
import { SINGLE, cassandraDown, cassandraUp, redisDown, redisUp } from './stack.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const external = Boolean(process.env.CASSANDRA_CONTACT_POINTS || process.env.REDIS_URL || process.env.REDIS_CLUSTER_NODES);

// Keyspaces of this run only: tests never disturb (or inherit) the development data `npm start` uses,
// and every run starts from empty tables. Dropped at the end.
const runId = Date.now().toString(36);
/** @type {NodeJS.ProcessEnv & { CASSANDRA_KEYSPACE: string, CASSANDRA_LEDGER_KEYSPACE: string }} */
const testEnv = {
  ...projectEnv(),
  NODE_ENV: 'test',
  CASSANDRA_KEYSPACE: process.env.CASSANDRA_KEYSPACE ?? `transfer_test_${runId}`,
  CASSANDRA_LEDGER_KEYSPACE: process.env.CASSANDRA_LEDGER_KEYSPACE ?? `ledger_test_${runId}`,
};

/**
 * @param {string} cmd
 * @param {string[]} args
 */
function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: testEnv });
  return r.status ?? 1;
}

async function dropTestKeyspaces() {
  const { default: cassandra } = await import('cassandra-driver');
  const client = new cassandra.Client({
    contactPoints: (testEnv.CASSANDRA_CONTACT_POINTS ?? '127.0.0.1:9042').split(','),
    localDataCenter: testEnv.CASSANDRA_LOCAL_DC ?? 'datacenter1',
  });
  try {
    for (const ks of [testEnv.CASSANDRA_KEYSPACE, testEnv.CASSANDRA_LEDGER_KEYSPACE]) {
      if (!process.env.CASSANDRA_KEYSPACE && ks.includes(runId)) await client.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
    }
  } catch (e) {
    console.warn('[test] could not drop the test keyspaces:', e instanceof Error ? e.message : e);
  } finally {
    await client.shutdown();
  }
}

async function main() {
  const t0 = Date.now();
  ensureDeps();
  await runOnProjectNode();
  const started = { redis: false, cassandra: false };
  let status;
  try {
    if (!external) {
      started.redis = await redisUp();
      started.cassandra = await cassandraUp(SINGLE);
    }
    status = run('npm', ['run', '--silent', 'migrate']);
    if (status === 0) {
      const args = process.argv.slice(2);
      if (args.length) status = run('npx', ['vitest', 'run', ...args]);
      else {
        // One project after the other: the crash tests flush Redis and kill processes, which must not
        // happen under the integration tests' feet, and the two cores are better spent on one at a time.
        for (const project of ['unit', 'sim', 'integration', 'e2e']) {
          const s = run('npx', ['vitest', 'run', '--project', project]);
          if (s !== 0) status = s;
        }
      }
    }
  } finally {
    await dropTestKeyspaces();
    if (started.cassandra) await cassandraDown(SINGLE);
    if (started.redis) redisDown();
  }
  console.log(`[test] ${status === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  process.exit(status);
}

main().catch((e) => {
  console.error('[test]', e);
  process.exit(1);
});
