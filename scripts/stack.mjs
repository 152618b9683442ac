#!/usr/bin/env node
// Local stack: the project's own Redis and Cassandra 5, idempotent, all state under .stack/.
// Usage: node scripts/stack.mjs up|down|status [--nodes 3 | --fleet] [--redis-cluster] [--redis-only|--cassandra-only]
// `--redis-cluster`: a 3-master Redis Cluster (REDIS_CLUSTER_PORTS) instead of the single Redis.
// Dependency-free on purpose: it runs before `npm install` has.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const stackDir = path.join(root, '.stack');
const deployDir = path.join(root, 'deploy');

export const REDIS_PORT = Number(process.env.STACK_REDIS_PORT ?? 6390);
// The Redis Cluster's masters (each also listens on port + 10000 for the cluster bus).
const REDIS_CLUSTER_BASE_PORT = Number(process.env.STACK_REDIS_CLUSTER_PORT ?? 7301);
export const REDIS_CLUSTER_PORTS = [0, 1, 2].map((i) => REDIS_CLUSTER_BASE_PORT + i);
export const REDIS_CLUSTER_DIR = path.join(stackDir, 'redis-cluster');
// The single node and the 3-node cluster use different ports so the cluster's fault tests can run while
// the development node serves everything else.
export const SINGLE = { name: 'single', nodes: 1, nativePort: 9042, storagePort: 7000 };
export const CLUSTER = { name: 'cluster', nodes: 3, nativePort: 9142, storagePort: 7100 };
// The fleet's own 3-node cluster (the chaos runner and `npm run test:fleet` SIGKILL its nodes): other ports and
// data, so the store's cluster test, which stops the cluster it finds half down, never stops this one under a run.
export const FLEET = { name: 'fleet', nodes: 3, nativePort: 9242, storagePort: 7200 };
const CASSANDRA_HEAP = process.env.STACK_CASSANDRA_HEAP ?? '1G';

/** @typedef {{ name: string, nodes: number, nativePort: number, storagePort: number }} Topology */

/** @param {...unknown} a */
const log = (...a) => console.log('[stack]', ...a);

/**
 * @param {string} cmd
 * @param {string[]} args
 * @param {import('node:child_process').SpawnSyncOptions} [opts]
 */
