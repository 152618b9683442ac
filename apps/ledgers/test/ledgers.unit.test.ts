// Pure parts of the reference ledgers: the fault PRNG and its guard, asset sets, request schemas, the
// per-account mutex.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadLedgerConfig } from '@it/config';
import {
  Faults,
  KeyedMutex,
  NO_FAULTS,
  amountSchema,
  assetIdSchema,
  describeIssues,
  faultInjectionAllowed,
  faultSettingsBody,
  loadLedgerExtras,
  movementBody,
  mulberry32,
  parseAssetSet,
  refuseFaultsOutsideDevelopment,
  reqIdSchema,
  userIdSchema,
} from '../src/index.ts';

describe('fault injection is for development and test only', () => {
  const production = (env: Record<string, string> = {}) =>
    loadLedgerConfig({
      NODE_ENV: 'production',
      CASSANDRA_REPLICATION: 'NetworkTopologyStrategy:datacenter1=3',
      LEDGER_ADMIN_TOKEN: 'unit-admin-token-0123456789',
      LEDGER_SERVICE_TOKEN: 'unit-service-token-0123456789',
      ...env,
    });

  it('allowed with NODE_ENV development or test', () => {
    expect(faultInjectionAllowed('development')).toBe(true);
    expect(faultInjectionAllowed('test')).toBe(true);
    expect(faultInjectionAllowed('production')).toBe(false);
    const dev = loadLedgerConfig({ NODE_ENV: 'test', FAULT_ERROR_RATE: '1', FAULT_LATENCY_MS: '5' });
    expect(() => refuseFaultsOutsideDevelopment(dev, 10)).not.toThrow();
  });

  it('production starts without faults (a seed alone injects nothing)', () => {
    expect(() => refuseFaultsOutsideDevelopment(production({ FAULT_SEED: '7' }), 0)).not.toThrow();
  });

  it.each([
    ['FAULT_LATENCY_MS', '5'],
    ['FAULT_ERROR_RATE', '0.1'],
    ['FAULT_DROP_RESPONSE_RATE', '0.1'],
    ['FAULT_REFUSE_RATE', '0.1'],
  ])('production refuses %s=%s, naming it', (name, value) => {
    const refuse = () => refuseFaultsOutsideDevelopment(production({ [name]: value }), 0);
    expect(refuse).toThrow(ConfigError);
    expect(refuse).toThrow(new RegExp(`${name}: fault injection is only allowed with NODE_ENV development or test`));
  });

  it('production refuses FAULT_LATENCY_JITTER_MS', () => {
    expect(() => refuseFaultsOutsideDevelopment(production(), 10)).toThrow(/FAULT_LATENCY_JITTER_MS/);
  });
});

describe('faults', () => {
  it('mulberry32 is deterministic per seed and uniform enough', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const xs = Array.from({ length: 10_000 }, () => a());
    expect(Array.from({ length: 10_000 }, () => b())).toEqual(xs);
    expect(c()).not.toBe(xs[0]);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(mean).toBeGreaterThan(0.48);
    expect(mean).toBeLessThan(0.52);
  });

  it('draws follow the rates and replay from the seed', () => {
    const f = new Faults({ ...NO_FAULTS, errorRate: 0.1, dropResponseRate: 0.3, refuseRate: 0.5, latencyMs: 20, latencyJitterMs: 30, seed: 7 });
    const draws = Array.from({ length: 5_000 }, () => f.draw());
    const share = (k: 'error' | 'drop' | 'refuse') => draws.filter((d) => d[k]).length / draws.length;
    expect(share('error')).toBeCloseTo(0.1, 1);
    expect(share('drop')).toBeCloseTo(0.3, 1);
    expect(share('refuse')).toBeCloseTo(0.5, 1);
    expect(Math.min(...draws.map((d) => d.delayMs))).toBeGreaterThanOrEqual(20);
    expect(Math.max(...draws.map((d) => d.delayMs))).toBeLessThan(50);
    f.set(f.get());
    expect(Array.from({ length: 5_000 }, () => f.draw())).toEqual(draws);
  });

  it('one setting does not shift another one’s sequence', () => {
    const onlyDrop = new Faults({ ...NO_FAULTS, dropResponseRate: 0.3, seed: 3 });
    const dropAndError = new Faults({ ...NO_FAULTS, dropResponseRate: 0.3, errorRate: 0.5, seed: 3 });
    const a = Array.from({ length: 200 }, () => onlyDrop.draw().drop);
    const b = Array.from({ length: 200 }, () => dropAndError.draw().drop);
    expect(b).toEqual(a);
  });

  it('no faults by default; the admin body is strict', () => {
    expect(new Faults().active).toBe(false);
    expect(new Faults().draw()).toEqual({ delayMs: 0, error: false, drop: false, refuse: false });
    expect(faultSettingsBody.safeParse({ drop_response_rate: 1.5 }).success).toBe(false);
    expect(faultSettingsBody.safeParse({ typo_rate: 0.1 }).success).toBe(false);
    expect(faultSettingsBody.parse({})).toEqual({
      latency_ms: 0,
      latency_jitter_ms: 0,
      error_rate: 0,
      drop_response_rate: 0,
      refuse_rate: 0,
    });
  });
});

