#!/usr/bin/env node
// `npm start`: the whole product on one machine. Installs what is missing, brings the local stack up,
// migrates, starts the reference ledgers, a worker and the API, funds demo accounts, and prints where
// everything is plus a ready-to-paste curl. Ctrl-C stops everything it started.
import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDeps } from './ensure-deps.mjs';
import { projectEnv, runOnProjectNode } from './project-node.mjs';
import { SINGLE, cassandraDown, cassandraUp, redisDown, redisUp, REDIS_PORT } from './stack.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const external = Boolean(process.env.CASSANDRA_CONTACT_POINTS || process.env.REDIS_URL || process.env.REDIS_CLUSTER_NODES);
// Must match @it/config's development defaults.
const DEV_JWT_SECRET = 'dev-only-jwt-secret-change-me-0123456789';
const DEV_LEDGER_ADMIN_TOKEN = 'dev-ledger-admin-token';
const DEMO_USER = '1001';

/** @type {NodeJS.ProcessEnv} */
const env = { ...projectEnv(), NODE_ENV: process.env.NODE_ENV ?? 'development' };
const API_URL = `http://127.0.0.1:${env.API_PORT ?? 8080}`;
// The example frontend (examples/web) on a port of its own: the API must let its origin in (CORS).
const EXAMPLE_URL = `http://127.0.0.1:${env.EXAMPLE_PORT ?? 8090}`;
env.CORS_ORIGINS ??= EXAMPLE_URL;
const FUNDING_URL = env.FUNDING_URL ?? 'http://127.0.0.1:8081';
const TRADING_URL = env.TRADING_URL ?? 'http://127.0.0.1:8082';
/** @type {{ name: string, child: import('node:child_process').ChildProcess }[]} */
const children = [];
const started = { redis: false, cassandra: false };

/** @param {unknown} v */
const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
/** @param {string} sub */
function devToken(sub) {
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub, iat: now, exp: now + 24 * 3600 })}`;
  return `${unsigned}.${createHmac('sha256', env.JWT_SECRET ?? DEV_JWT_SECRET).update(unsigned).digest('base64url')}`;
}

/**
 * A Prometheus config for this machine (static targets: Debian's prometheus has no kubernetes_sd) scraping the
 * API's ops listener, the worker and both ledgers and evaluating the shipped alert rules. JSON is YAML.
 * @returns {string} the config file's path
 */
function writeLocalPrometheusConfig() {
  const dir = path.join(root, '.stack', 'prometheus');
  fs.mkdirSync(dir, { recursive: true });
  const host = (/** @type {string} */ url) => new URL(url).host;
  const config = {
    global: { scrape_interval: '5s', evaluation_interval: '5s' },
    rule_files: [path.join(root, 'deploy/k8s/base/monitoring/alerts.yaml')],
    scrape_configs: [{
      job_name: 'internal-transfer',
      static_configs: [
        { targets: ['127.0.0.1:9464'], labels: { component: 'api' } },
        { targets: ['127.0.0.1:9465'], labels: { component: 'worker' } },
        { targets: [host(FUNDING_URL), host(TRADING_URL)], labels: { component: 'ledgers' } },
      ],
    }],
  };
  const file = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return path.relative(root, file);
}

/**
 * @param {string} name
 * @param {string} script
 */
function launch(name, script) {
  // node with tsx as a loader (not the tsx CLI, which adds a process between us and the app's signals). A
  // process group of its own: Ctrl-C reaches only this script, whose one SIGTERM lets each app close
  // gracefully (a second signal would make it exit at once).
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: root, env, stdio: ['ignore', 'inherit', 'inherit'], detached: true,
  });
  child.on('exit', (code, signal) => {
    if (!shuttingDown) {
      console.error(`[start] ${name} exited (${signal ?? code}); stopping everything`);
      void shutdown(1);
    }
  });
  children.push({ name, child });
}

/**
 * @param {string} url
 * @param {string} what
 * @param {number} [timeoutMs]
 */
async function waitFor(url, what, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`${what} did not become ready at ${url}`);
}

/**
 * @param {string} ledgerUrl
 * @param {string} userId
 * @param {number} assetId
 * @param {string} amount
 */
async function fund(ledgerUrl, userId, assetId, amount) {
  const res = await fetch(`${ledgerUrl}/v1/admin/credit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${env.LEDGER_ADMIN_TOKEN ?? DEV_LEDGER_ADMIN_TOKEN}` },
    body: JSON.stringify({ user_id: userId, asset_id: assetId, amount }),
  });
  if (!res.ok) throw new Error(`funding demo account failed: ${res.status} ${await res.text()}`);
}

let shuttingDown = false;
/** @param {number} code */
async function shutdown(code) {
  if (shuttingDown) return;
  shuttingDown = true;
  console.log('\n[start] stopping…');
  await Promise.all(
    children.map(
      ({ child }) =>
        /** @type {Promise<void>} */ (new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', resolve);
          child.kill('SIGTERM');
          setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
        })),
    ),
  );
  if (started.cassandra) await cassandraDown(SINGLE);
  if (started.redis) redisDown();
  process.exit(code);
}

async function main() {
  ensureDeps();
  await runOnProjectNode();
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  if (!external) {
    started.redis = await redisUp();
    started.cassandra = await cassandraUp(SINGLE);
  }
  const migrated = spawnSync('npm', ['run', '--silent', 'migrate'], { cwd: root, env, stdio: 'inherit' });
  if (migrated.status !== 0) throw new Error('migration failed');

  launch('ledgers', 'apps/ledgers/src/main.ts');
  await Promise.all([waitFor(`${FUNDING_URL}/livez`, 'funding ledger'), waitFor(`${TRADING_URL}/livez`, 'trading ledger')]);
  launch('worker', 'apps/worker/src/main.ts');
  launch('api', 'apps/api/src/main.ts');
  await Promise.all([waitFor(`${API_URL}/readyz`, 'api'), waitFor('http://127.0.0.1:9465/readyz', 'worker')]);

  await fund(FUNDING_URL, DEMO_USER, 1, '1000000');
  await fund(TRADING_URL, DEMO_USER, 1, '1000000');

  const token = devToken(DEMO_USER);
  const prometheusConfig = writeLocalPrometheusConfig();
  Object.assign(env, { EXAMPLE_API_URL: API_URL, EXAMPLE_TOKEN: token, EXAMPLE_USER_ID: DEMO_USER });
  launch('example', 'examples/web/server.ts');
  await waitFor(`${EXAMPLE_URL}/`, 'example frontend');
  console.log(`