function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}`);
}

/** @param {string} cmd */
function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/**
 * @param {string} file
 * @returns {number | undefined}
 */
function readPid(file) {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

/**
 * @param {string} host
 * @param {number} port
 * @returns {Promise<boolean>}
 */
function portOpen(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(1000);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('timeout', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(false));
  });
}

/** @type {(ms: number) => Promise<void>} */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------- Redis ----------

function ensureRedisInstalled() {
  if (has('redis-server')) return;
  log('redis-server missing: installing Debian package redis-server');
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  /** @param {[string, ...string[]]} args */
  const run = (args) => sh(sudo[0] ?? args[0], sudo.length ? args : args.slice(1));
  run(['apt-get', 'update', '-q']);
  run(['apt-get', 'install', '-y', '-q', 'redis-server']);
}

async function redisUp() {
  const dir = path.join(stackDir, 'redis');
  const pidFile = path.join(dir, 'redis.pid');
  // Idempotent: whatever already answers on the port (this checkout's or another's) is used as is.
  if (await redisPing(REDIS_PORT)) {
    log(`redis already up on 127.0.0.1:${REDIS_PORT}${readPid(pidFile) ? '' : ' (not started from this checkout)'}`);
    return false;
  }
  ensureRedisInstalled();
  fs.mkdirSync(dir, { recursive: true });
  sh('redis-server', [
    path.join(deployDir, 'redis', 'redis.conf'),
    '--port', String(REDIS_PORT),
    '--dir', dir,
    '--pidfile', pidFile,
    '--logfile', path.join(dir, 'redis.log'),
    '--daemonize', 'yes',
  ]);
  for (let i = 0; i < 100; i++) {
    if (await redisPing(REDIS_PORT)) {
      log(`redis up on 127.0.0.1:${REDIS_PORT}`);
      return true;
    }
    await sleep(100);
  }
  throw new Error(`redis did not answer PING on ${REDIS_PORT}; see ${dir}/redis.log`);
}

/**
 * @param {number} port
 * @returns {Promise<boolean>}
 */
function redisPing(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setTimeout(1000);
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')); });
    s.once('timeout', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(false));
  });
}

function redisDown() {
  const pid = readPid(path.join(stackDir, 'redis', 'redis.pid'));
  if (!pid) return log('redis not running');
  spawnSync('redis-cli', ['-p', String(REDIS_PORT), 'shutdown'], { stdio: 'ignore' });
  log('redis stopped');
}

// ---------- Redis Cluster ----------
// Three masters from the same Debian redis-server, each with its own port and data dir, AOF on and
// `noeviction` (deploy/redis/redis.conf), joined by `redis-cli --cluster create`. The chaos runner starts its
// own on free ports (it flushes and restarts them), hence the parameters.

/** @typedef {{ dir: string, ports: number[] }} RedisClusterLayout */

/** @type {RedisClusterLayout} */
export const STACK_REDIS_CLUSTER = { dir: REDIS_CLUSTER_DIR, ports: REDIS_CLUSTER_PORTS };

/** `REDIS_CLUSTER_NODES` for a layout. @param {RedisClusterLayout} layout */
export function redisClusterNodes(layout = STACK_REDIS_CLUSTER) {
  return layout.ports.map((p) => `127.0.0.1:${p}`).join(',');
}

/**
 * `redis-cli` against one port; its output.
 * @param {number} port
 * @param {string[]} args
 */
function redisCli(port, args) {
  const r = spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
}

/**
 * CLUSTER INFO of one node as a record (empty when it does not answer).
 * @param {number} port
 * @returns {Record<string, string>}
 */
function clusterInfo(port) {
  /** @type {Record<string, string>} */
  const info = {};
  for (const line of redisCli(port, ['cluster', 'info']).split(/\r?\n/)) {
    const at = line.indexOf(':');
    if (at > 0) info[line.slice(0, at)] = line.slice(at + 1);
  }
  return info;
}

/**
 * Starts a redis-server with deploy/redis/redis.conf (AOF, noeviction) on `port`, its data in `dir`, as a
 * cluster node or not; idempotent (a port already answering is left alone). True if started.
 * @param {string} dir
 * @param {number} port
 * @param {{ cluster?: boolean }} [opts]
 */
export async function startRedisServer(dir, port, opts = {}) {
  if (await redisPing(port)) return false;
  ensureRedisInstalled();
  fs.mkdirSync(dir, { recursive: true });
  sh('redis-server', [
    path.join(deployDir, 'redis', 'redis.conf'),
    '--port', String(port),
    '--dir', dir,
    '--pidfile', path.join(dir, 'redis.pid'),
    '--logfile', path.join(dir, 'redis.log'),
    ...(opts.cluster
      ? [
        '--cluster-enabled', 'yes',
        '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', '5000',
        // Without replicas a master that is away must not stop the slots of the others.
        '--cluster-require-full-coverage', 'no',
      ]
      : []),
    '--daemonize', 'yes',
  ]);
  for (let i = 0; i < 100; i++) {
    if (await redisPing(port)) return true;
    await sleep(100);
  }
  throw new Error(`redis-server ${port} did not answer PING; see ${dir}/redis.log`);
}

/**
 * Stops the redis-server on `port` (a clean SHUTDOWN: the AOF is complete) and waits until it is gone.
 * @param {number} port
 */
export async function stopRedisServer(port) {
  spawnSync('redis-cli', ['-p', String(port), 'shutdown'], { stdio: 'ignore' });
  for (let i = 0; i < 100 && (await redisPing(port)); i++) await sleep(100);
}

/**
 * Starts one node of a cluster layout, its data in `<layout.dir>/<port>`.
 * @param {RedisClusterLayout} layout
 * @param {number} port
 */
export function startRedisClusterNode(layout, port) {
  return startRedisServer(path.join(layout.dir, String(port)), port, { cluster: true });
}

/**
 * Waits until every node of the layout says the cluster is ok, all its nodes known and every slot assigned.
 * @param {RedisClusterLayout} layout
 * @param {number} [timeoutMs]
 */
export async function waitForRedisCluster(layout, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  const ok = () => layout.ports.every((p) => {
    const info = clusterInfo(p);
    return info.cluster_state === 'ok' && Number(info.cluster_known_nodes) === layout.ports.length && info.cluster_slots_assigned === '16384';
  });
  while (Date.now() < deadline) {
    if (ok()) return;
    await sleep(200);
  }
  throw new Error(`redis cluster on ${layout.ports.join(',')} not ok within ${timeoutMs} ms`);
}

/**
 * Starts the layout's nodes and creates the cluster the first time (a restart finds it in nodes.conf).
 * @param {RedisClusterLayout} [layout]
 * @returns {Promise<boolean>} whether any node was started
 */
export async function redisClusterUp(layout = STACK_REDIS_CLUSTER) {
  let started = false;
  for (const port of layout.ports) started = (await startRedisClusterNode(layout, port)) || started;
  const fresh = layout.ports.every((p) => Number(clusterInfo(p).cluster_slots_assigned ?? 0) === 0);
  if (fresh) {
    sh('redis-cli', ['--cluster', 'create', ...layout.ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], {
      stdio: 'ignore',
    });
  }
  await waitForRedisCluster(layout);
  log(`redis cluster ${started ? 'up' : 'already up'} on ${redisClusterNodes(layout)}`);
  return started;
}

/**
 * Stops the layout's nodes (those answering); their data stays in the layout's dir.
 * @param {RedisClusterLayout} [layout]
 */
export async function redisClusterDown(layout = STACK_REDIS_CLUSTER) {
  for (const port of layout.ports) if (await redisPing(port)) await stopRedisServer(port);
  log(`redis cluster on ${redisClusterNodes(layout)} stopped`);
}

// ---------- Cassandra ----------

const libDir = path.join(stackDir, 'cassandra', 'lib');

function ensureCassandraJars() {
  const marker = path.join(libDir, '.complete');
  if (fs.existsSync(marker)) return;
  log('resolving cassandra-all and its dependencies from Maven Central (first run only)');
  fs.mkdirSync(libDir, { recursive: true });
  sh('mvn', [
    '-B', '-q', '-f', path.join(deployDir, 'cassandra', 'pom.xml'),
    'dependency:copy-dependencies', `-DoutputDirectory=${libDir}`, '-DincludeScope=runtime',
  ]);
  fs.writeFileSync(marker, new Date().toISOString());
}

/** @param {Topology} topology */
function clusterDir(topology) {
  return path.join(stackDir, 'cassandra', topology.name);
}

// Murmur3 tokens spread evenly, one per node (num_tokens: 1 keeps start-up quick).
/**
 * @param {number} i
 * @param {number} n
 */
function initialToken(i, n) {
  const span = 2n ** 64n;
  return String(-(2n ** 63n) + (span / BigInt(n)) * BigInt(i));
}

/**
 * @param {Topology} topology
 * @param {number} i
 * @param {string} nodeDir
 */
function writeYaml(topology, i, nodeDir) {
  const template = fs.readFileSync(path.join(deployDir, 'cassandra', 'cassandra.yaml'), 'utf8');
  const yaml = template
    .replaceAll('${CLUSTER_NAME}', `internal-transfer-${topology.name}`)
    .replaceAll('${ADDRESS}', `127.0.0.${i + 1}`)
    .replaceAll('${SEED}', `127.0.0.1:${topology.storagePort}`)
    .replaceAll('${STORAGE_PORT}', String(topology.storagePort))
    .replaceAll('${NATIVE_PORT}', String(topology.nativePort))
    .replaceAll('${INITIAL_TOKEN}', initialToken(i, topology.nodes));
  const file = path.join(nodeDir, 'cassandra.yaml');
  fs.writeFileSync(file, yaml);
  return file;
}

/**
 * @param {Topology} topology
 * @param {string} nodeDir
 * @param {string} yamlFile
 */
function jvmArgs(topology, nodeDir, yamlFile) {
  const opts = fs
    .readFileSync(path.join(deployDir, 'cassandra', 'jvm17-server.options'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const jamm = fs.readdirSync(libDir).find((f) => /^jamm-.*\.jar$/.test(f));
  if (!jamm) throw new Error(`no jamm-*.jar in ${libDir}`);
  return [
    `-Xms${CASSANDRA_HEAP}`, `-Xmx${CASSANDRA_HEAP}`,
    ...opts,
    `-javaagent:${path.join(libDir, jamm)}`,
    '-Dcassandra-foreground=yes',
    `-Dcassandra.storagedir=${path.join(nodeDir, 'data')}`,
    `-Dcassandra.logdir=${path.join(nodeDir, 'logs')}`,
    `-Dcassandra.config=file://${yamlFile}`,
    `-Dlogback.configurationFile=${path.join(deployDir, 'cassandra', 'logback.xml')}`,
    '-Dcassandra.skip_wait_for_gossip_to_settle=0',
    // Faster schema changes for the development node: schema tables are not flushed after a change. Never on the
    // cluster, whose nodes the fault tests SIGKILL: a node restarting without a new keyspace's schema skips that
    // keyspace's writes in its commit log ("Skipped … mutations from unknown CF"), and two such nodes lose data.
    ...(topology === SINGLE ? ['-Dcassandra.unsafesystem=true'] : []),
    '-cp', path.join(libDir, '*'),
    'org.apache.cassandra.service.CassandraDaemon',
  ];
}

