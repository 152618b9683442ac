// Cassandra's own request counters (Cassandra 5 virtual tables, per keyspace and table): what a run cost in
// reads, writes and LWTs, counted by the server rather than estimated from the code.
//
// On one node with replication factor 1 (the bench's stack) a plain write counts once as a coordinator write
// and once as a local write; an LWT is not a coordinator write at all but its Paxos read counts as a local
// read and its commit (when applied) as a local write; a read (SERIAL ones too) counts once on each side.
// So, per table: reads = coordinator reads; writes = coordinator writes; LWTs sent = local reads − coordinator
// reads; LWTs applied = local writes − coordinator writes.
import type { CassandraClient } from '@it/cassandra';

const TABLES = ['coordinator_read_latency', 'coordinator_write_latency', 'coordinator_scan_latency', 'local_read_latency', 'local_write_latency'] as const;
type Counter = (typeof TABLES)[number];

/** count per `keyspace.table` and counter. */
export type OpsSnapshot = Map<string, Record<Counter, number>>;

export interface TableOps {
  reads: number;
  writes: number;
  /** Range reads without a partition key (none expected on the saga's path). */
  scans: number;
  lwts: number;
  lwtsApplied: number;
}

export async function opsSnapshot(client: CassandraClient): Promise<OpsSnapshot> {
  const snap: OpsSnapshot = new Map();
  for (const table of TABLES) {
    const rs = await client.execute(`SELECT keyspace_name, table_name, count FROM system_views.${table}`);
    for (const row of rs.rows) {
      const key = `${String(row.get('keyspace_name'))}.${String(row.get('table_name'))}`;
      let entry = snap.get(key);
      if (!entry) snap.set(key, (entry = Object.fromEntries(TABLES.map((t) => [t, 0])) as Record<Counter, number>));
      entry[table] = Number(row.get('count') as bigint | number);
    }
  }
  return snap;
}

/** What happened between two snapshots, per `keyspace.table` of the keyspaces kept (all when none named). */
export function opsDelta(before: OpsSnapshot, after: OpsSnapshot, keep?: (keyspace: string) => boolean): Record<string, TableOps> {
  const out: Record<string, TableOps> = {};
  for (const [key, a] of after) {
    if (keep && !keep(key.split('.')[0]!)) continue;
    const b = before.get(key);
    const d = (c: Counter) => a[c] - (b?.[c] ?? 0);
    const ops: TableOps = {
      reads: d('coordinator_read_latency'),
      writes: d('coordinator_write_latency'),
      scans: d('coordinator_scan_latency'),
      lwts: Math.max(0, d('local_read_latency') - d('coordinator_read_latency')),
      lwtsApplied: Math.max(0, d('local_write_latency') - d('coordinator_write_latency')),
    };
    if (ops.reads || ops.writes || ops.scans || ops.lwts || ops.lwtsApplied) out[key] = ops;
  }
  return out;
}

export function sumOps(tables: Record<string, TableOps>): TableOps {
  const total: TableOps = { reads: 0, writes: 0, scans: 0, lwts: 0, lwtsApplied: 0 };
  for (const t of Object.values(tables)) for (const k of Object.keys(total) as (keyof TableOps)[]) total[k] += t[k];
  return total;
}

/** Native-protocol requests Cassandra has received on each client connection, by the client's port. */
export async function requestsByPort(client: CassandraClient): Promise<Map<number, number>> {
  const rs = await client.execute('SELECT port, request_count FROM system_views.clients');
  return new Map(rs.rows.map((r) => [Number(r.get('port')), Number(r.get('request_count') as bigint | number)]));
}

/** Requests per process between two readings: `ports` names each process's client ports. */
export function requestsDelta(
  before: Map<number, number>,
  after: Map<number, number>,
  ports: Record<string, Set<number>>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, own] of Object.entries(ports)) {
    let n = 0;
    for (const port of own) n += (after.get(port) ?? 0) - (before.get(port) ?? 0);
    out[name] = n;
  }
  return out;
}
