// Benchmark: power state of N emulated Redfish BMCs (HTTPS, self-signed) through rackhand's redfish driver behind the
// BMC scheduler (the power sync's path) against DMTF's redfishtool run 16 in parallel, in the same run, on the same
// BMCs. Run via redfish-fanout.sh. The BMCs live in a child process (this file with --farm), so neither side pays
// for the other's peers.
//
// rackhand cold: a fresh driver per round (TLS handshake, service root, login, Systems, the system); warm: one driver
// kept across rounds (sessions and connections kept, one GET per BMC), as the power sync runs. Both sides' answers are
// checked against the farm's truth.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { BmcScheduler } from '../src/bmc/bmc-scheduler.js';
import type { BmcDriver, BmcTarget, PowerState } from '../src/bmc/bmc-driver.js';
import { RedfishDriver } from '../src/bmc/redfish/redfish-driver.js';
import { MIGRATIONS } from '../src/store/migrations.js';
import { CertificatePinsRepo } from '../src/store/repos/certificate-pins-repo.js';
import { openDatabase } from '../src/store/sqlite-store.js';
import { startRedfishFarm } from '../test/harness/redfish-bmc/redfish-farm.js';
import { printSummary } from './bench-summary.mjs';

const N = Number(process.env.BMCS ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const COLD_ROUNDS = Number(process.env.COLD_ROUNDS ?? 5);
const WARMUP = Number(process.env.WARMUP ?? 3);
const RFT_ROUNDS = Number(process.env.REDFISHTOOL_ROUNDS ?? 1);
const RFT_PARALLEL = 16;
const USER = 'admin';
const PASSWORD = 'bench-Secret-31';

interface FarmInfo {
  ports: number[];
  truth: PowerState[];
}

/** --farm: N emulated BMCs in this process until stdin closes; prints their ports and power states as one JSON line. */
async function farm(): Promise<void> {
  const f = await startRedfishFarm({ count: N, username: USER, password: PASSWORD });
  const info: FarmInfo = { ports: f.bmcs.map((b) => b.port), truth: f.bmcs.map((b) => (b.machine.powerState() === 'On' ? 'on' : 'off')) };
  process.stdout.write(`${JSON.stringify(info)}\n`);
  process.stdin.resume();
  await new Promise((r) => process.stdin.once('end', r));
  await f.stop();
  process.exit(0);
}

function startFarm(): Promise<{ info: FarmInfo; child: ChildProcess }> {
  const child = spawn(process.execPath, [process.argv[1]!, '--farm'], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (l) => resolve({ info: JSON.parse(l) as FarmInfo, child }));
    child.once('exit', (c) => reject(new Error(`farm exited (${c})`)));
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;
const list = (xs: number[]): string => xs.map((x) => (x / 1000).toFixed(3)).join(' ');
const wrong = (got: (PowerState | undefined)[], truth: PowerState[]) => got.filter((g, i) => g !== truth[i]).length;

function driverBehindScheduler(): { d: BmcDriver; raw: RedfishDriver } {
  // Pins in SQLite as the daemon keeps them (in memory here: the bench leaves no file behind).
  const raw = new RedfishDriver({ trust: { mode: 'pin', pins: new CertificatePinsRepo(openDatabase(':memory:', MIGRATIONS)) } });
  return { d: new BmcScheduler().wrap(raw), raw };
}

async function rackhandRound(d: BmcDriver, targets: BmcTarget[]): Promise<{ ms: number; states: (PowerState | undefined)[] }> {
  // The scheduler keeps minSpacingMs (100 ms) between two commands to one BMC; the power sync's rounds are a minute
  // apart, so a round here starts once that spacing has passed, untimed.
  await new Promise((r) => setTimeout(r, 150));
  const t0 = performance.now();
  const states = await Promise.all(targets.map((t) => d.powerStatus(t).catch(() => undefined)));
  return { ms: performance.now() - t0, states };
}

/** redfishtool for every BMC, RFT_PARALLEL processes at a time; the password is in a 0600 file (-c), not argv. */
async function redfishtoolRound(ports: number[], cred: string): Promise<{ ms: number; states: (PowerState | undefined)[] }> {
  const states: (PowerState | undefined)[] = new Array(ports.length);
  let next = 0;
  const env = { ...process.env };
  delete env.REQUESTS_CA_BUNDLE; // python-requests would let it override verify=False
  delete env.CURL_CA_BUNDLE;
  const one = (i: number) =>
    new Promise<void>((resolve) => {
      const c = spawn('redfishtool', ['-r', `127.0.0.1:${ports[i]}`, '-c', cred, '-S', 'Always', '-T', '20', 'Systems', '-1', '-P', 'PowerState'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      c.stdout!.on('data', (d) => (out += d));
      c.on('close', () => {
        try {
          const p = (JSON.parse(out) as { PowerState?: string }).PowerState;
          states[i] = p === 'On' ? 'on' : p === 'Off' ? 'off' : undefined;
        } catch {
          states[i] = undefined;
        }
        resolve();
      });
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: RFT_PARALLEL }, async () => {
      while (next < ports.length) await one(next++);
    }),
  );
  return { ms: performance.now() - t0, states };
}

async function main(): Promise<void> {
  const { info, child } = await startFarm();
  const dir = mkdtempSync(join(tmpdir(), 'rackhand-bench-rf-'));
  const cred = join(dir, 'cred.json');
  writeFileSync(cred, JSON.stringify({ user: USER, password: PASSWORD }), { mode: 0o600 });
  const targets: BmcTarget[] = info.ports.map((port) => ({ host: '127.0.0.1', port, username: USER, password: PASSWORD, cipherSuite: 3, privilege: 'administrator' }));
  console.log(`redfish fan-out: power state of ${N} emulated BMCs (HTTPS), ${availableParallelism()} CPUs, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  try {
    const cold: number[] = [];
    let errors = 0;
    for (let r = 0; r < COLD_ROUNDS; r++) {
      const { d, raw } = driverBehindScheduler();
      const res = await rackhandRound(d, targets);
      cold.push(res.ms);
      errors += wrong(res.states, info.truth);
      await raw.close();
    }
    const { d, raw } = driverBehindScheduler();
    for (let r = 0; r < WARMUP; r++) await rackhandRound(d, targets);
    const warm: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const res = await rackhandRound(d, targets);
      warm.push(res.ms);
      errors += wrong(res.states, info.truth);
    }
    await raw.close();
    await redfishtoolRound(info.ports.slice(0, RFT_PARALLEL), cred); // page cache, python bytecode
    const rft: number[] = [];
    let rftErrors = 0;
    for (let r = 0; r < RFT_ROUNDS; r++) {
      const res = await redfishtoolRound(info.ports, cred);
      rft.push(res.ms);
      rftErrors += wrong(res.states, info.truth);
    }
    const [c, w, t] = [median(cold), median(warm), median(rft)];
    console.log(`rackhand cold (new driver: TLS, root, login, system)  median ${fmt(c)}  [${list(cold)}]  wrong answers: ${errors}`);
    console.log(`rackhand warm (sessions kept, as the power sync)      median ${fmt(w)}  [${list(warm)}]`);
    if (rft.length) {
      console.log(`redfishtool x${RFT_PARALLEL} in parallel (Basic auth)            median ${fmt(t)}  [${list(rft)}]  wrong answers: ${rftErrors}`);
      console.log(`ratio redfishtool / rackhand: cold ${(t / c).toFixed(1)}x, warm ${(t / w).toFixed(1)}x (higher = rackhand faster)`);
      if (process.argv.includes('--json')) {
        const row = (name: string, ms: number) => ({
          name: `Redfish power state, ${N} BMCs, ${name}`, rackhand: fmt(ms), tool: `redfishtool ×${RFT_PARALLEL}`, anchor: fmt(t), ratio: ms / t, goal: '≤ 1× time', met: ms <= t,
        });
        printSummary('redfish-fanout', [row('cold (new driver)', c), row('warm (sessions kept)', w)]);
      }
    } else console.log('redfishtool skipped (REDFISHTOOL_ROUNDS=0)');
    if (errors || rftErrors) process.exitCode = 1;
  } finally {
    child.stdin!.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--farm')) void farm();
else void main();