/**
 * @param {Topology} topology
 * @param {number} i
 */
async function startNode(topology, i) {
  const nodeDir = path.join(clusterDir(topology), `node${i + 1}`);
  const pidFile = path.join(nodeDir, 'cassandra.pid');
  if (readPid(pidFile)) return { nodeDir, started: false };
  // A node already serving this address and port (e.g. from another checkout) is used as is.
  if (await portOpen(`127.0.0.${i + 1}`, topology.nativePort)) return { nodeDir, started: false, foreign: true };
  fs.mkdirSync(path.join(nodeDir, 'logs'), { recursive: true });
  const yamlFile = writeYaml(topology, i, nodeDir);
  const out = fs.openSync(path.join(nodeDir, 'logs', 'stdout.log'), 'a');
  const child = spawn('java', jvmArgs(topology, nodeDir, yamlFile), { detached: true, stdio: ['ignore', out, out] });
  fs.writeFileSync(pidFile, String(child.pid));
  child.unref();
  return { nodeDir, started: true };
}

/**
 * @param {string} host
 * @param {number} port
 * @param {string} nodeDir
 * @param {number} [timeoutMs]
 * @param {boolean} [foreign]
 */
async function waitForCql(host, port, nodeDir, timeoutMs = 240_000, foreign = false) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await portOpen(host, port)) return;
    if (!foreign && !readPid(path.join(nodeDir, 'cassandra.pid'))) {
      throw new Error(`cassandra at ${host} exited during start; see ${nodeDir}/logs/system.log`);
    }
    await sleep(500);
  }
  throw new Error(`cassandra at ${host}:${port} did not open CQL within ${timeoutMs} ms`);
}

