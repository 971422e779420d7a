#!/usr/bin/env node
// Benchmark: the running rackhand daemon's TFTP server against tftpd-hpa (in.tftpd) in the same run, same files, same clients.
//
// Usage: node bench/tftp.mjs [--runs 5] [--size-mib 32] [--clients 50,200] [--concurrent-mib 4] [--only 1,3] [--no-js] [--no-build]
//        [--json]  (last line: the summary `npm run bench` reads, bench/bench-summary.mjs)
// Set-up: installs tftpd-hpa, tftp-hpa, atftp and linux-perf when missing, and runs `npm run build` (TypeScript and
// the native TFTP engine) unless --no-build. rackhand is `node bin/rackhand.js serve` with TFTP enabled: the
// daemon's own code path, native engine ("rackhand") and, for reference, the JavaScript engine ("rh js", Node's
// dgram path) in a second daemon. Runs are interleaved (each round runs every server once) and the median is
// printed. Server CPU per DATA block: rackhand's from /proc (every thread of the daemon), tftpd-hpa's from
// `perf stat` over its process tree (it forks a child per transfer), both over the same runs.

import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureAnchors } from './ensure-anchors.mjs';
import { printSummary } from './bench-summary.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const RUNS = Number(arg('runs', 5));
const SIZE_MIB = Number(arg('size-mib', 32));
const CLIENTS = String(arg('clients', '50,200')).split(',').map(Number);
const CONC_MIB = Number(arg('concurrent-mib', 4));
const WITH_JS = !args.includes('--no-js');

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
ensureAnchors({ 'in.tftpd': 'tftpd-hpa', tftp: 'tftp-hpa', atftp: 'atftp', perf: 'linux-perf' });
if (!args.includes('--no-build')) execFileSync('npm', ['run', '--silent', 'build'], { cwd: repo, stdio: 'inherit' });

const work = fs.mkdtempSync(path.join(os.tmpdir(), `rh-tftp-bench-${process.pid}-`));
const children = [];
const cleanup = () => {
  for (const c of children) {
    if (c.exitCode !== null) continue;
    // perf stat does not pass its signal on to in.tftpd: stop its children (by pid) first.
    try {
      for (const pid of fs.readFileSync(`/proc/${c.pid}/task/${c.pid}/children`, 'utf8').trim().split(/\s+/)) {
        if (pid) process.kill(Number(pid), 'SIGTERM');
      }
    } catch {
      // already gone
    }
    c.kill('SIGTERM');
  }
  fs.rmSync(work, { recursive: true, force: true });
};
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

const root = path.join(work, 'root');
fs.mkdirSync(root);
fs.chmodSync(work, 0o755);
fs.chmodSync(root, 0o755);
const big = randomBytes(SIZE_MIB * 1024 * 1024);
const small = randomBytes(CONC_MIB * 1024 * 1024);
fs.writeFileSync(path.join(root, 'big.bin'), big, { mode: 0o644 });
fs.writeFileSync(path.join(root, 'small.bin'), small, { mode: 0o644 });
const sha = (b) => createHash('sha256').update(b).digest('hex');
const want = { 'big.bin': sha(big), 'small.bin': sha(small) };

