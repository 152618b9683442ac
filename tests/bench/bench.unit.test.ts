// The bench's arithmetic: percentiles, medians of rounds, Cassandra counter deltas, /proc parsing and
// profile summaries. The figures in docs/performance.md rest on these.
import { describe, expect, it } from 'vitest';
import { opsDelta, sumOps, type OpsSnapshot } from './cassandra-ops.ts';
import { transferFor } from './load.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cassandraBackgroundWork, cassandraGcPauses, cpuMs, readCassandraLog } from './proc.ts';
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

describe("Cassandra's log", () => {
  // Lines as Cassandra 5.0 writes them (system.log, the server's local time).
  const log = [
    'INFO  [Notification Thread] 2026-11-28 03:22:01,732 GCInspector.java:286 - G1 Young Generation GC in 53ms.  G1 Eden Space: 480247808 -> 0;',
    'INFO  [Notification Thread] 2026-11-28 03:22:03,100 GCInspector.java:286 - G1 Young Generation GC in 61ms.  G1 Eden Space: 480247808 -> 0;',
    "INFO  [SlabPoolCleaner] 2026-11-28 03:22:04,429 ColumnFamilyStore.java:1052 - Enqueuing flush of system.paxos, Reason: MEMTABLE_LIMIT, Usage: 38.320MiB (15%) on-heap, 0B (0%) off-heap",
    'INFO  [MigrationStage:1] 2026-11-28 03:22:04,500 ColumnFamilyStore.java:1052 - Enqueuing flush of system_schema.tables, Reason: SCHEMA_CHANGE, Usage: 1.2KiB (0%) on-heap, 0B (0%) off-heap',
    'INFO  [CompactionExecutor:2] 2026-11-28 03:22:08,942 CompactionTask.java:274 - Compacted (e256b760-eada-11f1-980d-3f63c7df8a55) 2 sstables to [/x/data/data/system/paxos-b7b7f0c2fd0a34108c053ef614bb7c2d/nb-91-big,] to level=0.  52.874MiB to 52.653MiB (~99% of original) in 4,311ms.  Read Throughput = 7.984MiB/s',
    'INFO  [CompactionExecutor:2] 2026-11-28 03:22:09,100 CompactionTask.java:274 - Compacted (e256b760-eada-11f1-980d-3f63c7df8a56) 4 sstables to [/x/data/data/bench_ledger/ops-b7b7f0c2fd0a34108c053ef614bb7c2d/nb-9-big,] to level=0.  1MiB to 1MiB (~99% of original) in 120ms.  Read Throughput = 7.984MiB/s',
  ].join('\n');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-log-'));
  fs.writeFileSync(path.join(dir, 'system.log'), `${log}\n`);
  const at = (time: string) => new Date(`2026-11-28T${time}`);
  const text = readCassandraLog(dir);

  it('GC pauses inside the window', () => {
    expect(cassandraGcPauses(text, at('03:22:02'), at('03:22:10'))).toEqual([61]);
    expect(cassandraGcPauses(readCassandraLog(undefined), at('03:22:02'), at('03:22:10'))).toEqual([]);
  });

  it('forced flushes and long compactions overlapping the window, nothing else', () => {
    expect(cassandraBackgroundWork(text, at('03:22:02'), at('03:22:10'))).toEqual(['flush system.paxos', 'compaction system.paxos 4.3 s']);
    // The compaction began at 03:22:04.6, inside a window that ended before it finished.
    expect(cassandraBackgroundWork(text, at('03:22:04.5'), at('03:22:05'))).toEqual(['compaction system.paxos 4.3 s']);
    expect(cassandraBackgroundWork(text, at('03:22:10'), at('03:22:20'))).toEqual([]);
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
