// The 3-node cluster (127.0.0.1–3, RF=3) serves QUORUM reads and SERIAL LWTs. Starts the cluster when it
// is not up and stops it again afterwards.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCassandraClient, migrate, serialConsistency, types, type CassandraClient } from '@it/cassandra';
import { cassandraSettings, loadBaseConfig } from '@it/config';
import { TransferStore } from '../src/index.ts';
import { newTransfer } from './helpers.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const stack = (...args: string[]) =>
  execFileSync('node', [path.join(root, 'scripts/stack.mjs'), ...args, '--nodes', '3', '--cassandra-only'], {
    encoding: 'utf8',
  });

const env = {
  ...process.env,
  NODE_ENV: 'test',
  CASSANDRA_CONTACT_POINTS: '127.0.0.1:9142,127.0.0.2:9142,127.0.0.3:9142',
  CASSANDRA_KEYSPACE: 'cluster_check',
  CASSANDRA_REPLICATION: 'SimpleStrategy:3',
  CASSANDRA_CONSISTENCY: 'QUORUM',
  CASSANDRA_SERIAL_CONSISTENCY: 'SERIAL',
};
let startedHere = false;
let client: CassandraClient;

beforeAll(async () => {
  startedHere = stack('up').includes('STARTED=cassandra-cluster');
  const config = loadBaseConfig(env);
  client = createCassandraClient(cassandraSettings(config));
  await client.connect();
  // CQL answers on each node before gossip has marked the others up: wait for a full ring.
  for (let i = 0; i < 240; i++) {
    const up = client.hosts.values().filter((h) => h.isUp()).length;
    if (up === 3) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  await client.execute(`DROP KEYSPACE IF EXISTS ${env.CASSANDRA_KEYSPACE}`);
  await migrate(client, { keyspace: env.CASSANDRA_KEYSPACE, replication: env.CASSANDRA_REPLICATION, dir: path.join(root, 'schema/transfer') });
}, 300_000);

afterAll(async () => {
  await client?.shutdown();
  if (startedHere) stack('down');
}, 120_000);

describe('3-node cluster', () => {
  it('runs Cassandra 5.0 on three nodes with RF=3', async () => {
    const local = await client.execute('SELECT release_version FROM system.local');
    expect(String(local.first().get('release_version'))).toMatch(/^5\.0\./);
    expect(client.hosts.values().filter((h) => h.isUp())).toHaveLength(3);
    const ks = await client.execute('SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = ?', [env.CASSANDRA_KEYSPACE]);
    expect(ks.first().get('replication')).toMatchObject({ replication_factor: '3' });
  });

  it('serves SERIAL LWTs and QUORUM reads', async () => {
    const config = loadBaseConfig(env);
    const kclient = createCassandraClient(cassandraSettings(config, env.CASSANDRA_KEYSPACE));
    try {
      const store = new TransferStore(kclient, { serialConsistency: serialConsistency(cassandraSettings(config)) });
      expect(serialConsistency(cassandraSettings(config))).toBe(types.consistencies.serial);
      const { created, record } = await store.create(newTransfer());
      expect(created).toBe(true);
      const move = () =>
        store.compareAndSet({ from: record, to: 'source_pending', error: null, attempt: 0, nextAttemptAt: new Date() });
      expect((await move()).applied).toBe(true);
      // The same transition again, now from a stale version: refused by Paxos, the winner's row returned.
      const stale = await move();
      expect(stale.applied).toBe(false);
      if (!stale.applied) expect(stale.current?.version).toBe(2);
      const quorumRead = await kclient.execute('SELECT state FROM transfers WHERE req_id = ?', [record.reqId], {
        prepare: true,
        consistency: types.consistencies.quorum,
      });
      expect(quorumRead.first().get('state')).toBe('source_pending');
      expect(quorumRead.info.achievedConsistency).toBe(types.consistencies.quorum);
    } finally {
      await kclient.shutdown();
    }
  });
});
