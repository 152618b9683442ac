// The production start path, as the image runs it (Docker cannot run here): `npm run build`, production
// dependencies only (`npm ci --omit=dev --omit=optional`, as the Dockerfile) in a fresh folder, then `node dist/<app>.js` with NODE_ENV=production
// and production settings, on a filesystem the processes cannot write to (run as `nobody` when the tests run
// as root; TMPDIR and HOME unwritable), against the local Cassandra and Redis. The reference ledgers serve
// https, since the worker calls only https services in production.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { SignJWT } from 'jose';
import { Agent, fetch as tlsFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCassandraClient } from '@it/cassandra';
import { cassandraSettings, loadBaseConfig } from '@it/config';
import { deleteQueueKeys } from '@it/queue';
import { build } from '../../scripts/build.mjs';
import { eventually, root } from '../support/processes.ts';
import { REDIS_URL } from '../support/product.ts';

const offset = Number(process.env.E2E_PORT_OFFSET ?? 0);
const ports = { api: 18700 + offset, ops: 18703 + offset, funding: 18701 + offset, trading: 18702 + offset, worker: 18710 + offset };
const secrets = {
  jwt: `smoke-jwt-${randomUUID()}`,
  ops: `smoke-ops-${randomUUID()}`,
  ledgerAdmin: `smoke-admin-${randomUUID()}`,
  ledgerService: `smoke-service-${randomUUID()}`,
};
const suffix = randomUUID().replaceAll('-', '').slice(0, 10);
const keyspaces = { transfer: `smoke_${suffix}`, ledger: `smoke_ledger_${suffix}` };
const queuePrefix = `{smoke-${suffix}}`;
const asRoot = process.getuid?.() === 0;
// `nobody`: the image runs as an unprivileged user too.
const unprivileged = asRoot ? { uid: 65534, gid: 65534 } : {};

let dir: string;
let appDir: string;
let certFile: string;
let tls: Agent;
const running: { name: string; child: ChildProcess; output: string[] }[] = [];

const sh = (cmd: string, args: string[], cwd: string) => execFileSync(cmd, args, { cwd, stdio: 'pipe', encoding: 'utf8' });

/** Every file under `top` with its size and modification time: a write anywhere shows up as a difference. */
function snapshot(top: string): string[] {
  const entries: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const s = fs.lstatSync(p);
      entries.push(`${path.relative(top, p)} ${s.size} ${s.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(top);
  return entries.sort();
}

/** A production install in `target`: the lockfile and every workspace manifest, as the Dockerfile copies them. */
function installProductionDependencies(target: string) {
  const manifests = ['package.json', 'package-lock.json'];
  for (const group of ['apps', 'packages']) {
    for (const name of fs.readdirSync(path.join(root, group))) {
      if (fs.existsSync(path.join(root, group, name, 'package.json'))) manifests.push(path.join(group, name, 'package.json'));
    }
  }
  for (const m of manifests) {
    fs.mkdirSync(path.dirname(path.join(target, m)), { recursive: true });
    fs.copyFileSync(path.join(root, m), path.join(target, m));
  }
  sh('npm', ['ci', '--omit=dev', '--omit=optional', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], target);
}

function baseEnv(): NodeJS.ProcessEnv {
  const unwritable = path.join(dir, 'unwritable');
  return {
    PATH: process.env.PATH,
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    TMPDIR: unwritable,
    HOME: unwritable,
    CASSANDRA_CONTACT_POINTS: process.env.CASSANDRA_CONTACT_POINTS ?? '127.0.0.1:9042',
    CASSANDRA_KEYSPACE: keyspaces.transfer,
    CASSANDRA_LEDGER_KEYSPACE: keyspaces.ledger,
    // What production demands. Only the migration uses the replication setting; the keyspaces here were
    // created with one replica (one local node), which LOCAL_QUORUM reads and writes as a quorum of one.
    CASSANDRA_REPLICATION: 'NetworkTopologyStrategy:datacenter1=3',
    CASSANDRA_CONSISTENCY: 'LOCAL_QUORUM',
    REDIS_URL,
    QUEUE_PREFIX: queuePrefix,
  };
}

function start(name: string, script: string, env: NodeJS.ProcessEnv, args: string[] = []) {
  const child = spawn(process.execPath, ['--enable-source-maps', script, ...args], {
    cwd: appDir,
    env: { ...baseEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...unprivileged,
  });
  const output: string[] = [];
  child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
  running.push({ name, child, output });
  return { child, output };
}

async function ready(name: string, url: string, output: string[], child: ChildProcess, secure = false) {
  await eventually(`${name} ready at ${url}`, async () => {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}:\n${output.join('')}`);
    const res = secure ? await tlsFetch(url, { dispatcher: tls }) : await fetch(url);
    return res.ok;
  }, 60_000).catch((err: unknown) => {
    throw new Error(`${String(err)}\n${output.join('')}`);
  });
}

