#!/usr/bin/env node
// `npm run bench`: builds once, runs every anchor bench one after another (each installs its own anchors with apt-get
// and prints a --json summary line), and prints one table: bench, rackhand, anchor, ratio, goal.
//
// Usage: npm run bench [-- --quick] [-- --only site-sweep,tftp] [-- --log-dir DIR]
//   --quick    smaller sizes and fewer rounds (a few minutes; the full run took ~10 on this machine)
//   --only     run these benches only (names as in BENCHES below)
//   --log-dir  keep each bench's full output there (default: a temp dir, named at the end)
// The benches run one at a time, each once the CPUs are idle: each interleaves rackhand with its anchor in its own
// rounds, so the ratios are fair even on a shared machine; running two benches at once would make neither fair.
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { findSummary } from './bench-summary.mjs';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const arg = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const QUICK = args.includes('--quick');
const ONLY = arg('only')?.split(',');
const logDir = arg('log-dir') ?? mkdtempSync(path.join(tmpdir(), 'rackhand-bench-'));
mkdirSync(logDir, { recursive: true });

/** Every anchor bench: the command that prints its summary line, full and --quick. */
const BENCHES = [
  {
    name: 'site-sweep',
    cmd: ['bash', 'bench/site-sweep.sh', '--json', ...(QUICK ? ['--bmcs', '200', '--rounds', '3', '--api-seconds', '5'] : ['--bmcs', '200,1000'])],
  },
  { name: 'tftp', cmd: ['node', 'bench/tftp.mjs', '--no-build', '--json', ...(QUICK ? ['--runs', '3', '--size-mib', '8'] : [])] },
  { name: 'console', cmd: ['node', 'bench/console.mjs', ...(QUICK ? ['64', '1'] : ['256', '3']), '--json'] },
  { name: 'api', cmd: ['node', 'bench/api.mjs', '--json', ...(QUICK ? ['--servers', '10000', '--seconds', '5'] : ['--servers', '50000'])] },
  { name: 'deploy', cmd: ['bash', 'bench/run-ts.sh', 'bench/deploy.ts', '--no-vm', '--json', ...(QUICK ? ['--mib', '64', '--rounds', '3'] : [])] },
  {
    name: 'redfish-fanout',
    cmd: ['bash', 'bench/redfish-fanout.sh', '--json'],
    env: QUICK ? { BMCS: '50', ROUNDS: '3', COLD_ROUNDS: '2', WARMUP: '1' } : {},
  },
];
for (const n of ONLY ?? []) if (!BENCHES.some((b) => b.name === n)) throw new Error(`--only: no bench named ${n} (${BENCHES.map((b) => b.name).join(', ')})`);

const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');
const started = new Date();
const loadAtStart = load();
console.error(`npm run bench${QUICK ? ' --quick' : ''}: building (TypeScript and the native TFTP engine)…`);
// Its output to stderr: stdout is the table alone.
execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: ['ignore', 2, 'inherit'] });

/** Idle and total CPU time of the machine so far (/proc/stat, clock ticks). */
function cpuTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) };
}

/**
 * Waits (at most 60 s) until the CPUs were at least 90 % idle over a whole second: a bench that starts while the last
 * one's processes still wind down (200 TFTP clients, 1,000 simulators) measures their tail, rackhand and anchor alike.
 */
async function settle() {
  const t0 = performance.now();
  for (;;) {
    const a = cpuTicks();
    await new Promise((r) => setTimeout(r, 1000));
    const b = cpuTicks();
    const idle = (b.idle - a.idle) / Math.max(1, b.total - a.total);
    if (idle >= 0.9 || performance.now() - t0 > 60_000) return { idle, waitedS: (performance.now() - t0) / 1000 };
  }
}

/** Runs one bench, its output passed through to stderr and kept in the log dir; its summary rows, or one failure row. */
async function runBench(b) {
  const quiet = await settle();
  const t0 = performance.now();
  console.error(`\n=== ${b.name}: ${b.cmd.join(' ')}  (started after ${quiet.waitedS.toFixed(0)} s, CPUs ${(quiet.idle * 100).toFixed(0)} % idle)`);
  const child = spawn(b.cmd[0], b.cmd.slice(1), { cwd: root, env: { ...process.env, ...b.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    process.stderr.write(d);
  });
  child.stderr.on('data', (d) => {
    out += d;
    process.stderr.write(d);
  });
  const code = await new Promise((resolve) => child.on('close', resolve));
  writeFileSync(path.join(logDir, `${b.name}.log`), out);
  console.error(`=== ${b.name}: ${((performance.now() - t0) / 60_000).toFixed(1)} min`);
  const summary = findSummary(out);
  if (code !== 0 || !summary) {
    const why = code !== 0 ? `exited ${code}` : 'printed no summary';
    return [{ name: `${b.name}: FAILED (${why}; see ${path.join(logDir, `${b.name}.log`)})`, rackhand: '', tool: '', anchor: '', ratio: null, goal: '', met: false }];
  }
  return summary.rows;
}

const rows = [];
for (const b of BENCHES.filter((x) => !ONLY || ONLY.includes(x.name))) rows.push(...(await runBench(b)));

const cols = [
  ['bench', (r) => r.name],
  ['rackhand', (r) => r.rackhand],
  ['anchor', (r) => r.tool ?? ''],
  ['anchor number', (r) => r.anchor],
  ['ratio', (r) => (typeof r.ratio !== 'number' ? '' : `${r.ratio < 0.1 ? r.ratio.toPrecision(2) : r.ratio.toFixed(2)}×`)],
  ['goal', (r) => r.goal],
  ['met', (r) => (r.met === null || r.met === undefined ? '' : r.met ? 'yes' : 'NO')],
];
const cells = rows.map((r) => cols.map(([, f]) => String(f(r))));
const widths = cols.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
const line = (c) => c.map((x, i) => x.padEnd(widths[i])).join('  ').trimEnd();
console.log(`\nrackhand benches, ${started.toISOString()}: ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load ${loadAtStart} at start, ${load()} at end${QUICK ? ' (--quick sizes)' : ''}`);
console.log(line(cols.map(([h]) => h)));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const c of cells) console.log(line(c));
console.log(`(each bench interleaves rackhand and its anchor in the same run; full outputs in ${logDir})`);
process.exitCode = rows.some((r) => r.name.includes(': FAILED')) ? 1 : 0;
