// The fleet on real clusters (`npm run test:fleet`, not part of `npm test`: the 3-node Cassandra cluster takes
// ~3 GB and most of two cores): 2 API processes and 3 workers, QUORUM/SERIAL on the 3-node cluster (started when
// not up, stopped again) and a Redis Cluster, a load through both APIs during which a Cassandra node is SIGKILLed
// and later restarted, twice. Every invariant of the chaos runner holds, and transfers created while a node was
// down commit.
import { describe, expect, it } from 'vitest';
import { DEFAULTS, formatSummary, runChaos } from '../chaos/run.ts';

const log = (line: string) => console.log(`[fleet] ${line}`);

describe('fleet on the 3-node Cassandra cluster and a Redis Cluster', () => {
  it('2 APIs, 3 workers, a Cassandra node SIGKILLed and restarted under load (twice): no violation, transfers served throughout', async () => {
    const s = await runChaos(
      {
        ...DEFAULTS, seed: Math.floor(Math.random() * 2 ** 31), cassandra: 'cluster', redis: 'cluster', workers: 3, apis: 2,
        transfers: 1_000, users: 100, concurrency: 16, faults: ['cassandra-node'], faultRounds: 2, gap: [3, 6], drainBoundS: 120, fromBuild: true,
      },
      log,
    );
    const table = formatSummary(s);
    console.log(table);
    expect(s.violations, table).toEqual([]);
    expect(s.violationCount, table).toBe(0);
    expect(Object.values(s.outcomes).reduce((a, b) => a + b, 0), table).toBe(s.submitted);
    expect(Object.keys(s.outcomes).every((k) => ['committed', 'rolled_back', 'failed'].includes(k)), table).toBe(true);
    const down = s.during.filter((d) => d.kind === 'cassandra-node');
    expect(down, table).toHaveLength(2);
    for (const d of down) {
      expect(d.created, table).toBeGreaterThan(0);
      expect(d.committed, table).toBeGreaterThan(0);
    }
  }, 1_800_000);
});
