// The latest successful sweep, shared through Redis. A sweep runs on whichever worker takes its job, so
// per-worker gauges would keep each worker's own last sweep forever (and `max()` over them could report a
// transfer stuck long after it finished). Every worker reports this one snapshot instead, read at scrape time.
import type { SweepSnapshot } from '@it/observability';
import { TRANSFER_QUEUE, type RedisConnection } from '@it/queue';
import { withDeadline } from '@it/runtime';

const READ_TIMEOUT_MS = 1_000;

export function sweepReportKey(prefix: string): string {
  return `${prefix}:${TRANSFER_QUEUE}:sweep-report`;
}

// Only a newer sweep replaces the stored one: a slow sweep that finishes after a faster, later one loses.
const SAVE_IF_NEWER = `
local at = redis.call('HGET', KEYS[1], 'finished_at')
if at and tonumber(at) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'finished_at', ARGV[1], 'snapshot', ARGV[2])
return 1`;

export async function saveSweepSnapshot(redis: RedisConnection, prefix: string, s: SweepSnapshot): Promise<boolean> {
  const { finishedAt, ...counts } = s;
  const applied = await redis.eval(SAVE_IF_NEWER, 1, sweepReportKey(prefix), String(finishedAt.getTime()), JSON.stringify(counts));
  return applied === 1;
}

const COUNTS = ['active', 'stuck', 'overdue', 'corrupt', 'oldestActiveAgeSeconds'] as const;

/** The stored snapshot; undefined when there is none, or it is not one this code wrote. */
export async function readSweepSnapshot(redis: RedisConnection, prefix: string): Promise<SweepSnapshot | undefined> {
  const [at, raw] = await withDeadline(redis.hmget(sweepReportKey(prefix), 'finished_at', 'snapshot'), READ_TIMEOUT_MS, 'sweep report');
  if (!at || !raw) return undefined;
  const counts = JSON.parse(raw) as Record<string, unknown>;
  if (!COUNTS.every((k) => typeof counts[k] === 'number' && Number.isFinite(counts[k]))) return undefined;
  const c = counts as Record<(typeof COUNTS)[number], number>;
  return {
    finishedAt: new Date(Number(at)),
    active: c.active,
    stuck: c.stuck,
    overdue: c.overdue,
    corrupt: c.corrupt,
    oldestActiveAgeSeconds: c.oldestActiveAgeSeconds,
  };
}