describe('asset sets', () => {
  it('parses ids and ranges', () => {
    const s = parseAssetSet('1-3, 10,2000-2001');
    expect([1, 2, 3, 4, 9, 10, 11, 2000, 2001, 2002].map((id) => s.has(id))).toEqual([
      true, true, true, false, false, true, false, true, true, false,
    ]);
    expect(s.has(1.5)).toBe(false);
  });

  it.each(['', '0-5', '5-1', 'a', '1-2147483648', '1,,2'])('refuses %j', (spec) => {
    expect(() => parseAssetSet(spec)).toThrow();
  });

  it('reads the environment extras with defaults', () => {
    const e = loadLedgerExtras({});
    expect(e.assets.has(1000)).toBe(true);
    expect(e.assets.has(1001)).toBe(false);
    expect(e.latencyJitterMs).toBe(0);
    expect(() => loadLedgerExtras({ FAULT_LATENCY_JITTER_MS: '-1' })).toThrow(/FAULT_LATENCY_JITTER_MS/);
  });
});

describe('request schemas', () => {
  it('int64 fields: decimal strings (canonical) and safe JSON integers, 1..2^63-1', () => {
    expect(amountSchema.parse('9223372036854775807')).toBe(2n ** 63n - 1n);
    expect(amountSchema.parse(12)).toBe(12n);
    expect(userIdSchema.parse('1')).toBe(1n);
    for (const bad of ['9223372036854775808', '0', '-1', '01', '1e3', ' 1', '1.0', 1.5, 2 ** 53, null, true, [], {}]) {
      expect(amountSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it('asset ids: 1..2^31-1', () => {
    expect(assetIdSchema.parse(2 ** 31 - 1)).toBe(2 ** 31 - 1);
    expect(assetIdSchema.parse('17')).toBe(17);
    for (const bad of [0, 2 ** 31, -1, 1.5, '0', '01', 'x', null]) expect(assetIdSchema.safeParse(bad).success).toBe(false);
  });

  it('req_id: a uuid, normalized to lower case', () => {
    expect(reqIdSchema.parse('2F1C6C0E-6F5E-4B7C-9A43-3A4C2B1D0E9F')).toBe('2f1c6c0e-6f5e-4b7c-9a43-3a4c2b1d0e9f');
    expect(reqIdSchema.safeParse('2f1c6c0e6f5e4b7c9a433a4c2b1d0e9f').success).toBe(false);
  });

  it('messages name the field', () => {
    const r = movementBody.safeParse({ req_id: 'x', user_id: '1', asset_id: 1 });
    expect(r.success).toBe(false);
    if (!r.success) {
      const msg = describeIssues(r.error);
      expect(msg).toMatch(/req_id must be a UUID/);
      expect(msg).toMatch(/amount must be a positive integer/);
    }
  });
});

describe('KeyedMutex', () => {
  it('serializes per key, runs different keys concurrently, and forgets idle keys', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const task = (key: string, name: string, ms: number) =>
      m.run(key, async () => {
        log.push(`start ${name}`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`end ${name}`);
        return name;
      });
    const results = await Promise.all([task('a', 'a1', 30), task('a', 'a2', 1), task('b', 'b1', 5)]);
    expect(results).toEqual(['a1', 'a2', 'b1']);
    expect(log.indexOf('end a1')).toBeLessThan(log.indexOf('start a2'));
    expect(log.indexOf('start b1')).toBeLessThan(log.indexOf('end a1'));
    expect(m.size).toBe(0);
  });

  it('a failing task releases the key', async () => {
    const m = new KeyedMutex();
    await expect(m.run('k', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await m.run('k', () => Promise.resolve(1))).toBe(1);
  });
});
