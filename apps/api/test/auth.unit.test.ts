// JWT checks for production (issue 11, item 2): issuer and audience, a maximum token age whatever `exp` says,
// and the token type. Pure: HS256 with a configured secret, no key server.
import type { Request } from 'express';
import { jwtVerify, SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadApiConfig } from '@it/config';
import { createLogger } from '@it/observability';
import { createAuthenticator } from '../src/auth.ts';

// The real verification, counted: a remembered token must not be verified again.
vi.mock('jose', async (importOriginal) => {
  const jose = await importOriginal<typeof import('jose')>();
  return { ...jose, jwtVerify: vi.fn(jose.jwtVerify) };
});

const SECRET = 'a-production-secret-0123456789abcdef0123';
const production = loadApiConfig({
  NODE_ENV: 'production',
  CASSANDRA_REPLICATION: 'NetworkTopologyStrategy:dc1=3',
  JWT_SECRET: SECRET,
  JWT_ISSUER: 'https://auth.exchange.example',
  JWT_AUDIENCE: 'internal-transfer',
  JWT_MAX_AGE_SECONDS: '3600',
  OPS_PASSWORD: 'a-production-ops-password',
});
const logger = createLogger('auth-test', 'silent');
const now = () => Math.floor(Date.now() / 1000);

function token(opts: { typ?: string | null; aud?: string; iss?: string; iat?: number | null; exp?: number; sub?: string } = {}) {
  const header: { alg: string; typ?: string } = { alg: 'HS256' };
  if (opts.typ !== null) header.typ = opts.typ ?? 'JWT';
  let jwt = new SignJWT({})
    .setProtectedHeader(header)
    .setSubject(opts.sub ?? '1001')
    .setIssuer(opts.iss ?? 'https://auth.exchange.example')
    .setAudience(opts.aud ?? 'internal-transfer')
    .setExpirationTime(opts.exp ?? now() + 600);
  if (opts.iat !== null) jwt = jwt.setIssuedAt(opts.iat ?? now());
  return jwt.sign(new TextEncoder().encode(SECRET));
}

function request(bearer: string): Request {
  return { get: (name: string) => (name.toLowerCase() === 'authorization' ? `Bearer ${bearer}` : undefined) } as unknown as Request;
}

async function verify(jwt: string, config = production) {
  return createAuthenticator(config, logger).authenticate(request(jwt));
}

describe('JWT in production', () => {
  it('accepts an access token of the right issuer, audience, age and type', async () => {
    expect(await verify(await token())).toEqual({ ok: true, userId: 1001n });
    expect(await verify(await token({ typ: 'at+jwt' }))).toEqual({ ok: true, userId: 1001n });
  });

  it.each([
    ['another audience', { aud: 'another-service' }],
    ['another issuer', { iss: 'https://evil.example' }],
    ['issued two hours ago, although it expires in 100 years', { iat: now() - 7200, exp: now() + 100 * 365 * 86400 }],
    ['no issued-at time', { iat: null }],
    ['another token type (a refresh token)', { typ: 'refresh+jwt' }],
    ['no token type', { typ: null }],
  ])('refuses %s: 401', async (_name, opts) => {
    expect(await verify(await token(opts))).toMatchObject({ ok: false, status: 401 });
  });

  it('an untyped token is accepted in development and test only', async () => {
    const test = loadApiConfig({ NODE_ENV: 'test', JWT_SECRET: SECRET, JWT_ISSUER: 'https://auth.exchange.example', JWT_AUDIENCE: 'internal-transfer' });
    expect(await verify(await token({ typ: null }), test)).toEqual({ ok: true, userId: 1001n });
  });
});

describe('verified tokens are remembered', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.mocked(jwtVerify).mockClear();
  });

  it('the same token is accepted again without verifying; a token differing by one character is verified and refused', async () => {
    const auth = createAuthenticator(production, logger);
    const jwt = await token();
    expect(await auth.authenticate(request(jwt))).toEqual({ ok: true, userId: 1001n });
    expect(await auth.authenticate(request(jwt))).toEqual({ ok: true, userId: 1001n });
    expect(jwtVerify).toHaveBeenCalledTimes(1);
    const tampered = `${jwt.slice(0, -2)}${jwt.at(-2) === 'A' ? 'B' : 'A'}${jwt.at(-1)}`;
    expect(await auth.authenticate(request(tampered))).toMatchObject({ ok: false, status: 401 });
    expect(jwtVerify).toHaveBeenCalledTimes(2);
  });

  it('no longer than the token is valid, nor than a minute', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const auth = createAuthenticator(production, logger);
    const shortLived = await token({ exp: now() + 10 });
    expect(await auth.authenticate(request(shortLived))).toEqual({ ok: true, userId: 1001n });
    vi.setSystemTime(Date.now() + 20_000);
    // Past its expiry (and jose's 5 s tolerance): verified again, and refused.
    expect(await auth.authenticate(request(shortLived))).toEqual({ ok: false, status: 401, message: 'token expired' });
    expect(jwtVerify).toHaveBeenCalledTimes(2);

    const longLived = await token({ exp: now() + 600 });
    await auth.authenticate(request(longLived));
    vi.setSystemTime(Date.now() + 59_000);
    await auth.authenticate(request(longLived));
    expect(jwtVerify).toHaveBeenCalledTimes(3);
    // A minute after it was verified, it is verified again.
    vi.setSystemTime(Date.now() + 2_000);
    expect(await auth.authenticate(request(longLived))).toEqual({ ok: true, userId: 1001n });
    expect(jwtVerify).toHaveBeenCalledTimes(4);
  });
});
