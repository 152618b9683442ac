// Writes the contract's two checked-in forms from the API's zod schemas: docs/openapi.json (what `npm run
// check` lints and people read) and packages/client/src/schema.ts (the typed client's types, by
// openapi-typescript). `--check` only compares, failing when either is stale; a unit test does the same.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import openapiTS, { astToString } from 'openapi-typescript';
import { openApiDocument } from '@it/api';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const DOCUMENT_FILE = path.join(root, 'docs/openapi.json');
export const SCHEMA_FILE = path.join(root, 'packages/client/src/schema.ts');

const HEADER = `// Generated from the API's OpenAPI document by packages/client/scripts/generate.ts (npm run generate:client):
// do not edit. The document is generated from the zod schemas in apps/api/src (validation.ts, wire.ts).
`;

/** Both files' contents as they must be now. */
export async function generated(): Promise<Record<string, string>> {
  const document = openApiDocument();
  const ast = await openapiTS(document as Parameters<typeof openapiTS>[0]);
  return {
    [DOCUMENT_FILE]: `${JSON.stringify(document, null, 2)}\n`,
    [SCHEMA_FILE]: HEADER + astToString(ast),
  };
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const stale: string[] = [];
  for (const [file, contents] of Object.entries(await generated())) {
    const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : undefined;
    if (current === contents) continue;
    if (check) stale.push(path.relative(root, file));
    else {
      fs.writeFileSync(file, contents);
      console.log(`[openapi] wrote ${path.relative(root, file)}`);
    }
  }
  if (stale.length) {
    console.error(`[openapi] stale: ${stale.join(', ')} (run npm run generate:client)`);
    process.exit(1);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
