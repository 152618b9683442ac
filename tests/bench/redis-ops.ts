// Redis's own command counters (INFO commandstats): what a run cost in Redis commands, counted by Redis. A
// script's (EVALSHA's) inner commands are counted too, each under its own name, so the client's round trips
// are the commands sent directly: scripts, PUBLISH, the blocking reads.
import type { Redis } from 'ioredis';

export async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const text = await redis.info('commandstats');
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** Commands per transfer between two readings (those at 0.05 per transfer or more), highest first. */
export function commandsPerTransfer(before: Map<string, number>, after: Map<string, number>, transfers: number): Record<string, number> {
  const rows = [...after]
    .map(([name, calls]) => [name, (calls - (before.get(name) ?? 0)) / transfers] as const)
    .filter(([, n]) => n >= 0.05)
    .sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(rows.map(([name, n]) => [name, Math.round(n * 100) / 100]));
}
