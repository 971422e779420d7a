#!/usr/bin/env node
// Benchmark: rackhand's TFTP server against tftpd-hpa (in.tftpd) in the same run, same files, same clients.
//
// Usage: node bench/tftp.mjs [--runs 3] [--size-mib 32] [--clients 50] [--concurrent-mib 4] [--only 1,3]
// Needs: tftpd-hpa (in.tftpd), tftp-hpa (tftp), atftp. Loopback only. With `perf` installed it also
// prints each server's CPU time per DATA block, which, unlike wall time, barely moves with machine load.

import { spawn, execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const RUNS = arg('runs', 3);
const SIZE_MIB = arg('size-mib', 32);
const CLIENTS = arg('clients', 50);
const CONC_MIB = arg('concurrent-mib', 4);

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
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

// Compile just the TFTP part (and what it imports) so the bench does not depend on a full build.
const out = path.join(work, 'js');
execFileSync(
  path.join(repo, 'node_modules/.bin/tsc'),
  ['--ignoreConfig', '--outDir', out, '--rootDir', path.join(repo, 'src'), '--module', 'nodenext',
    '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', '--skipLibCheck', '--types', 'node',
    path.join(repo, 'src/boot/tftp/tftp-server.ts')],
  { stdio: 'inherit', cwd: repo },
);
fs.writeFileSync(path.join(out, 'package.json'), '{"type":"module"}');

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

const hasPerf = (() => {
  try {
    execFileSync('perf', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** The server's CPU seconds so far: it answers a line on stdin with its process.cpuUsage(). */
async function startRackhand() {
  const code = `
    import { TftpServer } from ${JSON.stringify(path.join(out, 'boot/tftp/tftp-server.js'))};
    const s = new TftpServer({ address: '127.0.0.1', port: 0, roots: [${JSON.stringify(root)}],
      maxBlksize: 1468, maxWindowsize: 64, maxTransfers: 512 });
    const a = await s.start();
    process.stdout.write(a.port + '\\n');
    process.stdin.on('data', () => {
      const u = process.cpuUsage();
      process.stdout.write(JSON.stringify({ cpu: (u.user + u.system) / 1e6, stats: s.stats() }) + '\\n');
    });
    process.on('SIGTERM', () => s.stop().then(() => process.exit(0)));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  const lines = [];
  let waiter;
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    for (let i; (i = buf.indexOf('\n')) >= 0; buf = buf.slice(i + 1)) {
      lines.push(buf.slice(0, i));
      waiter?.();
    }
  });
  const line = async () => {
    while (lines.length === 0) await new Promise((r) => (waiter = r));
    return lines.shift();
  };
  const port = await Promise.race([
    line().then(Number),
    new Promise((_, reject) => child.once('exit', (c) => reject(new Error(`rackhand server exited ${c}`)))),
  ]);
  const info = async () => {
    child.stdin.write('?\n');
    return JSON.parse(await line());
  };
  return { name: 'rackhand', port, child, cpu: async () => (await info()).cpu, info };
}

/**
 * in.tftpd forks a child per transfer, which its own CPU time never includes; under perf stat's
 * interval mode the whole process tree's task-clock is sampled every 100 ms, and the servers take
 * turns, so summing the samples of a scenario's time window is that scenario's CPU.
 */
async function startTftpdHpa() {
  const port = await freePort();
  const argv = ['-L', '-a', `127.0.0.1:${port}`, '-s', root];
  const statFile = path.join(work, 'tftpd-hpa.perf');
  const t0 = performance.now();
  const child = hasPerf
    ? spawn('perf', ['stat', '-I', '100', '-e', 'task-clock', '-x,', '-o', statFile, '--', 'in.tftpd', ...argv], {
        stdio: 'inherit',
      })
    : spawn('in.tftpd', argv, { stdio: 'inherit' });
  children.push(child);
  await new Promise((r) => setTimeout(r, 300));
  if (child.exitCode !== null) throw new Error('in.tftpd did not start');
  const now = () => (performance.now() - t0) / 1000;
  const cpuUntil = (t) => {
    let sum = 0;
    for (const l of fs.readFileSync(statFile, 'utf8').split('\n')) {
      const [ts, ms] = l.trim().split(',');
      if (Number(ts) <= t && Number.isFinite(Number(ms))) sum += Number(ms) / 1000;
    }
    return sum;
  };
  const cpu = hasPerf
    ? async () => {
        const t = now();
        await new Promise((r) => setTimeout(r, 250)); // let the interval covering t be written
        return cpuUntil(t + 0.1);
      }
    : undefined;
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

async function timeOnce(server, fn, file, n) {
  const outs = Array.from({ length: n }, () => path.join(work, `out-${seq++}`));
  const t0 = process.hrtime.bigint();
  await Promise.all(outs.map((o) => fn(server.port, file, o)));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const o of outs) check(file, o);
  return s;
}

const blocksOf = (file, blksize, n) => n * RUNS * (Math.floor(fs.statSync(path.join(root, file)).size / blksize) + 1);

/** Median wall seconds, and server CPU microseconds per DATA block over all runs (when measurable). */
async function median(server, fn, file, n, blksize) {
  process.stderr.write(`  ${server.name} ${file} ×${n}…\n`);
  const cpu0 = await server.cpu?.();
  const xs = [];
  for (let i = 0; i < RUNS; i++) xs.push(await timeOnce(server, fn, file, n));
  const cpu1 = await server.cpu?.();
  xs.sort((a, b) => a - b);
  const usPerBlock = cpu0 === undefined ? undefined : ((cpu1 - cpu0) * 1e6) / blocksOf(file, blksize, n);
  return { s: xs[Math.floor(xs.length / 2)], usPerBlock };
}

const load = () => os.loadavg().map((x) => x.toFixed(1)).join(' ');
const rh = await startRackhand();
const hpa = await startTftpdHpa();
console.log(`TFTP bench: ${SIZE_MIB} MiB file, median of ${RUNS} runs, loopback, ${os.cpus().length} CPUs, load ${load()}`);

const rows = [];
// tftpd-hpa 5.2 has no windowsize (RFC 7440): it ignores the option and runs lockstep, so in the
// windowsize rows its column is its best (blksize 1468, lockstep) number.
const w16 = ['blksize 1468', 'windowsize 16'];
const scenarios = [
  { label: `${SIZE_MIB} MiB, tftp-hpa client, 512-byte blocks`, file: 'big.bin', fn: client.hpa512, n: 1, blk: 512 },
  { label: `${SIZE_MIB} MiB, atftp blksize 1468`, file: 'big.bin', fn: client.atftp(['blksize 1468']), n: 1, blk: 1468 },
  {
    label: `${CLIENTS} concurrent atftp × ${CONC_MIB} MiB, blksize 1468`,
    file: 'small.bin', fn: client.atftp(['blksize 1468']), n: CLIENTS, blk: 1468,
  },
  { label: `${SIZE_MIB} MiB, atftp blksize 1468 windowsize 16 (tftpd-hpa: lockstep)`, file: 'big.bin', fn: client.atftp(w16), n: 1, blk: 1468 },
  {
    label: `${CLIENTS} concurrent × ${CONC_MIB} MiB, blksize 1468 windowsize 16 (tftpd-hpa: lockstep)`,
    file: 'small.bin', fn: client.atftp(w16), n: CLIENTS, blk: 1468,
  },
];
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',').map(Number) : undefined;
for (const [i, sc] of scenarios.entries()) {
  if (only && !only.includes(i + 1)) continue;
  const a = await median(rh, sc.fn, sc.file, sc.n, sc.blk);
  const b = await median(hpa, sc.fn, sc.file, sc.n, sc.blk);
  rows.push([sc.label, a, b]);
}

const pad = (s, n) => String(s).padEnd(n);
const us = (x) => (x === undefined ? '-' : x.toFixed(1));
console.log(
  `${pad('scenario', 84)} ${pad('rackhand s', 11)} ${pad('tftpd-hpa s', 12)} ${pad('ratio', 7)} ${pad('CPU µs/block rh', 16)} tftpd-hpa`,
);
for (const [label, a, b] of rows) {
  console.log(
    `${pad(label, 84)} ${pad(a.s.toFixed(3), 11)} ${pad(b.s.toFixed(3), 12)} ${pad((b.s / a.s).toFixed(2) + 'x', 7)} ${pad(us(a.usPerBlock), 16)} ${us(b.usPerBlock)}`,
  );
}
console.log('ratio = tftpd-hpa time / rackhand time (>1: rackhand faster); CPU is the server side only, all runs');
const st = (await rh.info()).stats;
console.log(`rackhand: ${st.transfersOk} transfers ok, ${st.transfersFailed} failed, ${st.retransmits} retransmits, cache ${st.cacheHits} hits / ${st.cacheMisses} misses; load at end ${load()}`);
console.log('all outputs byte-exact (sha256)');
// The servers are children holding the event loop open: exit, and the exit hook stops them.
process.exit(0);
