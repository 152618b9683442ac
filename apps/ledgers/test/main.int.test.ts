// The real entry point as a process: starts on the configured ports, refuses unsafe production settings,
// and on SIGTERM finishes the request in flight before exiting 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ledgerAdminClient } from '../src/index.ts';
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
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const urls = new Promise<Record<string, string>>((resolve, reject) => {
    const found: Record<string, string> = {};
    child.stdout.on('data', () => {
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        const rec = JSON.parse(line) as { msg?: string; ledger?: string; url?: string };
        if (rec.msg === 'ledger listening' && rec.ledger && rec.url) found[rec.ledger] = rec.url;
      }
      if (found.funding && found.trading) resolve(found);
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  // Tests that expect an early exit never await the URLs.
  urls.catch(() => undefined);
  return { child, exited, urls, output: () => out };
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
    const slow = fetch(`${urls.funding}/v1/withdraw`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ req_id: randomUUID(), user_id: u.toString(), asset_id: 1, amount: '200' }),
    });
    await new Promise((r) => setTimeout(r, 200));
    p.child.kill('SIGTERM');
    const res = await slow;
    expect(res.status).toBe(200);
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/ledgers stopped/);
  });

  it('refuses to start in production with the development admin token', async () => {
    const p = run({ NODE_ENV: 'production' });
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/LEDGER_ADMIN_TOKEN is the development default/);
    expect(p.output()).not.toMatch(/\n\s+at /);
  });

  it('refuses a malformed LEDGER_KNOWN_ASSETS', async () => {
    const p = run({ LEDGER_KNOWN_ASSETS: '5-1' });
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/LEDGER_KNOWN_ASSETS/);
  });
});
