// The checked-in contract is the generated one: docs/openapi.json and the client's types (src/schema.ts) are
// exactly what the generator makes from the API's zod schemas now. A schema change without
// `npm run generate:client` fails here (and in `npm run check`).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DOCUMENT_FILE, generated, SCHEMA_FILE } from '../scripts/generate.ts';

describe('generated contract files', () => {
  it.each([DOCUMENT_FILE, SCHEMA_FILE])('%s is up to date', async (file) => {
    const files = await generated();
    expect(fs.readFileSync(file, 'utf8')).toBe(files[file]);
  });
});
