// The deployment as shipped: both overlays render and validate (what `npm run check` runs), the validator
// catches what it exists to catch, and the rendered configuration starts — or refuses to — as intended.
/* eslint-disable @typescript-eslint/no-unsafe-member-access -- planted edits reach into rendered YAML of any shape */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig, loadLedgerConfig, loadWorkerConfig } from '@it/config';
import {
  dockerfilePath,
  dockerfileProblems,
  overlaysDir,
  renderOverlay,
  validateManifests,
  type Manifest,
} from '../../scripts/validate-deploy.ts';
import { parseAllDocuments } from 'yaml';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above
type Obj = Record<string, any>;

let prod: Manifest[];
let dev: Manifest[];
beforeAll(() => {
  prod = renderOverlay(path.join(overlaysDir, 'prod'));
  dev = renderOverlay(path.join(overlaysDir, 'dev'));
}, 60_000);

const find = (ms: Manifest[], kind: string, name?: string) =>
  ms.find((m) => m.doc.kind === kind && (name === undefined || (m.doc.metadata as Obj).name === name))!;
const edited = (ms: Manifest[], kind: string, name: string | undefined, edit: (doc: Obj) => void): Manifest[] =>
  ms.map((m) => {
    if (m !== find(ms, kind, name)) return m;
    const doc = structuredClone(m.doc) as Obj;
    edit(doc);
    return { ...m, doc };
  });
const container = (doc: Obj) => doc.spec.template.spec.containers[0] as Obj;

// Each validation type-checks every rendered document (about 1–3 s on a quiet machine, far more on a loaded one).
const slow = { timeout: 120_000 };

describe('the overlays as shipped', slow, () => {
  it.each(['prod', 'dev'])('%s renders and validates with no problem', async (overlay) => {
    const manifests = overlay === 'prod' ? prod : dev;
    expect(manifests.length).toBeGreaterThan(10);
    expect(await validateManifests(manifests)).toEqual([]);
  });

  it('applies no Secret; the example lives outside every kustomization', () => {
    expect([...prod, ...dev].filter((m) => m.doc.kind === 'Secret')).toEqual([]);
    expect(fs.existsSync(path.join(overlaysDir, '../examples/secret.example.yaml'))).toBe(true);
  });

  it('pins the image per overlay and names the migration Job after the tag', () => {
    const image = container(find(prod, 'Deployment', 'api').doc).image as string;
    expect(image).toMatch(/^[\w.-]+\/[\w/-]+:\d+\.\d+\.\d+/);
    const job = find(prod, 'Job').doc as Obj;
    expect(job.metadata.name).toBe(`internal-transfer-migrate-${image.split(':')[1]}`);
    expect(container(job).args).toEqual(['dist/migrate.js', 'transfer']);
    expect(container(find(dev, 'Job').doc as Obj).args).toEqual(['dist/migrate.js', 'transfer', 'ledger']);
  });

  it('scales workers with KEDA on the queue counted once across API replicas, backoff excluded', () => {
    const worker = find(prod, 'Deployment', 'worker').doc as Obj;
    expect(worker.spec.replicas).toBeUndefined();
    const query = (find(prod, 'ScaledObject').doc as Obj).spec.triggers[0].metadata.query as string;
    expect(query).toMatch(/^sum\(max by \(state\) \(\w+queue_jobs\{state=~"waiting\|active"\}\)\)$/);
  });
});

