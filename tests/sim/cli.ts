// `npm run sim`: searches scenarios for a broken invariant (default one minute), or replays one.
//   npm run sim                          search for 1 minute with a fresh fast-check seed
//   npm run sim -- --minutes 30          search longer
//   npm run sim -- --seed <token|number> replay one scenario event by event, with a readable trace
//   npm run sim -- --bug <name>          plant a bug (tests/sim/scenario.ts BUGS) and search for it
//   npm run sim -- --search-seed <n>     the fast-check seed a search starts from (a search is replayable too)
// Exits 1 when an invariant broke.
import { parseArgs } from 'node:util';
import { runScenario } from './run.ts';
import { BUG_NAMES, BUGS, decode, type Bug } from './scenario.ts';
import { describeCoverage, describeStats, search } from './search.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    minutes: { type: 'string' },
    bug: { type: 'string' },
    'search-seed': { type: 'string' },
    'max-transfers': { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});

function bugOf(name: string | undefined): Bug | undefined {
  if (name === undefined) return undefined;
  if (!(BUG_NAMES as string[]).includes(name)) throw new Error(`--bug must be one of ${BUG_NAMES.join(', ')}`);
  return name as Bug;
}

async function replay(token: string, bug: Bug | undefined): Promise<number> {
  const scenario = decode(token);
  if (bug) scenario.bug = bug;
  const r = await runScenario(scenario, values.quiet ? {} : { trace: (line) => console.log(line) });
  console.log(`\n${r.token}: ${r.transfers} transfers (${JSON.stringify(r.outcomes)}), ${r.events} events, ${(r.simulatedMs / 1000).toFixed(1)} s simulated, ${r.wallMs.toFixed(0)} ms`);
  if (!r.violations.length) {
    console.log('every invariant held');
    return 0;
  }
  console.log(`INVARIANT BROKEN:\n  ${r.violations.join('\n  ')}`);
  return 1;
}

async function main(): Promise<number> {
  const bug = bugOf(values.bug);
  if (values.seed !== undefined) return replay(values.seed, bug);
  const minutes = Number(values.minutes ?? 1);
  if (!(minutes > 0)) throw new Error('--minutes must be a positive number');
  const seed = values['search-seed'] === undefined ? undefined : Number(values['search-seed']) >>> 0;
  console.log(`searching for ${minutes} min${bug ? ` with the planted bug '${bug}' (${BUGS[bug]})` : ''}…`);
  const r = await search({
    budgetMs: minutes * 60_000,
    shrinkMs: 30_000,
    ...(bug ? { bug } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(values['max-transfers'] ? { maxTransfers: Number(values['max-transfers']) } : {}),
    onProgress: (s) => console.log(`  ${describeStats(s)}`),
  });
  console.log(`search seed ${r.seed}: ${describeStats(r.stats)}`);
  console.log(`covered:\n  ${describeCoverage(r.stats).replaceAll('\n', '\n  ')}`);
  if (!r.failure) {
    console.log('every invariant held in every scenario');
    return 0;
  }
  const f = r.failure;
  console.log(`\nINVARIANT BROKEN after ${describeStats(f.foundAfter)}`);
  console.log(`first failing scenario ${f.firstToken}, shrunk (${f.shrinks} steps) to ${f.token}:`);
  console.log(`  ${f.violations.join('\n  ')}`);
  console.log(`\nreplay it event by event:\n  npm run sim -- --seed ${f.token}`);
  return 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  },
);
