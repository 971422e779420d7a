#!/usr/bin/env node
// Benchmark: rackhand's TFTP server against tftpd-hpa (in.tftpd) in the same run, same files, same clients.
//
// Usage: node bench/tftp.mjs [--runs 3] [--size-mib 32] [--clients 50] [--concurrent-mib 4]
// Needs: tftpd-hpa (in.tftpd), tftp-hpa (tftp), atftp. Loopback only.

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
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
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
  { stdio: 'inherit' },
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

async function startRackhand() {
  const code = `
    import { TftpServer } from ${JSON.stringify(path.join(out, 'boot/tftp/tftp-server.js'))};
    const s = new TftpServer({ address: '127.0.0.1', port: 0, roots: [${JSON.stringify(root)}],
      maxBlksize: 1468, maxWindowsize: 64, maxTransfers: 512 });
    const a = await s.start();
    process.stdout.write(a.port + '\\n');
    process.on('SIGTERM', () => s.stop().then(() => process.exit(0)));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const port = await new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    child.once('exit', (c) => reject(new Error(`rackhand server exited ${c}`)));
  });
  return { name: 'rackhand', port, child };
}

async function startTftpdHpa() {
  const port = await freePort();
  const child = spawn('in.tftpd', ['-L', '-a', `127.0.0.1:${port}`, '-s', root], { stdio: 'inherit' });
  children.push(child);
  await new Promise((r) => setTimeout(r, 300));
  if (child.exitCode !== null) throw new Error('in.tftpd did not start');
  return { name: 'tftpd-hpa', port, child };
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

async function median(server, fn, file, n = 1) {
  process.stderr.write(`  ${server.name} ${file} ×${n}…\n`);
  const xs = [];
  for (let i = 0; i < RUNS; i++) xs.push(await timeOnce(server, fn, file, n));
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)];
}

const rh = await startRackhand();
const hpa = await startTftpdHpa();
console.log(`TFTP bench: ${SIZE_MIB} MiB file, median of ${RUNS} runs, loopback, ${os.cpus().length} CPUs`);

const rows = [];
const scenarios = [
  { label: `${SIZE_MIB} MiB, tftp-hpa client, 512-byte blocks`, file: 'big.bin', fn: client.hpa512, n: 1 },
  { label: `${SIZE_MIB} MiB, atftp blksize 1468`, file: 'big.bin', fn: client.atftp(['blksize 1468']), n: 1 },
  {
    label: `${CLIENTS} concurrent atftp × ${CONC_MIB} MiB, blksize 1468`,
    file: 'small.bin', fn: client.atftp(['blksize 1468']), n: CLIENTS,
  },
];
for (const sc of scenarios) {
  const a = await median(rh, sc.fn, sc.file, sc.n);
  const b = await median(hpa, sc.fn, sc.file, sc.n);
  rows.push([sc.label, a, b]);
}
// tftpd-hpa 5.2 has no windowsize (RFC 7440): it ignores the option and runs lockstep, so its
// column is its best (blksize 1468, lockstep) number.
const w16 = await median(rh, client.atftp(['blksize 1468', 'windowsize 16']), 'big.bin');
const hpaW = await median(hpa, client.atftp(['blksize 1468', 'windowsize 16']), 'big.bin');
rows.push([`${SIZE_MIB} MiB, atftp blksize 1468 windowsize 16 (tftpd-hpa: no windowsize, runs lockstep)`, w16, hpaW]);
const w16c = await median(rh, client.atftp(['blksize 1468', 'windowsize 16']), 'small.bin', CLIENTS);
const hpaWc = await median(hpa, client.atftp(['blksize 1468', 'windowsize 16']), 'small.bin', CLIENTS);
rows.push([`${CLIENTS} concurrent × ${CONC_MIB} MiB, blksize 1468 windowsize 16 (tftpd-hpa lockstep)`, w16c, hpaWc]);

const pad = (s, n) => String(s).padEnd(n);
console.log(`${pad('scenario', 96)} ${pad('rackhand s', 11)} ${pad('tftpd-hpa s', 12)} ratio (hpa/rackhand, >1 = rackhand faster)`);
for (const [label, a, b] of rows) {
  console.log(`${pad(label, 96)} ${pad(a.toFixed(3), 11)} ${pad(b.toFixed(3), 12)} ${(b / a).toFixed(2)}x`);
}
console.log('all outputs byte-exact (sha256)');
// The servers are children holding the event loop open: exit, and the exit hook stops them.
process.exit(0);
