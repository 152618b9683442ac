// A schema that was never migrated is told apart from an outage by Cassandra's own answers, as the real
// server words them (seen on Cassandra 5.0): "Invalid" with the missing keyspace or table named.
import { describe, expect, it } from 'vitest';
import { isMissingSchema } from '../src/index.ts';

const invalid = 0x2200;
const answer = (code: number, message: string) => Object.assign(new Error(message), { code });

describe('isMissingSchema', () => {
  it.each([
    [answer(invalid, "Keyspace 'transfer_x' does not exist"), true],
    [answer(invalid, 'table schema_migrations does not exist'), true],
    [answer(invalid, 'unconfigured table schema_migrations'), true],
    [answer(invalid, 'Undefined column name history'), false],
    [answer(0x1000, "Keyspace 'transfer_x' does not exist"), false],
    [new Error("Keyspace 'transfer_x' does not exist"), false],
    ['not an error', false],
  ])('%s → %s', (err, expected) => {
    expect(isMissingSchema(err)).toBe(expected);
  });
});