async function freePort() {
  const s = dgram.createSocket('udp4');
  await new Promise((r) => s.bind(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
/** User + system seconds of a process, all its threads (the native engine's workers included). */
function procCpu(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}

/** A rackhand daemon with only TFTP on: the product's own path, with the given engine. */
async function startRackhand(engine) {
  const port = await freePort();
  const stateDir = fs.mkdtempSync(path.join(work, `state-${engine}-`));
  const config = path.join(stateDir, 'bench.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      bmc: { sync: { enabled: false } },
      sensors: { enabled: false },
      boot: { tftp: { enabled: true, listen: `127.0.0.1:${port}`, roots: [root], maxTransfers: 512, maxTransfersPerClient: 512, engine } },
    }),
  );
  const child = spawn(process.execPath, [path.join(repo, 'bin/rackhand.js'), 'serve'], {
    env: { ...process.env, RACKHAND_STATE_DIR: stateDir, RACKHAND_HTTP_LISTEN: '127.0.0.1:0', RACKHAND_CONFIG: config },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  await new Promise((resolve, reject) => {
    const onData = (d) => {
      out += d;
      if (/"msg":"TFTP listening"/.test(out)) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`rackhand exited ${code}:\n${out}`)));
  });
  const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
  const inUse = /"engine":"(\w+)"/.exec(out)?.[1];
  if (inUse !== engine) throw new Error(`rackhand runs the ${inUse} engine, not ${engine}:\n${out}`);
  child.stdout.resume();
  child.stderr.resume();
  /** The daemon's own TFTP counters, from its /metrics. */
  const counters = async () => {
    const text = await (await fetch(`${url}/metrics`)).text();
    return Object.fromEntries([...text.matchAll(/rackhand_tftp_events_total\{event="(\w+)"\} (\d+)/g)].map((m) => [m[1], Number(m[2])]));
  };
  return { name: engine === 'native' ? 'rackhand' : 'rh js', port, child, cpu: async () => procCpu(child.pid), counters };
}

/**
 * in.tftpd forks a child per transfer, which its own CPU time never includes; under perf stat's
 * interval mode the whole process tree's task-clock is sampled every 100 ms, and the servers take
 * turns, so summing the samples of a run's time window is that run's CPU.
 */
async function startTftpdHpa() {
  const port = await freePort();
  const argv = ['-L', '-a', `127.0.0.1:${port}`, '-s', root];
  const statFile = path.join(work, 'tftpd-hpa.perf');
  const t0 = performance.now();
  const child = spawn('perf', ['stat', '-I', '100', '-e', 'task-clock', '-x,', '-o', statFile, '--', 'in.tftpd', ...argv], { stdio: 'inherit' });
  children.push(child);
  await new Promise((r) => setTimeout(r, 300));
  if (child.exitCode !== null) throw new Error('in.tftpd did not start');
  const cpuUntil = (t) => {
    let sum = 0;
    for (const l of fs.readFileSync(statFile, 'utf8').split('\n')) {
      const [ts, ms] = l.trim().split(',');
      if (Number(ts) <= t && Number.isFinite(Number(ms))) sum += Number(ms) / 1000;
    }
    return sum;
  };
  const cpu = async () => {
    const t = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 250)); // let the interval covering t be written
    return cpuUntil(t + 0.1);
  };
  return { name: 'tftpd-hpa', port, child, cpu };
}