Internal Transfer is running (Ctrl-C stops everything started here).

  API                 ${API_URL}/api/v1/transfer
  API docs            ${API_URL}/api/docs   (OpenAPI 3.1: ${API_URL}/api/v1/openapi.json; typed client: packages/client)
  Example frontend    ${EXAMPLE_URL}/   (posts a transfer for user ${DEMO_USER} and shows its states live)
  Bull Board          http://127.0.0.1:9464/admin/queues   (ops listener; user ${env.OPS_USER ?? 'ops'}, password ${env.OPS_PASSWORD ? '$OPS_PASSWORD' : 'dev-ops-password'})
  Metrics             API http://127.0.0.1:9464/metrics   worker http://127.0.0.1:9465/metrics   ledgers ${FUNDING_URL}/metrics ${TRADING_URL}/metrics
  Prometheus          prometheus --config.file=${prometheusConfig} --storage.tsdb.path=.stack/prometheus/data --web.listen-address=127.0.0.1:9090
                      (scrapes all of the above and evaluates deploy/k8s/base/monitoring/alerts.yaml; Debian package prometheus)
  Grafana dashboard   deploy/grafana/internal-transfer.json: Grafana → Dashboards → New → Import, data source http://127.0.0.1:9090
  Alert runbooks      docs/operations.md (Alerts)
  Funding ledger      ${FUNDING_URL}/v1/balances/${DEMO_USER}/1
  Trading ledger      ${TRADING_URL}/v1/balances/${DEMO_USER}/1   (header Authorization: Bearer ${env.LEDGER_ADMIN_TOKEN ? '$LEDGER_ADMIN_TOKEN' : DEV_LEDGER_ADMIN_TOKEN})
  Redis               127.0.0.1:${REDIS_PORT}      Cassandra 127.0.0.1:9042

Demo user ${DEMO_USER} was credited 1000000 of asset 1 on each side. Move 2500 from Funding to Trading:

curl -s -X POST ${API_URL}/api/v1/transfer \\
  -H 'Authorization: Bearer ${token}' \\
  -H 'Content-Type: application/json' -H "Idempotency-Key: demo-$(date +%s)" \\
  -d '{"from":"funding","to":"trading","user_id":"${DEMO_USER}","asset_id":1,"amount":"2500"}'
`);
}

main().catch((/** @type {unknown} */ e) => {
  console.error('[start]', e instanceof Error ? e.message : e);
  void shutdown(1);
});
