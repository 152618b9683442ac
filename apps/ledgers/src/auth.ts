// Bearer-token guards of a ledger's endpoints: the service credential for the contract, the admin token for
// the admin endpoints, either one for balance reads.
import type { NextFunction, Request, Response } from 'express';
import { secretChecker } from '@it/runtime';

/** Accepts `Authorization: Bearer <t>` for any of `tokens`; anything else is 401 saying `what` is needed. */
export function requireBearer(tokens: readonly string[], what: string) {
  const checks = tokens.map(secretChecker);
  return (req: Request, res: Response, next: NextFunction) => {
    const presented = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
    // Every token is compared (constant time each), so the time does not say which one matched either.
    let ok = false;
    for (const check of checks) if (check(presented) && presented !== undefined) ok = true;
    if (!ok) {
      res.status(401).set('www-authenticate', 'Bearer').json({ status: 'unauthorized', error: `${what} required` });
      return;
    }
    next();
  };
}
