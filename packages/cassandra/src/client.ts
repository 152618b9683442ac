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

export function createCassandraClient(settings: CassandraSettings): CassandraClient {
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
