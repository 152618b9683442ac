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

export interface RequestCost {
  kind: string;
  concurrency: number;
  perSecond: number;
  /** Cassandra's CPU (from /proc) per request. */
  cassandraCpuMs: number;
}

/**
 * What one request costs Cassandra's CPU, by kind and concurrency: an LWT on a row each loop keeps updating
 * (the ceiling's), an LWT creating a new ~1 KB partition (as a transfer's create, claims and ledger rows do),
 * and a plain single-partition read. Shows what bounds a transfer's storage cost below the ceiling.
 */
export async function requestCosts(
  client: CassandraClient,
  keyspace: string,
  cassandraCpuMs: () => number,
  opts: { concurrencies: number[]; seconds: number },
): Promise<RequestCost[]> {
  await client.execute(`CREATE TABLE IF NOT EXISTS ${keyspace}.fresh (k uuid PRIMARY KEY, v bigint, payload text)`);
  const lwt = { prepare: true, isIdempotent: false };
  const payload = 'x'.repeat(1000);
  const run = randomUUID().slice(0, 8);
  const out: RequestCost[] = [];
  const measure = async (kind: string, concurrency: number, op: (loop: number, n: number) => Promise<void>) => {
    const cpu0 = cassandraCpuMs();
    let done = 0;
    const t0 = performance.now();
    const stopAt = t0 + opts.seconds * 1000;
    await Promise.all(
      Array.from({ length: concurrency }, async (_, loop) => {
        for (let n = 0; performance.now() < stopAt; n++, done++) await op(loop, n);
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    out.push({ kind, concurrency, perSecond: Math.round(done / seconds), cassandraCpuMs: Math.round((1000 * (cassandraCpuMs() - cpu0)) / done) / 1000 });
  };
  for (const c of opts.concurrencies) {
    await measure('LWT, same row', c, async (loop, n) => {
      const k = `${run}-${c}-${loop}`;
      if (n === 0) await client.execute(`INSERT INTO ${keyspace}.ceiling (k, v) VALUES (?, ?) IF NOT EXISTS`, [k, 0n], lwt);
      else await client.execute(`UPDATE ${keyspace}.ceiling SET v = ? WHERE k = ? IF v = ?`, [BigInt(n), k, BigInt(n - 1)], lwt);
    });
    await measure('LWT, new 1 KB partition', c, async () => {
      await client.execute(`INSERT INTO ${keyspace}.fresh (k, v, payload) VALUES (?, ?, ?) IF NOT EXISTS`, [randomUUID(), 1n, payload], lwt);
    });
    await measure('read', c, async (loop) => {
      await client.execute(`SELECT v FROM ${keyspace}.ceiling WHERE k = ?`, [`${run}-${c}-${loop}`], { prepare: true, isIdempotent: true });
    });
  }
  return out;
}
