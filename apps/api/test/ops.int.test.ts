// The ops listener (issue 11, item 5): failed logins limited, every operator action logged with its path and
// operator, readiness cached so probes cannot hammer Cassandra and Redis.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@it/observability';
import { startApi, type RunningApi } from '../src/index.ts';
import { deletePrefix, OPS, testConfig } from './helpers.ts';

const config = testConfig();
const lines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});
let api: RunningApi;
let ops: string;
beforeAll(async () => {
  api = await startApi(config, { port: 0, metricsPort: 0, logger: createLogger('ops-test', 'info', sink), shutdownGraceMs: 1_000 });
  ops = `http://127.0.0.1:${api.metricsPort}`;
});
afterAll(async () => {
  await api?.close();
  await deletePrefix(config.QUEUE_PREFIX);
});
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

describe('ops listener', () => {
  it('logs every operator action with the full path and the operator', async () => {
    const path = '/admin/queues/api/queues/transfers/pause';
    const res = await fetch(`${ops}${path}`, { method: 'PUT', headers: { authorization: basic(OPS.user, OPS.password) } });
    expect(res.status).toBe(200);
    await fetch(`${ops}/admin/queues/api/queues/transfers/resume`, { method: 'PUT', headers: { authorization: basic(OPS.user, OPS.password) } });
    const actions = lines.filter((l) => l.msg === 'operator action');
    expect(actions.map((l) => [l.operator, l.method, l.path])).toEqual([
      [OPS.user, 'PUT', path],
      [OPS.user, 'PUT', '/admin/queues/api/queues/transfers/resume'],
    ]);
    // Credentials never reach the log.
    expect(JSON.stringify(lines)).not.toContain(OPS.password);
  });

  it('after 10 wrong passwords an address waits, even with the right one', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await fetch(`${ops}/admin/queues`, { headers: { authorization: basic(OPS.user, `wrong-${i}`) } })).status).toBe(401);
    }
    const blocked = await fetch(`${ops}/admin/queues`, { headers: { authorization: basic(OPS.user, OPS.password) } });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});
