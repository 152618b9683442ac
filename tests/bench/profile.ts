// Summaries of V8 CPU profiles (`node --cpu-prof`): self time by function and by where the code comes from
// (a node_modules package, node's own internals, the product's sources, the garbage collector…).
import fs from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  /** CPU busy milliseconds (all samples but idle). */
  busyMs: number;
  /** Share of busy time, percent, highest first. */
  byFunction: { name: string; percent: number }[];
  byOrigin: { origin: string; percent: number }[];
}

const IDLE = new Set(['(idle)', '(program)']);

/** Where a frame's code lives: the npm package, `node:<internal>`, the product's workspace, or V8's pseudo-frames. */
export function originOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1]!;
  if (url.startsWith('node:')) return url;
  const own = /\/(apps|packages)\/([^/]+)\//.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  if (/\/dist\/[^/]+\.js$/.test(url)) return 'product bundle';
  return url.replace(/^.*\//, '');
}

function frameName(frame: CallFrame): string {
  const where = frame.url ? `${frame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(apps|packages|dist)\//, '$1/')}:${frame.lineNumber + 1}` : '';
  return `${frame.functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
}

export function summarise(profile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i: it is charged to sample i's node.
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i] ?? 0)));
  let busy = 0;
  const fn = new Map<string, number>();
  const origin = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    if (IDLE.has(frame.functionName) && !frame.url) continue;
    busy += us;
    fn.set(frameName(frame), (fn.get(frameName(frame)) ?? 0) + us);
    origin.set(originOf(frame), (origin.get(originOf(frame)) ?? 0) + us);
  }
  const share = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, percent: Math.round((1000 * us) / busy) / 10 }));
  return {
    busyMs: Math.round(busy / 1000),
    byFunction: share(fn),
    byOrigin: share(origin).map(({ name, percent }) => ({ origin: name, percent })),
  };
}

export function readProfile(file: string): CpuProfile {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
}