describe('the validator catches', slow, () => {
  it('an unknown field (a typo the schemas alone accept), naming it', async () => {
    const planted = edited(prod, 'Deployment', 'api', (d) => {
      const probe = container(d).readinessProbe as Obj;
      probe.periodSecond = probe.periodSeconds;
      delete probe.periodSeconds;
    });
    const problems = await validateManifests(planted);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^prod: Deployment\/api .*periodSecond.*does not exist in type 'IProbe'/);
  });

  it('a wrong type, in the schema and in the type check', async () => {
    const planted = edited(prod, 'Deployment', 'api', (d) => {
      d.spec.replicas = '3';
    });
    const problems = await validateManifests(planted);
    expect(problems).toContain('prod: Deployment/api: data/spec/replicas must be integer');
    expect(problems.some((p) => p.startsWith('prod: Deployment/api line') && p.includes("Type 'string' is not assignable to type 'number'"))).toBe(true);
  });

  it('a kind with no schema', async () => {
    const planted = [...prod, { source: 'prod', doc: { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } } }];
    expect(await validateManifests(planted)).toContain('prod: Widget/w: no schema for example.com/v1 Widget');
  });

  it.each<[string, string, string | undefined, (d: Obj) => void, RegExp]>([
    ['an applied Secret', 'ConfigMap', 'internal-transfer', (d) => { d.kind = 'Secret'; }, /secrets are not applied/],
    ['an unpinned image', 'Deployment', 'api', (d) => { container(d).image = 'registry.example/internal-transfer:latest'; }, /pinned to a release tag/],
    ['a bare image name', 'Deployment', 'worker', (d) => { container(d).image = 'internal-transfer'; }, /pinned to a release tag/],
    ['worker replicas under KEDA', 'Deployment', 'worker', (d) => { d.spec.replicas = 2; }, /KEDA owns the replica count/],
    ['no preStop on a served Deployment', 'Deployment', 'api', (d) => { delete container(d).lifecycle; }, /preStop/],
    ['a writable root filesystem', 'Deployment', 'api', (d) => { container(d).securityContext.readOnlyRootFilesystem = false; }, /readOnlyRootFilesystem/],
    ['a missing memory limit', 'Deployment', 'worker', (d) => { delete container(d).resources.limits.memory; }, /limits\.memory/],
    ['root', 'Deployment', 'api', (d) => { delete d.spec.template.spec.securityContext.runAsNonRoot; }, /runAsNonRoot/],
    ['a CronJob with a writable root filesystem', 'CronJob', 'reconcile', (d) => { d.spec.jobTemplate.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem = false; }, /CronJob\/reconcile container reconcile: readOnlyRootFilesystem/],
    ['a migration Job with a fixed name', 'Job', undefined, (d) => { d.metadata.name = 'internal-transfer-migrate'; }, /named after its release/],
  ])('%s', async (_what, kind, name, edit, expected) => {
    const problems = await validateManifests(edited(prod, kind, name, edit));
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).toMatch(expected);
  });

  it('Dockerfile mistakes, while the shipped Dockerfile lints clean', () => {
    expect(dockerfileProblems(fs.readFileSync(dockerfilePath, 'utf8'))).toEqual([]);
    const problems = dockerfileProblems('FROM node:24\nEXPOSE http\nCOPY --chmod=x --bogus a b\nCMD ["a"]\nCMD ["b"]\n');
    expect(problems.join('\n')).toMatch(/Invalid containerPort: http/);
    expect(problems.join('\n')).toMatch(/Unknown flag: bogus/);
    expect(problems.join('\n')).toMatch(/only be one CMD/);
  });
});

describe('the rendered configuration', () => {
  const configOf = (ms: Manifest[]) => (find(ms, 'ConfigMap', 'internal-transfer').doc as Obj).data as Record<string, string>;
  const example = parseAllDocuments(fs.readFileSync(path.join(overlaysDir, '../examples/secret.example.yaml'), 'utf8'))
    .map((d) => d.toJS() as Obj)
    .find((d) => d.metadata.name === 'internal-transfer')!.stringData as Record<string, string>;
  const filled = {
    REDIS_URL: 'rediss://:a-long-redis-password@redis.data.svc:6380',
    CASSANDRA_USERNAME: 'internal_transfer',
    CASSANDRA_PASSWORD: 'a-cassandra-password',
    OPS_USER: 'ops',
    OPS_PASSWORD: 'a-long-random-ops-password',
    FUNDING_TOKEN: 'funding-credential-0123456789',
    TRADING_TOKEN: 'trading-credential-0123456789',
    LEDGER_ADMIN_TOKEN: 'ledger-admin-credential-0123456789',
    LEDGER_SERVICE_TOKEN: 'ledger-service-credential-0123456789',
  };

  it('starts every process with the real secrets filled in', () => {
    const env = { ...configOf(prod), ...filled };
    expect(loadApiConfig(env).NODE_ENV).toBe('production');
    expect(loadWorkerConfig(env).FUNDING_URL).toMatch(/^https:/);
    const devEnv = { ...configOf(dev), ...filled, LEDGER_HOST: '0.0.0.0', LEDGER_TLS_CERT_FILE: '/etc/tls/tls.crt', LEDGER_TLS_KEY_FILE: '/etc/tls/tls.key' };
    expect(loadWorkerConfig(devEnv).TRADING_URL).toMatch(/^https:\/\/reference-ledgers\./);
    expect(loadLedgerConfig(devEnv).LEDGER_TLS_CERT_FILE).toBe('/etc/tls/tls.crt');
  });

  it('refuses to start with the example secret applied as it is', () => {
    const env = { ...configOf(prod), ...example };
    expect(() => loadApiConfig(env)).toThrow(/OPS_PASSWORD/);
    expect(() => loadWorkerConfig(env)).toThrow(/FUNDING_TOKEN/);
  });
});
