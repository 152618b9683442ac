// The real entry point as a process: starts on the configured ports, refuses unsafe production settings
// (the development admin token, fault injection),
// and on SIGTERM finishes the request in flight before exiting 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_LEDGER_ADMIN_TOKEN } from '@it/config';
import { ledgerAdminClient } from '../src/index.ts';
import { onLogRecords } from '../../../tests/support/processes.ts';
import { ensureLedgerSchema, newUserId, testConfig } from './helpers.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const config = testConfig();
const children: ChildProcess[] = [];

function run(env: Record<string, string>) {
  // node --import tsx: the child is node itself, so a signal reaches main.ts directly.
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/ledgers/src/main.ts'], {
    cwd: root,
    env: { ...process.env, NODE_ENV: 'test', FUNDING_PORT: '0', TRADING_PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  const records: { msg?: string; ledger?: string; url?: string }[] = [];
  const onRecord = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  onLogRecords(child.stdout, (record) => {
    records.push(record);
    for (const check of onRecord) check();
  });
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  /** Resolves with what `find` finds in the log, as soon as it is there. */
  const until = <T>(what: string, find: () => T | undefined) =>
    new Promise<T>((resolve, reject) => {
      const check = () => {
        const found = find();
        if (found === undefined) return;
        onRecord.delete(check);
        resolve(found);
      };
      onRecord.add(check);
      check();
      void exited.then((code) => reject(new Error(`exited ${code} before ${what}: ${out}`)));
    });
  const urls = until('listening', () => {
    const found: Record<string, string> = {};
    for (const r of records) if (r.msg === 'ledger listening' && r.ledger && r.url) found[r.ledger] = r.url;
    return found.funding && found.trading ? found : undefined;
  });
  const logged = (msg: string) => until(`logging "${msg}"`, () => (records.some((r) => r.msg === msg) ? true : undefined));
  // Tests that expect an early exit never await the URLs.
  urls.catch(() => undefined);
  return { child, exited, urls, logged, output: () => out };
}

beforeAll(async () => {
  await ensureLedgerSchema(config);
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

describe('apps/ledgers/src/main.ts', () => {
  it('serves both ledgers and, on SIGTERM, finishes the request in flight, then exits 0', async () => {
    const p = run({});
    const urls = await p.urls;
    const admin = ledgerAdminClient(urls.funding!, config.LEDGER_ADMIN_TOKEN);
    const u = newUserId();
    await admin.credit(u, 1, 500n);
    await admin.setFaults({ latencyMs: 700 });
    const reqId = randomUUID();
    const body = JSON.stringify({ req_id: reqId, user_id: u.toString(), asset_id: 1, amount: '200' });
    // `Expect: 100-continue`: the server answers "continue" once it holds the request, and the body
    // follows only after the shutdown has begun, so the request is in flight across it.
    const req = http.request(`${urls.funding}/v1/withdraw`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        expect: '100-continue',
        authorization: `Bearer ${config.LEDGER_SERVICE_TOKEN}`,
      },
    });
    const answered = new Promise<{ status: number | undefined; body: string }>((resolve, reject) => {
      req.on('response', (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode, body: text }));
        res.on('error', reject);
      });
      req.on('error', reject);
    });
    const held = new Promise<void>((resolve) => req.once('continue', resolve));
    req.flushHeaders();
    await held;
    p.child.kill('SIGTERM');
    await p.logged('shutting down: finishing the work in hand');
    req.end(body);
    const res = await answered;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ req_id: reqId, status: 'success' });
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/ledgers stopped/);
  });

  it('refuses to start in production with the development admin token', async () => {
    const p = run({ NODE_ENV: 'production', LEDGER_ADMIN_TOKEN: DEV_LEDGER_ADMIN_TOKEN });
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/LEDGER_ADMIN_TOKEN is the development default/);
    expect(p.output()).not.toMatch(/\n\s+at /);
  });

  it('refuses to start in production with fault injection configured', async () => {
    const p = run({
      NODE_ENV: 'production',
      CASSANDRA_REPLICATION: 'NetworkTopologyStrategy:datacenter1=3',
      LEDGER_ADMIN_TOKEN: 'main-test-admin-token-0123',
      LEDGER_SERVICE_TOKEN: 'main-test-service-token-0123',
      FAULT_ERROR_RATE: '0.2',
    });
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/FAULT_ERROR_RATE: fault injection is only allowed with NODE_ENV development or test/);
    expect(p.output()).not.toMatch(/\n\s+at /);
  });

  it('refuses a malformed LEDGER_KNOWN_ASSETS', async () => {
    const p = run({ LEDGER_KNOWN_ASSETS: '5-1' });
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/LEDGER_KNOWN_ASSETS/);
  });
});
