import cassandra from 'cassandra-driver';
import type { BaseConfig } from '@it/config';

export type CassandraClient = cassandra.Client;
export const { types } = cassandra;

/** A driver client for the configured cluster. `keyspace` is optional so the migrator can create it first. */
export function createCassandraClient(config: BaseConfig, keyspace?: string): cassandra.Client {
  const contactPoints = config.CASSANDRA_CONTACT_POINTS.split(',').map((s) => s.trim()).filter(Boolean);
  const credentials =
    config.CASSANDRA_USERNAME !== undefined
      ? { username: config.CASSANDRA_USERNAME, password: config.CASSANDRA_PASSWORD ?? '' }
      : undefined;
  // Peers found through system.peers are dialled on protocolOptions.port (the driver does not read
  // peers_v2's native_port), so a cluster on a non-default port needs it set from the contact points.
  const ports = new Set(contactPoints.map((p) => /:(\d+)$/.exec(p)?.[1] ?? '9042'));
  const port = ports.size === 1 ? Number([...ports][0]) : 9042;
  return new cassandra.Client({
    contactPoints,
    protocolOptions: { port },
    localDataCenter: config.CASSANDRA_LOCAL_DC,
    ...(keyspace ? { keyspace } : {}),
    ...(credentials ? { credentials } : {}),
    ...(config.CASSANDRA_TLS ? { sslOptions: { rejectUnauthorized: true } } : {}),
    encoding: { useBigIntAsLong: true, useBigIntAsVarint: true },
    socketOptions: { readTimeout: config.CASSANDRA_REQUEST_TIMEOUT_MS, connectTimeout: 5_000 },
    queryOptions: {
      consistency: types.consistencies[consistencyName(config.CASSANDRA_CONSISTENCY)],
      serialConsistency: types.consistencies[consistencyName(config.CASSANDRA_SERIAL_CONSISTENCY)],
      prepare: true,
      // The driver's default retry policy retries client timeouts on the next host; for an LWT that is a
      // second proposal with an unknown first outcome. Statements opt in to idempotence one by one.
      isIdempotent: false,
    },
  });
}

type ConsistencyKey = keyof typeof types.consistencies;

function consistencyName(name: string): ConsistencyKey {
  const camel = name.toLowerCase().replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
  if (!(camel in types.consistencies)) throw new Error(`unknown consistency ${name}`);
  return camel as ConsistencyKey;
}

export function serialConsistency(config: BaseConfig): number {
  return types.consistencies[consistencyName(config.CASSANDRA_SERIAL_CONSISTENCY)];
}