/** @param {Topology} topology */
async function cassandraUp(topology) {
  ensureCassandraJars();
  const t0 = Date.now();
  let startedAny = false;
  // The seed first; the others join once it serves, all together (no data to stream: auto_bootstrap off).
  const seed = await startNode(topology, 0);
  startedAny ||= seed.started;
  await waitForCql('127.0.0.1', topology.nativePort, seed.nodeDir, undefined, seed.foreign);
  const rest = [];
  for (let i = 1; i < topology.nodes; i++) {
    const n = await startNode(topology, i);
    startedAny ||= n.started;
    rest.push(waitForCql(`127.0.0.${i + 1}`, topology.nativePort, n.nodeDir, undefined, n.foreign));
  }
  await Promise.all(rest);
  if (startedAny) log(`cassandra ${topology.name} (${topology.nodes} node) up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  else log(`cassandra ${topology.name} already up`);
  return startedAny;
}

/** @param {Topology} topology */
async function cassandraDown(topology) {
  const dir = clusterDir(topology);
  if (!fs.existsSync(dir)) return;
  for (const node of fs.readdirSync(dir)) {
    const pidFile = path.join(dir, node, 'cassandra.pid');
    const pid = readPid(pidFile);
    if (!pid) continue;
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && readPid(pidFile); i++) await sleep(200);
    if (readPid(pidFile)) process.kill(pid, 'SIGKILL');
    log(`cassandra ${topology.name}/${node} stopped`);
  }
}

/**
 * @param {Topology} topology
 * @param {number} i
 */
export function nodePid(topology, i) {
  return readPid(path.join(clusterDir(topology), `node${i + 1}`, 'cassandra.pid'));
}

export { startNode, waitForCql, cassandraUp, cassandraDown, redisUp, redisDown, redisPing };

async function status() {
  const redis = (await redisPing(REDIS_PORT)) ? 'up' : 'down';
  console.log(`redis      127.0.0.1:${REDIS_PORT}  ${redis}`);
  for (const port of REDIS_CLUSTER_PORTS) {
    const info = clusterInfo(port);
    console.log(`redis      127.0.0.1:${port}  cluster  ${info.cluster_state ? `up (cluster ${info.cluster_state})` : 'down'}`);
  }
  for (const t of [SINGLE, CLUSTER, FLEET]) {
    for (let i = 0; i < t.nodes; i++) {
      const host = `127.0.0.${i + 1}`;
      const up = nodePid(t, i) && (await portOpen(host, t.nativePort));
      console.log(`cassandra  ${host}:${t.nativePort}  ${t.name}/node${i + 1}  ${up ? 'up' : 'down'}`);
    }
  }
}

async function main() {
  const [cmd = 'status', ...rest] = process.argv.slice(2);
  const nodesArg = rest.indexOf('--nodes');
  const nodes = nodesArg >= 0 ? Number(rest[nodesArg + 1]) : 1;
  const topology = rest.includes('--fleet') ? FLEET : nodes === 3 ? CLUSTER : nodes === 1 ? SINGLE : undefined;
  if (!topology) throw new Error('--nodes must be 1 or 3');
  const only = rest.includes('--cassandra-only') ? 'cassandra' : rest.includes('--redis-only') ? 'redis' : undefined;
  const redisCluster = rest.includes('--redis-cluster');
  switch (cmd) {
    case 'up': {
      const started = [];
      if (only !== 'cassandra' && redisCluster) {
        if (await redisClusterUp()) started.push('redis-cluster');
        log(`use it with REDIS_CLUSTER_NODES=${redisClusterNodes()}`);
      } else if (only !== 'cassandra' && (await redisUp())) started.push('redis');
      if (only !== 'redis' && (await cassandraUp(topology))) started.push(`cassandra-${topology.name}`);
      // Machine-readable last line so callers know what they must stop again.
      console.log(`STARTED=${started.join(',')}`);
      break;
    }
    case 'down':
      if (only !== 'cassandra' && redisCluster) await redisClusterDown();
      else if (only !== 'cassandra') redisDown();
      if (only !== 'redis') await cassandraDown(topology);
      break;
    case 'status':
      await status();
      break;
    default:
      throw new Error(`unknown command ${cmd}; use up|down|status`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((/** @type {unknown} */ e) => {
    console.error('[stack]', e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
