// One Node major everywhere: the test runner itself runs on the project's Node 24, and every place that names
// a Node version (engines, .nvmrc, the image, the project-local binary) names the same major.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');
const major = (version: string) => /(\d+)/.exec(version)?.[1];

describe('Node 24 everywhere', () => {
  it('the test runner runs on Node 24', () => {
    expect(major(process.versions.node)).toBe('24');
  });

  it('engines, .nvmrc, the Dockerfile and the project-local binary all say 24', () => {
    const pkg = JSON.parse(read('package.json')) as { engines: { node: string }; devDependencies: Record<string, string> };
    expect(major(pkg.engines.node)).toBe('24');
    expect(major(pkg.devDependencies.node ?? '')).toBe('24');
    expect(read('.nvmrc').trim()).toBe('24');
    const installed = JSON.parse(read('node_modules/node/package.json')) as { version: string };
    expect(major(installed.version)).toBe('24');
    // The image's base is the exact version development and CI run on, and every stage uses it.
    const dockerfile = read('deploy/docker/Dockerfile');
    expect(/^ARG NODE_IMAGE=node:([\d.]+)-/m.exec(dockerfile)?.[1]).toBe(installed.version);
    const bases = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(bases.length).toBeGreaterThan(0);
    for (const base of bases) expect(['${NODE_IMAGE}', 'manifests']).toContain(base);
  });
});
