// `npm run check` runs this offline: the Dockerfile through dockerfile-utils' linter, and every document
// `kubectl kustomize` renders for each overlay in deploy/k8s/overlays through
//   1. the Kubernetes and KEDA JSON schemas (kubernetes-models, @kubernetes-models/keda): types and required fields;
//   2. TypeScript's excess-property check (each document emitted as `{…} satisfies I<Kind>`): unknown fields,
//      which the schemas accept (a `periodSecond` typo would otherwise ship and be silently ignored);
//   3. this product's deployment rules (no Secret applied, pinned images, non-root read-only containers with
//      resources, KEDA owning the worker count, a drain delay before SIGTERM, a migration Job per release).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { validate as lintDockerfile } from 'dockerfile-utils';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const overlaysDir = path.join(root, 'deploy/k8s/overlays');
export const dockerfilePath = path.join(root, 'deploy/docker/Dockerfile');

export interface Manifest {
  /** Where it came from, for messages: the overlay's name. */
  source: string;
  doc: Record<string, unknown>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const get = (v: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((o, k) => (isObj(o) ? o[k] : undefined), v);
const label = (m: Manifest) => `${m.source}: ${String(m.doc.kind)}/${String(get(m.doc, 'metadata', 'name'))}`;

/** The package whose models describe an API group (the core group and the built-in ones: kubernetes-models). */
function modelModule(apiVersion: string): string {
  if (apiVersion.startsWith('keda.sh/')) return `@kubernetes-models/keda/${apiVersion}`;
  return `kubernetes-models/${apiVersion}`;
}

export function renderOverlay(dir: string): Manifest[] {
  const yamlText = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return parseAllDocuments(yamlText).map((d) => {
    if (d.errors.length) throw new Error(`${dir}: ${d.errors.map((e) => e.message).join('; ')}`);
    return { source: path.basename(dir), doc: d.toJS() as Obj };
  });
}

async function schemaProblems(manifests: Manifest[]): Promise<string[]> {
  const problems: string[] = [];
  for (const m of manifests) {
    const { apiVersion, kind } = m.doc;
    if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
      problems.push(`${label(m)}: apiVersion and kind are required`);
      continue;
    }
    let Model: (new (data: unknown) => { validate(): void }) | undefined;
    try {
      Model = ((await import(modelModule(apiVersion))) as Record<string, typeof Model>)[kind];
    } catch {
      Model = undefined;
    }
    if (!Model) {
      problems.push(`${label(m)}: no schema for ${apiVersion} ${kind}`);
      continue;
    }
    try {
      new Model(m.doc).validate();
    } catch (err) {
      problems.push(`${label(m)}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return problems;
}

/** Type-checks every document as a fresh object literal of its kind's interface: unknown keys are errors. */
function unknownFieldProblems(manifests: Manifest[]): string[] {
  const file = path.join(root, '.validate-deploy.generated.ts');
  const modules = [...new Set(manifests.map((m) => modelModule(String(m.doc.apiVersion))))];
  const lines = modules.map((mod, i) => `import type * as m${i} from '${mod}';`);
  const spans: { manifest: Manifest; from: number; to: number }[] = [];
  manifests.forEach((m, i) => {
    const from = lines.length;
    const body = JSON.stringify(m.doc, null, 2).split('\n');
    const mod = modules.indexOf(modelModule(String(m.doc.apiVersion)));
    body[0] = `export const d${i} = ${body[0]}`;
    body[body.length - 1] += ` satisfies m${mod}.I${String(m.doc.kind)};`;
    lines.push(...body);
    spans.push({ manifest: m, from, to: lines.length - 1 });
  });
  const text = lines.join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2023,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  // The generated module exists only in memory: nothing is written to the repository.
  const disk = ts.createCompilerHost(options);
  const host: ts.CompilerHost = {
    ...disk,
    getSourceFile: (name, version, ...rest) =>
      path.resolve(name) === file ? ts.createSourceFile(name, text, version) : disk.getSourceFile(name, version, ...rest),
    fileExists: (name) => path.resolve(name) === file || disk.fileExists(name),
    readFile: (name) => (path.resolve(name) === file ? text : disk.readFile(name)),
  };
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (!d.file || d.start === undefined || path.resolve(d.file.fileName) !== file) return `generated check: ${message}`;
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    const span = spans.find((s) => line >= s.from && line <= s.to);
    const at = span ? `${label(span.manifest)} line ${line - span.from + 1} of its JSON` : `line ${line + 1}`;
    return `${at}: ${message}`;
  });
}

interface Container {
  name?: string;
  image?: string;
  resources?: { requests?: Obj; limits?: Obj };
  securityContext?: Obj;
  lifecycle?: { preStop?: unknown };
}

function podSpecOf(doc: Obj): Obj | undefined {
  const spec = doc.kind === 'CronJob' ? get(doc, 'spec', 'jobTemplate', 'spec', 'template', 'spec') : get(doc, 'spec', 'template', 'spec');
  return isObj(spec) ? spec : undefined;
}

/** The product's own rules for what may be applied. */
function policyProblems(manifests: Manifest[]): string[] {
  const problems: string[] = [];
  const scaled = new Set(
    manifests.filter((m) => m.doc.kind === 'ScaledObject').map((m) => `${m.source}/${String(get(m.doc, 'spec', 'scaleTargetRef', 'name'))}`),
  );
  const serviceSelectors = manifests.filter((m) => m.doc.kind === 'Service').map((m) => get(m.doc, 'spec', 'selector'));
  for (const m of manifests) {
    const where = label(m);
    const { kind } = m.doc;
    if (kind === 'Secret') problems.push(`${where}: secrets are not applied with the manifests (create them from your secret store)`);
    const pod = podSpecOf(m.doc);
    if (!pod) continue;
    if (get(pod, 'securityContext', 'runAsNonRoot') !== true) problems.push(`${where}: the pod must set securityContext.runAsNonRoot`);
    const containers = (Array.isArray(pod.containers) ? pod.containers : []) as Container[];
    for (const c of containers) {
      const at = `${where} container ${c.name ?? '?'}`;
      const tag = /^[^@]+:([^:/@]+)$/.exec(c.image ?? '')?.[1];
      if (!c.image?.includes('/') || ((!tag || tag === 'latest') && !c.image.includes('@sha256:'))) {
        problems.push(`${at}: image ${c.image ?? '(none)'} must be a registry image pinned to a release tag (not latest)`);
      }
      for (const r of ['cpu', 'memory']) {
        if (get(c.resources, 'requests', r) === undefined) problems.push(`${at}: resources.requests.${r} is required`);
        if (get(c.resources, 'limits', r) === undefined) problems.push(`${at}: resources.limits.${r} is required`);
      }
      if (get(c.securityContext, 'readOnlyRootFilesystem') !== true) problems.push(`${at}: readOnlyRootFilesystem must be true`);
      if (get(c.securityContext, 'allowPrivilegeEscalation') !== false) problems.push(`${at}: allowPrivilegeEscalation must be false`);
    }
    if (kind === 'Deployment') {
      const name = String(get(m.doc, 'metadata', 'name'));
      if (scaled.has(`${m.source}/${name}`) && get(m.doc, 'spec', 'replicas') !== undefined) {
        problems.push(`${where}: KEDA owns the replica count; the Deployment must not set spec.replicas`);
      }
      const labels = get(m.doc, 'spec', 'template', 'metadata', 'labels');
      const serves = serviceSelectors.some((sel) => isObj(sel) && isObj(labels) && Object.entries(sel).every(([k, v]) => labels[k] === v));
      if (serves && !containers.every((c) => c.lifecycle?.preStop)) {
        problems.push(`${where}: serves a Service, so each container needs a preStop delay (endpoints drain before SIGTERM)`);
      }
    }
    if (kind === 'Job') {
      const name = String(get(m.doc, 'metadata', 'name'));
      const tag = /:([^:/@]+)$/.exec(containers[0]?.image ?? '')?.[1];
      if (!tag || !name.endsWith(`-${tag}`)) problems.push(`${where}: a Job must be named after its release (…-<image tag>) so each release applies`);
    }
  }
  return problems;
}

export async function validateManifests(manifests: Manifest[]): Promise<string[]> {
  return [...(await schemaProblems(manifests)), ...unknownFieldProblems(manifests), ...policyProblems(manifests)];
}

export function dockerfileProblems(content: string): string[] {
  return lintDockerfile(content).map((d) => `Dockerfile line ${d.range.start.line + 1}: ${typeof d.message === 'string' ? d.message : d.message.value}`);
}

async function main() {
  const problems = dockerfileProblems(fs.readFileSync(dockerfilePath, 'utf8'));
  const overlays = fs.readdirSync(overlaysDir).sort();
  const manifests = overlays.flatMap((o) => renderOverlay(path.join(overlaysDir, o)));
  problems.push(...(await validateManifests(manifests)));
  if (problems.length) {
    console.error(`[validate-deploy] ${problems.length} problem(s):\n${problems.map((p) => `  ${p}`).join('\n')}`);
    process.exit(1);
  }
  console.log(`[validate-deploy] Dockerfile and ${manifests.length} documents in overlays ${overlays.join(', ')}: valid`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
