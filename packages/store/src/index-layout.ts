// Where an active transfer's index entry lives. Time is cut into buckets of `bucketMs`, and each bucket into
// `shards` partitions by req_id, so that one transfer still running pins only its own partition: the
// tombstones a sweep reads there are those of its neighbours, at most rate × bucketMs / shards (10k/s with
// the defaults: 12.5k, well under Cassandra's tombstone_failure_threshold of 100k). Both are configuration;
// each bucket registered in `active_epochs` records the layout it was written with, so a change of layout
// never loses the entries written under the previous one.
export interface IndexLayout {
  bucketMs: number;
  shards: number;
}

export const DEFAULT_INDEX_LAYOUT: IndexLayout = { bucketMs: 10_000, shards: 8 };

/** Buckets registered before layouts were recorded: one partition per minute, keyed by the minute's number. */
export const LEGACY_INDEX_LAYOUT: IndexLayout = { bucketMs: 60_000, shards: 1 };

/** A registered bucket: `key` is its `active_epochs.epoch` (start in ms, or the minute's number if legacy). */
export interface IndexBucket {
  key: bigint;
  layout: IndexLayout;
  legacy: boolean;
}

export function validateIndexLayout(layout: IndexLayout): void {
  const { bucketMs, shards } = layout;
  if (!Number.isInteger(bucketMs) || bucketMs < 1_000 || bucketMs > 3_600_000) throw new RangeError('index bucket must be 1 s to 1 h');
  // Partition keys are the bucket's start plus the shard: fewer shards than milliseconds keeps them apart.
  if (!Number.isInteger(shards) || shards < 1 || shards > 256) throw new RangeError('index shards must be 1 to 256');
}

/** A req_id's shard: its first 32 bits (random in a v4 UUID) modulo the shard count. */
export function shardOf(reqId: string, shards: number): number {
  return Number.parseInt(reqId.replaceAll('-', '').slice(0, 8), 16) % shards;
}

/** The bucket a transfer created at `createdAt` belongs to under `layout`. */
export function bucketOf(createdAt: Date, layout: IndexLayout): IndexBucket {
  const start = Math.floor(createdAt.getTime() / layout.bucketMs) * layout.bucketMs;
  return { key: BigInt(start), layout, legacy: false };
}

export function bucketStartMs(bucket: IndexBucket): number {
  return Number(bucket.key) * (bucket.legacy ? LEGACY_INDEX_LAYOUT.bucketMs : 1);
}

/** The `active_transfers` partition of one shard of a bucket. */
export function partitionOf(bucket: IndexBucket, shard: number): bigint {
  return bucket.legacy ? bucket.key : bucket.key + BigInt(shard);
}

/** Where a transfer's entry is written: its bucket and the partition of its shard. */
export function indexEntryOf(reqId: string, createdAt: Date, layout: IndexLayout): { bucket: IndexBucket; partition: bigint } {
  const bucket = bucketOf(createdAt, layout);
  return { bucket, partition: partitionOf(bucket, shardOf(reqId, layout.shards)) };
}

/** Whether an entry in `partition` of `bucket` is where this transfer's own entry belongs (else a stray). */
export function belongsTo(bucket: IndexBucket, partition: bigint, reqId: string, createdAt: Date): boolean {
  if (bucket.legacy) return BigInt(Math.floor(createdAt.getTime() / LEGACY_INDEX_LAYOUT.bucketMs)) === bucket.key;
  return indexEntryOf(reqId, createdAt, bucket.layout).partition === partition;
}