function run(cmd, argv) {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    c.stderr.on('data', (d) => (err += d));
    const t = setTimeout(() => c.kill('SIGKILL'), 300_000);
    c.on('exit', (code) => {
      clearTimeout(t);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}: ${err.slice(0, 300)}`));
    });
  });
}

function check(file, outFile) {
  const got = sha(fs.readFileSync(outFile));
  fs.rmSync(outFile);
  if (got !== want[file]) throw new Error(`${outFile}: checksum mismatch`);
}

let seq = 0;
const client = {
  // tftp-hpa: no options, 512-byte blocks, lockstep.
  hpa512: (port, file, o) => run('tftp', ['127.0.0.1', String(port), '-m', 'binary', '-c', 'get', file, o]),
  atftp: (opts) => (port, file, o) =>
    run('atftp', [...opts.flatMap((x) => ['--option', x]), '--get', '-r', file, '-l', o, '127.0.0.1', String(port)]),
};

/** One run: n clients at once; wall seconds and the server's CPU seconds. */
async function runOnce(server, sc) {
  const outs = Array.from({ length: sc.n }, () => path.join(work, `out-${seq++}`));
  const cpu0 = await server.cpu();
  const t0 = process.hrtime.bigint();
  await Promise.all(outs.map((o) => sc.fn(server.port, sc.file, o)));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = (await server.cpu()) - cpu0;
  for (const o of outs) check(sc.file, o);
  return { s, cpu };
}

const blocksOf = (sc) => sc.n * (Math.floor(fs.statSync(path.join(root, sc.file)).size / sc.blk) + 1);
const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');

const servers = [await startRackhand('native'), ...(WITH_JS ? [await startRackhand('js')] : []), await startTftpdHpa()];
console.log(`TFTP bench: ${SIZE_MIB} MiB file, median of ${RUNS} interleaved runs, loopback, ${os.cpus().length} CPUs, load ${load()}`);

// tftpd-hpa 5.2 has no windowsize (RFC 7440): it ignores the option and runs lockstep, so in the
// windowsize rows its column is its best (blksize 1468, lockstep) number.
const w16 = ['blksize 1468', 'windowsize 16'];
const scenarios = [
  // lockstep: the issue's goal is at least tftpd-hpa's speed in every lockstep case
  { label: `${SIZE_MIB} MiB, tftp-hpa client, 512-byte blocks (lockstep)`, file: 'big.bin', fn: client.hpa512, n: 1, blk: 512 },
  { label: `${SIZE_MIB} MiB, atftp blksize 1468 (lockstep)`, file: 'big.bin', fn: client.atftp(['blksize 1468']), n: 1, blk: 1468 },
  ...CLIENTS.map((n) => ({
    label: `${n} concurrent atftp × ${CONC_MIB} MiB, blksize 1468 (lockstep)`, file: 'small.bin', fn: client.atftp(['blksize 1468']), n, blk: 1468,
  })),
  { label: `${SIZE_MIB} MiB, atftp blksize 1468 windowsize 16 (tftpd-hpa: lockstep)`, file: 'big.bin', fn: client.atftp(w16), n: 1, blk: 1468 },
  {
    label: `${CLIENTS[0]} concurrent × ${CONC_MIB} MiB, blksize 1468 windowsize 16 (tftpd-hpa: lockstep)`,
    file: 'small.bin', fn: client.atftp(w16), n: CLIENTS[0], blk: 1468,
  },
];
const only = args.includes('--only') ? arg('only').split(',').map(Number) : undefined;
const rows = [];
for (const [i, sc] of scenarios.entries()) {
  if (only && !only.includes(i + 1)) continue;
  process.stderr.write(`  ${sc.label}…\n`);
  const per = new Map(servers.map((s) => [s.name, { times: [], cpu: 0 }]));
  for (let r = 0; r < RUNS; r++) {
    // Alternate who goes first, so neither always runs on a machine just warmed (or loaded) by the other.
    const order = r % 2 ? [...servers].reverse() : servers;
    for (const server of order) {
      const x = await runOnce(server, sc);
      per.get(server.name).times.push(x.s);
      per.get(server.name).cpu += x.cpu;
    }
  }
  const summary = (name) => {
    const { times, cpu } = per.get(name);
    times.sort((a, b) => a - b);
    return { s: times[Math.floor(times.length / 2)], usPerBlock: (cpu * 1e6) / (blocksOf(sc) * RUNS) };
  };
  rows.push([sc.label, Object.fromEntries(servers.map((s) => [s.name, summary(s.name)]))]);
}

const pad = (s, n) => String(s).padEnd(n);
const names = servers.map((s) => s.name);
const ratioOf = (r, name) => (r['tftpd-hpa'].s / r[name].s).toFixed(2) + 'x';
console.log(
  `${pad('scenario', 78)} ${names.map((n) => pad(`${n} s`, 12)).join('')}${pad('speed vs hpa', 13)}${WITH_JS ? pad('rh js vs hpa', 13) : ''}` +
    `${pad('CPU µs/block:', 14)}${names.map((n) => pad(n, 11)).join('')}CPU ratio`,
);
for (const [label, r] of rows) {
  console.log(
    `${pad(label, 78)} ${names.map((n) => pad(r[n].s.toFixed(3), 12)).join('')}${pad(ratioOf(r, 'rackhand'), 13)}` +
      `${WITH_JS ? pad(ratioOf(r, 'rh js'), 13) : ''}${pad('', 14)}${names.map((n) => pad(r[n].usPerBlock.toFixed(1), 11)).join('')}` +
      `${(r.rackhand.usPerBlock / r['tftpd-hpa'].usPerBlock).toFixed(2)}`,
  );
}
console.log('speed = tftpd-hpa time / rackhand time (>1: rackhand faster); CPU ratio = rackhand CPU per block / tftpd-hpa\'s (<1: rackhand cheaper)');
for (const s of servers.filter((x) => x.counters)) {
  const c = await s.counters();
  console.log(`${s.name}: ${c.transfers_ok} transfers ok, ${c.transfers_failed} failed, ${c.retransmits} retransmits (the daemon's /metrics)`);
}
console.log(`all outputs byte-exact (sha256); load at end ${load()}`);
if (args.includes('--json')) {
  printSummary(
    'tftp',
    rows.map(([label, r]) => {
      const speed = r['tftpd-hpa'].s / r.rackhand.s;
      const lockstep = label.includes('(lockstep)');
      return {
        name: `TFTP ${label}`,
        rackhand: `${r.rackhand.s.toFixed(3)} s, ${r.rackhand.usPerBlock.toFixed(1)} µs CPU/block`,
        tool: 'tftpd-hpa',
        anchor: `${r['tftpd-hpa'].s.toFixed(3)} s, ${r['tftpd-hpa'].usPerBlock.toFixed(1)} µs CPU/block`,
        ratio: speed,
        goal: lockstep ? '≥ 1.00× speed' : '',
        met: lockstep ? speed >= 1 : null,
      };
    }),
  );
}
// The servers are children holding the event loop open: exit, and the exit hook stops them.
process.exit(0);
