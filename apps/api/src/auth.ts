// Who is calling (SPEC §4). jwt: a bearer token verified with a shared secret (HS256) or a remote JWKS, the
// user is its `sub`. header: a trusted gateway sets the user id header. none: local development only (the
// config refuses it in production); the user id then comes from the request itself.
import type { NextFunction, Request, Response } from 'express';
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { isDevelopment, type ApiConfig } from '@it/config';
import type { Logger } from '@it/observability';
import { parseUserId } from '@it/domain';
import { secretChecker } from '@it/runtime';
import { sendGetError, sendPostError } from './wire.ts';

export type AuthOutcome =
  | { ok: true; userId: bigint }
  /** AUTH_MODE=none: the route takes the user id from the body or the query. */
  | { ok: true; userId: undefined }
  | { ok: false; status: 401 | 503; message: string };

export interface Authenticator {
  mode: ApiConfig['AUTH_MODE'];
  authenticate(req: Request): Promise<AuthOutcome>;
}

/** Verified tokens kept at most this long: a key withdrawn from the JWKS stops being accepted within it. */
const VERIFIED_TTL_MS = 60_000;
/** Bound on remembered tokens (a few hundred bytes each); the oldest is forgotten first. */
const VERIFIED_MAX = 10_000;

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'];
const BEARER = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/i;

export function createAuthenticator(config: ApiConfig, logger: Logger): Authenticator {
  switch (config.AUTH_MODE) {
    case 'none':
      logger.warn('AUTH_MODE=none: any caller may act as any user (local development only)');
      return { mode: 'none', authenticate: () => Promise.resolve({ ok: true, userId: undefined }) };
    case 'header': {
      const header = config.AUTH_USER_HEADER.toLowerCase();
      const proofHeader = config.AUTH_GATEWAY_SECRET_HEADER.toLowerCase();
      if (!config.AUTH_GATEWAY_SECRET) throw new Error('AUTH_MODE=header needs AUTH_GATEWAY_SECRET');
      const isProof = secretChecker(config.AUTH_GATEWAY_SECRET);
      return {
        mode: 'header',
        authenticate(req) {
          if (!isProof(req.get(proofHeader))) {
            return Promise.resolve({ ok: false, status: 401, message: 'authentication required: the request did not come through the gateway' });
          }
          const userId = parseUserId(req.get(header));
          return Promise.resolve(
            userId === undefined
              ? { ok: false, status: 401, message: `authentication required: ${header} header missing or not a positive integer` }
              : { ok: true, userId },
          );
        },
      };
    }
    case 'jwt':
      return jwtAuthenticator(config, logger);
  }
}

