// The frontend's settings (issue 15): CORS origins are exact origins, https in production, off by default;
// the event streams' heartbeat and bounds have safe defaults.
import { describe, expect, it } from 'vitest';
import { loadApiConfig } from '../src/index.ts';

const production = {
  CASSANDRA_REPLICATION: 'NetworkTopologyStrategy:dc1=3',
  JWT_SECRET: 'a-production-secret-0123456789abcdef0123',
  JWT_ISSUER: 'https://auth.exchange.example',
  JWT_AUDIENCE: 'internal-transfer',
  OPS_PASSWORD: 'a-production-ops-password',
};

describe('CORS_ORIGINS', () => {
  it('is off by default; a list of exact origins otherwise', () => {
    expect(loadApiConfig({ NODE_ENV: 'test' }).CORS_ORIGINS).toEqual([]);
    expect(loadApiConfig({ NODE_ENV: 'test', CORS_ORIGINS: ' http://localhost:5173 , https://app.exchange.example ' }).CORS_ORIGINS).toEqual([
      'http://localhost:5173',
      'https://app.exchange.example',
    ]);
  });

  it.each(['*', 'https://app.exchange.example/', 'https://app.exchange.example/path', 'app.exchange.example', 'ftp://files.example', 'https://*.exchange.example'])(
    'refuses %j, naming it',
    (origin) => {
      expect(() => loadApiConfig({ NODE_ENV: 'test', CORS_ORIGINS: origin })).toThrow(`${origin} is not an origin`);
    },
  );

  it('must be https in production', () => {
    expect(() => loadApiConfig({ ...production, CORS_ORIGINS: 'http://app.exchange.example' })).toThrow(
      'CORS_ORIGINS must be https in production (http://app.exchange.example)',
    );
    expect(loadApiConfig({ ...production, CORS_ORIGINS: 'https://app.exchange.example' }).CORS_ORIGINS).toEqual(['https://app.exchange.example']);
  });
});

describe('event streams', () => {
  it('defaults: a heartbeat every 15 s, 1000 streams per process, 5 per user', () => {
    const c = loadApiConfig({ NODE_ENV: 'test' });
    expect([c.SSE_HEARTBEAT_MS, c.SSE_MAX_STREAMS, c.SSE_MAX_STREAMS_PER_USER]).toEqual([15_000, 1_000, 5]);
  });
  it.each([['SSE_HEARTBEAT_MS', '50'], ['SSE_HEARTBEAT_MS', '120000'], ['SSE_MAX_STREAMS', '0'], ['SSE_MAX_STREAMS_PER_USER', '0']])('refuses %s=%s', (name, value) => {
    expect(() => loadApiConfig({ NODE_ENV: 'test', [name]: value })).toThrow(name);
  });
});
