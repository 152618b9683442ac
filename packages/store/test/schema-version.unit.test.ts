// The schema gate names the newest transfer migration: a new migration file without raising the constant
// would let a release take work before its schema exists.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { REQUIRED_TRANSFER_MIGRATION } from '../src/index.ts';

it('requires the newest migration in schema/transfer', () => {
  const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../schema/transfer');
  const newest = fs.readdirSync(dir).filter((f) => /^\d+_.+\.cql$/.test(f)).sort().at(-1);
  expect(REQUIRED_TRANSFER_MIGRATION).toBe(newest);
});