function stopped(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

async function ledger(pathname: string, init: { method?: string; body?: unknown } = {}) {
  const port = pathname.startsWith('trading:') ? ports.trading : ports.funding;
  const res = await tlsFetch(`https://127.0.0.1:${port}${pathname.replace(/^\w+:/, '')}`, {
    method: init.method ?? 'GET',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${secrets.ledgerAdmin}` },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    dispatcher: tls,
  });
  if (!res.ok) throw new Error(`${pathname}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, string>;
}

let before: string[];
let beforeMigration: { api: { status: number; body: unknown }; worker: number };

/**
 * The migration Job's command, from the build. NODE_ENV=test only because one local node cannot hold the three
 * replicas the production guard demands of a new keyspace.
 */
async function migrateSchema(schema: 'transfer' | 'ledger') {
  const migrate = start(`migrate ${schema}`, 'dist/migrate.js', { NODE_ENV: 'test', CASSANDRA_REPLICATION: 'SimpleStrategy:1' }, [schema]);
  const code = await new Promise<number | null>((resolve) => migrate.child.once('exit', resolve));
  if (code !== 0) throw new Error(`migration failed:\n${migrate.output.join('')}`);
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'it-production-'));
  fs.chmodSync(dir, 0o755);
  appDir = path.join(dir, 'app');
  await build({ outdir: path.join(appDir, 'dist') });
  installProductionDependencies(appDir);
  fs.cpSync(path.join(root, 'schema'), path.join(appDir, 'schema'), { recursive: true });

  certFile = path.join(dir, 'tls', 'cert.pem');
  const keyFile = path.join(dir, 'tls', 'key.pem');
  fs.mkdirSync(path.dirname(certFile));
  sh('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile], dir);
  fs.chmodSync(keyFile, 0o644);
  tls = new Agent({ connect: { ca: fs.readFileSync(certFile) } });

  // Writable by nobody: neither the install nor the temp/home directory the processes are given.
  fs.mkdirSync(path.join(dir, 'unwritable'), { mode: 0o555 });
  if (!asRoot) execFileSync('chmod', ['-R', 'a-w', appDir]);
  before = snapshot(dir);

  // The reference ledgers' schema first (they refuse to start without it); the transfer schema only once the
  // API and the worker run, as when a release's pods start before its migration Job has finished.
  await migrateSchema('ledger');

  const ledgers = start('ledgers', 'dist/ledgers.js', {
    FUNDING_PORT: String(ports.funding),
    TRADING_PORT: String(ports.trading),
    LEDGER_ADMIN_TOKEN: secrets.ledgerAdmin,
    LEDGER_SERVICE_TOKEN: secrets.ledgerService,
    LEDGER_TLS_CERT_FILE: certFile,
    LEDGER_TLS_KEY_FILE: keyFile,
  });
  const api = start('api', 'dist/api.js', {
    API_PORT: String(ports.api),
    METRICS_PORT: String(ports.ops),
    JWT_SECRET: secrets.jwt,
    JWT_ISSUER: 'https://auth.smoke.test',
    JWT_AUDIENCE: 'internal-transfer',
    OPS_PASSWORD: secrets.ops,
  });
  const worker = start('worker', 'dist/worker.js', {
    METRICS_PORT: String(ports.worker),
    FUNDING_URL: `https://127.0.0.1:${ports.funding}`,
    TRADING_URL: `https://127.0.0.1:${ports.trading}`,
    FUNDING_TOKEN: secrets.ledgerService,
    TRADING_TOKEN: secrets.ledgerService,
    NODE_EXTRA_CA_CERTS: certFile,
  });
  await ready('ledgers', `https://127.0.0.1:${ports.funding}/readyz`, ledgers.output, ledgers.child, true);
  beforeMigration = {
    // Once its Redis connection is up (the first answers may come before it): then only the schema keeps it unready.
    api: await eventually('the API to answer with Redis connected', () =>
      fetch(`http://127.0.0.1:${ports.api}/readyz`).then(async (r) => {
        const answer = { status: r.status, body: (await r.json()) as { redis?: string } };
        return answer.body.redis === 'ok' ? answer : undefined;
      })),
    worker: await eventually('the worker to answer', () => fetch(`http://127.0.0.1:${ports.worker}/readyz`).then((r) => r.status)),
  };
  await migrateSchema('transfer');
  await ready('api', `http://127.0.0.1:${ports.api}/readyz`, api.output, api.child);
  await ready('worker', `http://127.0.0.1:${ports.worker}/readyz`, worker.output, worker.child);
}, 240_000);

afterAll(async () => {
  const codes = await Promise.all(running.map((p) => stopped(p.child)));
  running.forEach((p, i) => {
    if (codes[i] !== 0 && !p.name.startsWith('migrate')) console.error(`${p.name} exited ${codes[i]}:\n${p.output.join('')}`);
  });
  await tls?.close();
  const cassandra = createCassandraClient(cassandraSettings(loadBaseConfig({ ...process.env, NODE_ENV: 'test' })));
  try {
    for (const ks of Object.values(keyspaces)) await cassandra.execute(`DROP KEYSPACE IF EXISTS ${ks}`);
  } finally {
    await cassandra.shutdown();
  }
  const redis = new Redis(REDIS_URL);
  await deleteQueueKeys(redis, queuePrefix).finally(() => redis.disconnect());
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the production build', () => {
  it('runs compiled JavaScript with production dependencies only: no tsx, no TypeScript, no test tooling', () => {
    const installed = fs.readdirSync(path.join(appDir, 'node_modules'));
    for (const tool of ['tsx', 'typescript', 'esbuild', 'vitest', 'eslint', 'node']) expect(installed).not.toContain(tool);
    for (const app of ['api', 'worker', 'ledgers', 'migrate']) {
      const js = fs.readFileSync(path.join(appDir, 'dist', `${app}.js`), 'utf8');
      expect(js).not.toMatch(/from ["']tsx|from ["']@it\//);
    }
    for (const p of running.filter((r) => !r.name.startsWith('migrate'))) {
      expect(p.child.exitCode, p.name).toBeNull();
      const uid = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p.child.pid}/status`, 'utf8'))?.[1];
      expect(uid, p.name).toBe(String(asRoot ? 65534 : process.getuid?.()));
    }
  });

  it('waits for its schema migration: not ready before it, ready after it, without a restart', () => {
    expect(beforeMigration.api).toEqual({
      status: 503,
      body: { status: 'unavailable', cassandra: expect.any(String), redis: 'ok', schema: 'migration pending' },
    });
    expect(beforeMigration.worker).toBe(503);
    for (const p of running.filter((r) => !r.name.startsWith('migrate'))) expect(p.child.exitCode, p.name).toBeNull();
  });

  it('moves a transfer end to end in production mode, as an unprivileged user on a read-only tree', async () => {
    const user = String(Date.now());
    await ledger('/v1/admin/credit', { method: 'POST', body: { user_id: user, asset_id: 1, amount: '5000' } });
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(user)
      .setIssuer('https://auth.smoke.test')
      .setAudience('internal-transfer')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(secrets.jwt));
    const res = await fetch(`http://127.0.0.1:${ports.api}/api/v1/transfer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ from: 'funding', to: 'trading', user_id: user, asset_id: 1, amount: '1200' }),
    });
    const created = (await res.json()) as { req_id: string; status: string };
    expect([200, 202]).toContain(res.status);
    const state = await eventually('the transfer to finish', async () => {
      const got = await fetch(`http://127.0.0.1:${ports.api}/api/v1/transfer/${created.req_id}`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await got.json()) as { state: string };
      return ['committed', 'rolled_back', 'failed'].includes(body.state) ? body.state : undefined;
    });
    expect(state).toBe('committed');
    expect(await ledger(`funding:/v1/balances/${user}/1`)).toMatchObject({ available: '3800', frozen: '0' });
    expect(await ledger(`trading:/v1/balances/${user}/1`)).toMatchObject({ available: '1200', frozen: '0' });
  });

  it('wrote nothing to the install, the temp or the home directory', () => {
    expect(snapshot(dir)).toEqual(before);
  });

  it('stops cleanly on SIGTERM', async () => {
    const live = running.filter((p) => !p.name.startsWith('migrate'));
    const codes = await Promise.all(live.map((p) => stopped(p.child)));
    expect(Object.fromEntries(live.map((p, i) => [p.name, codes[i]]))).toEqual({ ledgers: 0, api: 0, worker: 0 });
  });
});