function jwtAuthenticator(config: ApiConfig, logger: Logger): Authenticator {
  const secret = config.JWT_SECRET ? new TextEncoder().encode(config.JWT_SECRET) : undefined;
  const jwks = config.JWT_JWKS_URL
    ? createRemoteJWKSet(new URL(config.JWT_JWKS_URL), { timeoutDuration: 3_000 })
    : undefined;
  if (!secret && !jwks) throw new Error('AUTH_MODE=jwt needs JWT_SECRET or JWT_JWKS_URL');
  // HS256 tokens are checked against the secret, anything else against the JWKS; `algorithms` keeps a token
  // from choosing a key type it should not (no `none`, no HS256 signed with a public key).
  const getKey: JWTVerifyGetKey = (header, token) => {
    if (header.alg === 'HS256' && secret) return secret;
    if (jwks && header.alg !== 'HS256') return jwks(header, token);
    throw new errors.JOSEAlgNotAllowed('unexpected "alg" (Algorithm) Header Parameter value');
  };
  const options: JWTVerifyOptions = {
    algorithms: [...(secret ? ['HS256'] : []), ...(jwks ? ASYMMETRIC : [])],
    // A token without an expiry would be valid forever once leaked; one issued long ago (even with an `exp`
    // a century away) is refused by its age.
    requiredClaims: ['sub', 'exp', 'iat'],
    maxTokenAge: config.JWT_MAX_AGE_SECONDS,
    clockTolerance: 5,
    ...(config.JWT_ISSUER ? { issuer: config.JWT_ISSUER } : {}),
    ...(config.JWT_AUDIENCE ? { audience: config.JWT_AUDIENCE } : {}),
  };
  // Another kind of token signed by the same issuer (an ID token, a refresh token) is not an access token here.
  const types = new Set(config.JWT_TYPES.split(',').map((t) => t.trim().toLowerCase()).filter(Boolean));
  const untypedAllowed = isDevelopment(config.NODE_ENV);
  const typeAccepted = (typ: string | undefined) => (typ === undefined ? untypedAllowed : types.has(typ.toLowerCase()));
  // A client sends the same token with every request, and verifying it (an HMAC or a signature, through
  // WebCrypto's job queue) was a tenth of the API's CPU per transfer. The token string itself is the key: only
  // the exact token verified is accepted, until it expires or is too old, and for VERIFIED_TTL_MS at most.
  const verified = new Map<string, { userId: bigint; until: number }>();
  const remember = (token: string, userId: bigint, payload: { exp?: number; iat?: number }) => {
    const now = Date.now();
    const until = Math.min(now + VERIFIED_TTL_MS, (payload.exp ?? 0) * 1000, ((payload.iat ?? 0) + config.JWT_MAX_AGE_SECONDS) * 1000);
    if (until <= now) return;
    if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
    verified.set(token, { userId, until });
  };
  return {
    mode: 'jwt',
    async authenticate(req) {
      const header = req.get('authorization');
      if (!header) return { ok: false, status: 401, message: 'authentication required: Authorization: Bearer <token>' };
      const token = BEARER.exec(header)?.[1];
      if (!token) return { ok: false, status: 401, message: 'invalid token' };
      const known = verified.get(token);
      if (known && known.until > Date.now()) return { ok: true, userId: known.userId };
      if (known) verified.delete(token);
      try {
        const { payload, protectedHeader } = await jwtVerify(token, getKey, options);
        if (!typeAccepted(protectedHeader.typ)) return { ok: false, status: 401, message: 'invalid token: unexpected type' };
        const userId = parseUserId(payload.sub);
        if (userId === undefined) return { ok: false, status: 401, message: 'invalid token: sub must be a positive integer user id' };
        remember(token, userId, payload);
        return { ok: true, userId };
      } catch (err) {
        // The key server being down is not the caller's fault: say so, and let them retry.
        if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid || !(err instanceof errors.JOSEError)) {
          logger.error({ err }, 'token verification unavailable');
          return { ok: false, status: 503, message: 'authentication temporarily unavailable, retry later' };
        }
        logger.debug({ code: err.code }, 'token refused');
        return { ok: false, status: 401, message: err instanceof errors.JWTExpired ? 'token expired' : 'invalid token' };
      }
    },
  };
}

export interface Caller {
  /**
   * Undefined only with AUTH_MODE=none: on a create the body names the user; on a read of one transfer
   * without `?user_id` nobody is named, and the transfer is answered whoever owns it (the seed's own
   * end-to-end script reads that way).
   */
  userId: bigint | undefined;
}

export function callerOf(res: Response): Caller {
  return res.locals.caller as Caller;
}

/** What a route needs to know of its caller: `create` (POST), `read` (one transfer), `list` (one's own). */
export type CallerRoute = 'create' | 'read' | 'list';

/**
 * Middleware: authenticates the request and leaves the caller in `res.locals`; refuses in the route's error
 * shape (create: the transfer-result shape, reads: `{error}`).
 */
export function requireCaller(auth: Authenticator, route: CallerRoute) {
  const refuse = (res: Response, status: number, message: string) =>
    route === 'create' ? sendPostError(res, status, message) : sendGetError(res, status, message);
  return async (req: Request, res: Response, next: NextFunction) => {
    const outcome = await auth.authenticate(req);
    if (!outcome.ok) {
      if (outcome.status === 401 && auth.mode === 'jwt') res.set('www-authenticate', 'Bearer');
      refuse(res, outcome.status, outcome.message);
      return;
    }
    let userId = outcome.userId;
    // AUTH_MODE=none (development): reads may say whose transfers they want; a listing must.
    if (userId === undefined && route !== 'create' && req.query.user_id !== undefined) {
      userId = parseUserId(req.query.user_id);
      if (userId === undefined) return refuse(res, 400, 'user_id query parameter must be a positive integer');
    }
    if (userId === undefined && route === 'list') {
      return refuse(res, 401, 'user_id query parameter (a positive integer) is required when AUTH_MODE=none');
    }
    res.locals.caller = { userId } satisfies Caller;
    next();
  };
}
