// The bench's arithmetic: percentiles, medians of rounds, Cassandra counter deltas, /proc parsing and
// profile summaries. The figures in docs/performance.md rest on these.
import { describe, expect, it } from 'vitest';
import { opsDelta, sumOps, type OpsSnapshot } from './cassandra-ops.ts';
import { transferFor } from './load.ts';
import { cpuMs } from './proc.ts';
import { originOf, summarise, type CpuProfile } from './profile.ts';
import { median, medianOf, percentile } from './stats.ts';

describe('stats', () => {
  it('nearest-rank percentiles', () => {
    const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  it('median of odd and even counts, and of each leaf of rounds', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(medianOf([{ a: 1, b: { c: 10 } }, { a: 5, b: { c: 30 } }, { a: 3, b: { c: 20 } }])).toEqual({ a: 3, b: { c: 20 } });
  });
});

describe('Cassandra counters', () => {
  const row = (cr: number, cw: number, lr: number, lw: number) => ({
    coordinator_read_latency: cr, coordinator_write_latency: cw, coordinator_scan_latency: 0, local_read_latency: lr, local_write_latency: lw,
  });

  it('tells reads, plain writes and LWTs (sent and applied) apart, per kept keyspace', () => {
    const before: OpsSnapshot = new Map([['ks.t', row(10, 5, 20, 9)], ['other.t', row(0, 0, 0, 0)]]);
    // 3 reads, 2 plain writes, 4 LWTs of which 3 applied.
    const after: OpsSnapshot = new Map([['ks.t', row(13, 7, 20 + 3 + 4, 9 + 2 + 3)], ['other.t', row(1, 0, 1, 0)]]);
    const d = opsDelta(before, after, (ks) => ks === 'ks');
    expect(d).toEqual({ 'ks.t': { reads: 3, writes: 2, scans: 0, lwts: 4, lwtsApplied: 3 } });
    expect(sumOps(opsDelta(before, after))).toEqual({ reads: 4, writes: 2, scans: 0, lwts: 4, lwtsApplied: 3 });
  });
});

describe('load', () => {
  it('alternates directions for every user and keeps concurrent transfers on distinct users', () => {
    const users = Array.from({ length: 4 }, (_, i) => ({ id: String(i), token: '' }));
    const seen = Array.from({ length: 8 }, (_, i) => transferFor(i, users));
    expect(new Set(seen.slice(0, 4).map((t) => t.user.id)).size).toBe(4);
    for (const u of users) expect(new Set(seen.filter((t) => t.user === u).map((t) => t.from))).toEqual(new Set(['funding', 'trading']));
  });
});

describe('/proc', () => {
  it('reads this process’s CPU time, and nothing for a pid that does not exist', () => {
    // Spins until the kernel has charged 50 ms of CPU to this process (a loaded machine gives it less than the
    // wall time): the reading must follow, within a generous bound.
    const start = cpuMs(process.pid)!;
    const until = Date.now() + 10_000;
    while (Date.now() < until && cpuMs(process.pid)! - start < 50) for (let i = 0; i < 1e5; i++) Math.sqrt(i);
    expect(cpuMs(process.pid)! - start).toBeGreaterThanOrEqual(50);
    expect(cpuMs(2 ** 30)).toBeUndefined();
  });
});

describe('CPU profiles', () => {
  const frame = (id: number, functionName: string, url = '') => ({ id, callFrame: { functionName, url, lineNumber: 0 } });
  const profile: CpuProfile = {
    nodes: [
      frame(1, '(root)'),
      frame(2, '(idle)'),
      frame(3, 'encode', 'file:///x/node_modules/cassandra-driver/lib/encoder.js'),
      frame(4, 'step', 'file:///x/apps/worker/src/coordinator.ts'),
      frame(5, 'writeBuffer'),
    ],
    samples: [2, 3, 3, 4, 5, 2],
    timeDeltas: [1000, 1000, 1000, 1000, 1000, 5000],
    startTime: 0,
    endTime: 10_000,
  };

  it('charges self time, leaves idle out, and groups by origin', () => {
    const s = summarise(profile);
    expect(s.busyMs).toBe(4);
    expect(s.byOrigin).toEqual([
      { origin: 'cassandra-driver', percent: 50 },
      { origin: 'apps/worker', percent: 25 },
      { origin: '(native)', percent: 25 },
    ]);
    expect(s.byFunction[0]).toEqual({ name: 'encode cassandra-driver/lib/encoder.js:1', percent: 50 });
  });

  it('names origins', () => {
    expect(originOf({ functionName: 'f', url: 'file:///r/node_modules/@scope/pkg/a.js', lineNumber: 0 })).toBe('@scope/pkg');
    expect(originOf({ functionName: 'f', url: 'node:internal/streams/writable', lineNumber: 0 })).toBe('node:internal/streams/writable');
    expect(originOf({ functionName: '(garbage collector)', url: '', lineNumber: 0 })).toBe('(garbage collector)');
  });
});
