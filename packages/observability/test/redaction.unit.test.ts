// No credential reaches a log line, wherever it sits in the logged object.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, REDACTED } from '../src/index.ts';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger('redaction-test', 'info', stream), lines };
}

describe('log redaction', () => {
  it('hides authorization headers, passwords, tokens and secrets at any depth, and keeps the rest', async () => {
    const { logger, lines } = capture();
    logger.info(
      {
        req_id: 'r-1',
        headers: { authorization: 'Bearer eyJabc', 'content-type': 'application/json', Cookie: 'sid=1' },
        config: { OPS_PASSWORD: 'hunter22', JWT_SECRET: 's3cret', LEDGER_SERVICE_TOKEN: 'tok', API_PORT: 8080 },
        attempts: [{ apiKey: 'k1', amount: '5' }],
        credentials: { username: 'u', password: 'p' },
      },
      'request',
    );
    await new Promise((r) => setImmediate(r));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      req_id: 'r-1',
      msg: 'request',
      headers: { authorization: REDACTED, 'content-type': 'application/json', Cookie: REDACTED },
      config: { OPS_PASSWORD: REDACTED, JWT_SECRET: REDACTED, LEDGER_SERVICE_TOKEN: REDACTED, API_PORT: 8080 },
      attempts: [{ apiKey: REDACTED, amount: '5' }],
      credentials: REDACTED,
    });
    expect(JSON.stringify(lines[0])).not.toMatch(/eyJabc|hunter22|s3cret|tok"|k1|sid=1/);
  });

  it('leaves errors to the error serializer: message and stack stay', async () => {
    const { logger, lines } = capture();
    logger.error({ err: new Error('boom') }, 'failed');
    await new Promise((r) => setImmediate(r));
    expect(lines[0]).toMatchObject({ err: { type: 'Error', message: 'boom', stack: expect.stringContaining('boom') } });
  });
});
