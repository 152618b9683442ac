// A cassandra-driver client configured for conditional writes: prepared statements, bigint values, and no
// retry the driver could make on its own of a statement that is not idempotent.
import cassandra from 'cassandra-driver';

export type CassandraClient = cassandra.Client;
export type ResultSet = cassandra.types.ResultSet;
export type Row = cassandra.types.Row;
export type Uuid = cassandra.types.Uuid;

export const CONSISTENCIES = ['LOCAL_QUORUM', 'QUORUM', 'LOCAL_ONE', 'ONE'] as const;
export const SERIAL_CONSISTENCIES = ['SERIAL', 'LOCAL_SERIAL'] as const;

/** What a client needs to know, and nothing of any service's configuration. */
export interface CassandraSettings {
  /** `host` or `host:port`. */
  contactPoints: string[];
  localDataCenter: string;
  /** Omitted by the migrator, which creates the keyspace first. */
  keyspace?: string;
  credentials?: { username: string; password: string };
  tls: boolean;
  consistency: (typeof CONSISTENCIES)[number];
  serialConsistency: (typeof SERIAL_CONSISTENCIES)[number];
  requestTimeoutMs: number;
}

export const { types, errors } = cassandra;
type ConsistencyKey = keyof typeof types.consistencies;

function consistencyCode(name: string): number {
  const camel = name.toLowerCase().replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
  if (!(camel in types.consistencies)) throw new Error(`unknown consistency ${name}`);
  return types.consistencies[camel as ConsistencyKey];
}

/** The consistency a SERIAL read is sent with: it completes any Paxos round in flight before answering. */
export function serialConsistency(settings: Pick<CassandraSettings, 'serialConsistency'>): number {
  return consistencyCode(settings.serialConsistency);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A bigint that a bigint column cannot hold: refused before anything is sent. */
export class Int64RangeError extends RangeError {
  override name = 'Int64RangeError';
}

/**
 * Every bigint a statement binds must fit a signed 64-bit column: cassandra-driver encodes a bigint outside
 * it silently wrapped (2^63+5 is read back as -2^63+5), so money would change sign instead of failing.
 */
export function assertInt64Params(params: unknown): void {
  if (!Array.isArray(params)) return;
  for (const [i, value] of params.entries()) {
    if (typeof value === 'bigint' && (value < INT64_MIN || value > INT64_MAX)) {
      throw new Int64RangeError(`parameter ${i + 1} (${value}) does not fit a 64-bit column`);
    }
  }
}

/** The client with every statement's bigints range-checked (the schema has no varint column). */
function guardInt64(client: CassandraClient): CassandraClient {
  const execute = client.execute.bind(client) as (...args: unknown[]) => unknown;
  const batch = client.batch.bind(client) as (...args: unknown[]) => unknown;
  // Async, so promise-style callers (the only ones here) see the refusal as a rejection, like any failed statement.
  const guarded = (check: () => void, send: () => unknown) =>
    new Promise<unknown>((resolve) => {
      check();
      resolve(send());
    });
  client.execute = ((...args: unknown[]) => guarded(() => assertInt64Params(args[1]), () => execute(...args))) as CassandraClient['execute'];
  client.batch = ((...args: unknown[]) =>
    guarded(
      () => {
        for (const q of args[0] as ({ params?: unknown } | string)[]) if (typeof q === 'object') assertInt64Params(q.params);
      },
      () => batch(...args),
    )) as CassandraClient['batch'];
  return client;
}

export function createCassandraClient(settings: CassandraSettings): CassandraClient {
  return guardInt64(newClient(settings));
}

function newClient(settings: CassandraSettings): CassandraClient {
  // Peers found through system.peers are dialled on protocolOptions.port (the driver does not read
  // peers_v2's native_port), so a cluster on a non-default port needs it set from the contact points.
  const ports = new Set(settings.contactPoints.map((p) => /:(\d+)$/.exec(p)?.[1] ?? '9042'));
  const port = ports.size === 1 ? Number([...ports][0]) : 9042;
  return new cassandra.Client({
    contactPoints: settings.contactPoints,
    protocolOptions: { port },
    localDataCenter: settings.localDataCenter,
    ...(settings.keyspace ? { keyspace: settings.keyspace } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    ...(settings.tls ? { sslOptions: { rejectUnauthorized: true } } : {}),
    encoding: { useBigIntAsLong: true, useBigIntAsVarint: true },
    socketOptions: { readTimeout: settings.requestTimeoutMs, connectTimeout: 5_000 },
    queryOptions: {
      consistency: consistencyCode(settings.consistency),
      serialConsistency: consistencyCode(settings.serialConsistency),
      prepare: true,
      // The driver's default retry policy retries client timeouts on the next host; for an LWT that is a
      // second proposal with an unknown first outcome. Statements opt in to idempotence one by one.
      isIdempotent: false,
    },
  });
}
