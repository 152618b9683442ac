// Bearer-token guards of a ledger's endpoints: the service credential for the contract, the admin token for
// the admin endpoints, either one for balance reads.
import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { sha256 } from '@it/runtime';

/** Accepts `Authorization: Bearer <t>` for any of `tokens`; anything else is 401 saying `what` is needed. */
export function requireBearer(tokens: readonly string[], what: string) {
  const digests = tokens.map(sha256);
  return (req: Request, res: Response, next: NextFunction) => {
    const m = /^Bearer (.+)$/.exec(req.get('authorization') ?? '');
    const presented = m?.[1] ? sha256(m[1]) : undefined;
    // Compare digests: constant time, and no token's length is revealed; every token is compared, so the
    // time does not say which one matched either.
    let ok = false;
    for (const d of digests) if (presented && timingSafeEqual(presented, d)) ok = true;
    if (!ok) {
      res.status(401).set('www-authenticate', 'Bearer').json({ status: 'unauthorized', error: `${what} required` });
      return;
    }
    next();
  };
}
