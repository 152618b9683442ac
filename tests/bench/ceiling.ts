// The storage ceiling: raw conditional updates per second this Cassandra sustains at a given concurrency,
// each concurrent loop on its own partition (as transfers are), on a table of the bench's own keyspace.
import { randomUUID } from 'node:crypto';
import type { CassandraClient } from '@it/cassandra';

export async function prepareCeilingTable(client: CassandraClient, keyspace: string): Promise<void> {
  await client.execute(
    `CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
  );
  await client.execute(`CREATE TABLE IF NOT EXISTS ${keyspace}.ceiling (k text PRIMARY KEY, v bigint)`);
}

/**
 * Runs `concurrency` loops for `seconds`, each doing `UPDATE … IF v = ?` on its own row (created by
 * `IF NOT EXISTS` first); returns conditional updates applied per second. Every update must apply: a loop is
 * the only writer of its row, so a lost condition would mean the measurement itself is wrong.
 */
export async function measureCeiling(
  client: CassandraClient,
  keyspace: string,
  opts: { concurrency: number; seconds: number },
): Promise<{ lwtPerSecond: number; lwts: number }> {
  const run = randomUUID().slice(0, 8);
  const update = `UPDATE ${keyspace}.ceiling SET v = ? WHERE k = ? IF v = ?`;
  const insert = `INSERT INTO ${keyspace}.ceiling (k, v) VALUES (?, ?) IF NOT EXISTS`;
  const options = { prepare: true, isIdempotent: false };
  let done = 0;
  let stopAt = 0;
  const started = performance.now();
  stopAt = started + opts.seconds * 1000;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async (_, i) => {
      const key = `${run}-${i}`;
      const first = await client.execute(insert, [key, 0n], options);
      if (first.first()?.get('[applied]') !== true) throw new Error(`ceiling row ${key} already existed`);
      for (let v = 0n; performance.now() < stopAt; v++) {
        const rs = await client.execute(update, [v + 1n, key, v], options);
        if (rs.first()?.get('[applied]') !== true) throw new Error(`ceiling update of ${key} did not apply`);
        done++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { lwtPerSecond: done / seconds, lwts: done };
}
