// Request bodies parsed without losing a digit. JSON.parse rounds numbers before anyone can look at them
// (0.99999999999999999 becomes 1, 9007199254740993 becomes 9007199254740992), so a money API must read the
// numeric text itself: integers arrive as number (when safe) or bigint (exact), other numbers as number when
// a double holds them exactly (a fault rate of 0.5), else as a LosslessNumber, which no field accepts, so it
// is refused with the field's name.
import express, { type RequestHandler } from 'express';
import { isInteger, isSafeNumber, LosslessNumber, parse } from 'lossless-json';

/** A JSON number as the client wrote it: a value no integer field accepts. */
export { LosslessNumber };

function parseNumber(text: string): number | bigint | LosslessNumber {
  if (isInteger(text)) return isSafeNumber(text) ? Number(text) : BigInt(text);
  // 0.5 is exactly what was written; 0.99999999999999999 is not a double, and must not become 1.
  return isSafeNumber(text) ? Number(text) : new LosslessNumber(text);
}

/** The body parser's own error shape, so error handlers answer it like express.json's. */
function notJson(cause: unknown): Error {
  return Object.assign(new Error('body: not valid JSON', { cause }), { type: 'entity.parse.failed', status: 400, expose: true });
}

/**
 * Parses `application/json` bodies up to `limit` into `req.body` (an object or an array; any other JSON value,
 * duplicate keys included, is not a body this API reads). Other content types leave `req.body` undefined.
 */
export function jsonBody(limit: string): RequestHandler[] {
  const readText = express.text({ type: 'application/json', limit });
  const parseText: RequestHandler = (req, _res, next) => {
    const text: unknown = req.body;
    if (typeof text !== 'string' || text.trim() === '') {
      req.body = undefined;
      return next();
    }
    let value: unknown;
    try {
      value = parse(text, null, parseNumber);
    } catch (err) {
      return next(notJson(err));
    }
    if (typeof value !== 'object' || value === null) return next(notJson(undefined));
    req.body = value;
    next();
  };
  return [readText, parseText];
}
