// Benchmark: the site power sweep as the product runs it — `POST /api/v1/power-sync` on a real `rackhand serve`
// (built dist/) whose inventory holds N ipmi_sim BMCs (driver ipmi): scheduler, driver, store — against FreeIPMI
// `ipmipower --stat` on the same BMCs, interleaved in the same run; then the API's p99 while power sweeps run, alone
// and with sensor sweeps (`POST /api/v1/sensor-sync`) at the same time.
//
// Usage: bash bench/site-sweep.sh [--bmcs 200,1000] [--rounds 7] [--api-seconds 10] [--api-rate 500] [--no-api] [--json]
//        [--farm process|hook] [--cpu-prof DIR]
//
// Two daemons over the same farm: one with `bmc.ipmi.keepSessions: false` (every sweep opens and closes a session per
// BMC, as ipmipower does) and one with the default (sessions kept between sweeps: one round trip per BMC). Every
// round runs all three, in a rotating order; before each round part of the farm changes power behind the BMCs'
// backs, and after it every server's stored power (and its read time) is checked against the farm, and every
// ipmipower answer too. Sims' CPU comes from /proc (their chassis hook children included), the daemons' too.
//
// The farm: `--farm process` (default) sims keep power as ipmi_sim's own child process, so a power read costs the sim
// microseconds, as on a real BMC. `--farm hook` sims run the tests' chassis hook, a shell forked for every read: on
// this 2-core machine the farm's shells then take most of the CPU and every client's time is the farm's time.
import { readFileSync, rmSync, writeFileSync, mkdtempSync, chmodSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimFarm, type SimFarm } from '../test/harness/ipmi-sim.js';
import { startRackhand, type RackhandProcess } from '../test/harness/rackhand-process.js';
import { DEFAULT_BMC_SCHEDULER_OPTIONS } from '../src/bmc/bmc-scheduler.js';
import { ensureAnchors } from './ensure-anchors.mjs';
import { printSummary, type SummaryRow } from './bench-summary.mjs';
import { paced } from './paced-load.mjs';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : dflt;
};
const SIZES = arg('bmcs', '200,1000').split(',').map(Number);
const ROUNDS = Number(arg('rounds', '7'));
const WARMUP = 2;
/**
 * Untimed sweeps each daemon makes before the rounds. A daemon sweeps its site every interval for months, so the
 * bench times its sweep code compiled: V8's optimizing tiers take about ten sweeps of 200 fresh sessions to settle
 * (fresh sweeps of 200 BMCs measured 0.11-0.13 s in the first eight, 0.07-0.09 s after). ipmipower starts cold by design.
 */
const DAEMON_WARMUP_SWEEPS = 10;
const API_SECONDS = Number(arg('api-seconds', '10'));
const API_RATE = Number(arg('api-rate', '500'));
const WITH_API = !args.includes('--no-api');
const JSON_OUT = args.includes('--json');
/** --cpu-prof DIR: the daemons write V8 CPU profiles there (`node --cpu-prof`), for chrome://inspect or speedscope. */
const CPU_PROF = arg('cpu-prof', '');
const FARM = arg('farm', 'process') as 'process' | 'hook';
if (FARM !== 'process' && FARM !== 'hook') throw new Error(`--farm: ${FARM} is not process or hook`);
/** The issue's goal: a fresh-session sweep in at most this fraction of ipmipower's time. */
const FRESH_GOAL = 0.8;
const API_P99_GOAL_MS = 20;
/**
 * ipmipower's fanout (-F): the daemon's global cap on BMC operations at once (64, also ipmipower's own default; a
 * sweep keeps half of it busy, bmc.sync.concurrency). ipmipower at -F 32 measured the same as at 64 on 200 sims. Without
 * -F ipmipower starts every host at once, and at 1,000 sims on this machine every one of its sessions timed out.
 */
const FANOUT = DEFAULT_BMC_SCHEDULER_OPTIONS.maxParallel;

for (const n of SIZES) if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`--bmcs: ${n} is not 1..1000`);
ensureAnchors({ ipmi_sim: 'openipmi', sdrcomp: 'openipmi', ipmipower: 'freeipmi-tools', setpriv: 'util-linux' });

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sec = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;
const list = (xs: number[]): string => xs.map((x) => (x / 1000).toFixed(3)).join(' ');
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

/** CPU milliseconds of a process so far (all its threads), its waited-for children (a sim's hook shells) included. */
function cpuMs(pid: number | undefined, children = false): number {
  if (pid === undefined) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 (utime stime cutime cstime) are 11-14 after the command; clock ticks of 10 ms.
    const ticks = Number(f[11]) + Number(f[12]) + (children ? Number(f[13]) + Number(f[14]) : 0);
    return ticks * 10;
  } catch {
    return 0;
  }
}

/**
 * A sim's CPU milliseconds: its one thread in nanoseconds (/proc/PID/schedstat), since a sim of the process farm
 * spends well under a 10 ms clock tick per sweep, plus its hook children's ticks.
 */
function simCpuMs(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const ns = Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]);
    return ns / 1e6 + cpuMs(pid, true) - cpuMs(pid);
  } catch {
    return 0;
  }
}

interface Daemon {
  name: string;
  rh: RackhandProcess;
  token: string;
}

async function startDaemon(name: string, keepSessions: boolean, farm: SimFarm): Promise<Daemon> {
  const rh = await startRackhand({
    // Product defaults for the scheduler and the driver; only the periodic loops are off, so each sweep is the bench's.
    config: { bmc: { sync: { enabled: false }, ipmi: { keepSessions } }, sensors: { enabled: false } },
    env: { RACKHAND_LOG_LEVEL: 'warn' },
    ownSession: true,
    nodeArgs: CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF}`, `--cpu-prof-name=${name}-${farm.bmcs.length}.cpuprofile`] : [],
  });
  const token = rh.cli(['token', 'create', '--role', 'admin']).stdout.trim();
  const servers = farm.bmcs.map((b) => ({
    id: b.index + 1,
    name: `sim-${b.index}`,
    bmc: { driver: 'ipmi', host: b.host, port: b.port, username: b.username, password: b.password },
  }));
  const r = await fetch(`${rh.url}/api/v1/servers/import`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(servers),
  });
  if (!r.ok) throw new Error(`${name}: import failed: ${r.status} ${await r.text()}`);
  return { name, rh, token };
}

interface Round {
  ms: number;
  /** CPU of the client (the daemon; ipmipower: unknown) and of every sim during the round. */
  clientCpuMs?: number;
  simCpuMs: number;
}

async function main(): Promise<void> {
  const rows: SummaryRow[] = [];
  const tmp = mkdtempSync(join(tmpdir(), `rackhand-bench-sweep-${process.pid}-`));
  console.log(`site-sweep: POST /api/v1/power-sync through \`rackhand serve\` vs \`ipmipower --stat\`, ${ROUNDS} interleaved rounds after ${WARMUP} untimed (and ${DAEMON_WARMUP_SWEEPS} untimed sweeps per daemon); ${availableParallelism()} cores shared with the simulators; load ${load()}`);
  try {
    for (const n of SIZES) rows.push(...(await size(n, tmp)));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`load at end ${load()}`);
  if (JSON_OUT) printSummary('site-sweep', rows);
}

async function size(n: number, tmp: string): Promise<SummaryRow[]> {
  const t0 = performance.now();
  // Own addresses: ipmipower prints a host without its port, and every answer is checked per host.
  const farm = await startSimFarm({ count: n, readyTimeoutMs: 180_000, ownAddresses: true, power: FARM });
  const farmStartMs = performance.now() - t0;
  const daemons: Daemon[] = [];
  try {
    // A third of the hosts start off: a sweep that read nothing would not pass the checks.
    for (let i = 0; i < n; i += 3) farm.setPower(i, 'off');
    const fresh = await startDaemon('fresh', false, farm);
    daemons.push(fresh);
    const kept = await startDaemon('kept', true, farm);
    daemons.push(kept);
    const simPids = farm.bmcs.map((b) => farm.pid(b.index));
    // Each sim runs in its own session (its own process group, to be killed with its children), and Linux's autogroup
    // scheduling gives every session the CPU share of a whole login: 1,000 busy sims outweighed the daemon (or
    // ipmipower) 1,000 to 1 on these 2 cores. Real BMCs do not take the host's CPU; at autogroup nice 19 each sim's
    // session weighs 15/1024 of a normal one, the same for both clients.
    let niced = 0;
    for (const p of simPids) {
      try {
        writeFileSync(`/proc/${p}/autogroup`, '19');
        niced++;
      } catch {
        // no autogroup in this kernel, or not allowed: the farm competes at full weight
      }
    }
    const simsCpu = (): number => simPids.reduce<number>((a, p) => a + simCpuMs(p), 0);
    let rssMiB = 0;
    for (const p of simPids) {
      try {
        rssMiB += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0) / 1024;
      } catch {
        // exited: counted as nothing
      }
    }
    console.log(`\n${n} BMCs (--farm ${FARM}): ipmi_sim farm up in ${sec(farmStartMs)}, ${rssMiB.toFixed(0)} MiB RSS in all (${(rssMiB / n).toFixed(1)} MiB each), ${niced} at autogroup nice 19`);

    // ipmipower: the password in a 0600 config file, never on the command line.
    const conf = join(tmp, `freeipmi-${n}.conf`);
    writeFileSync(conf, `username ${farm.bmcs[0]!.username}\npassword ${farm.bmcs[0]!.password}\n`, { mode: 0o600 });
    chmodSync(conf, 0o600);
    const hosts = farm.bmcs.map((b) => `${b.host}:${b.port}`).join(',');
    const byHost = new Map(farm.bmcs.map((b) => [b.host, b.index]));

    const check = (what: string, ok: boolean, detail: string): void => {
      if (!ok) throw new Error(`${n} BMCs, ${what}: wrong answer: ${detail}`);
    };

    const ipmipower = async (): Promise<Round> => {
      const c0 = simsCpu();
      const t = performance.now();
      const out = await new Promise<string>((resolve, reject) => {
        const c = spawn('ipmipower', ['--config-file', conf, '-D', 'LAN_2_0', '-W', 'opensesspriv', '-F', String(FANOUT), '-h', hosts, '--stat'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let o = '';
        c.stdout.on('data', (d) => (o += d));
        c.stderr.on('data', (d) => (o += d));
        c.on('error', reject);
        c.on('close', () => resolve(o));
      });
      const ms = performance.now() - t;
      const simCpuMs = simsCpu() - c0;
      let right = 0;
      for (const line of out.split('\n')) {
        const m = /^(\S+): (on|off)$/.exec(line.trim());
        if (!m) continue;
        const i = byHost.get(m[1]!);
        if (i !== undefined && farm.powerState(i) === m[2]) right++;
      }
      check('ipmipower', right === n, `${right}/${n} right:\n${out.slice(0, 500)}`);
      return { ms, simCpuMs };
    };

    const sweep = (d: Daemon) => async (): Promise<Round> => {
      const pid = d.rh.child().pid;
      const c0 = simsCpu();
      const d0 = cpuMs(pid);
      const startedAt = Date.now();
      const t = performance.now();
      const r = await postSync(d, 'power-sync');
      const body = (await r.json()) as { read?: number; unreachable?: number };
      const ms = performance.now() - t;
      const round: Round = { ms, clientCpuMs: cpuMs(pid) - d0, simCpuMs: simsCpu() - c0 };
      check(`${d.name} sweep`, r.ok && body.read === n && body.unreachable === 0, `${r.status} ${JSON.stringify(body)}`);
      await checkStored(d, farm, startedAt - 1000);
      return round;
    };

    const tools: { name: string; run: () => Promise<Round> }[] = [
      { name: 'fresh', run: sweep(fresh) },
      { name: 'kept', run: sweep(kept) },
      { name: 'ipmipower', run: ipmipower },
    ];
    for (const d of daemons) for (let k = 0; k < DAEMON_WARMUP_SWEEPS; k++) await sweep(d)();
    const rounds = new Map<string, Round[]>(tools.map((t) => [t.name, []]));
    for (let r = 0; r < WARMUP + ROUNDS; r++) {
      // Power changes behind the BMCs' backs: each round has new facts to read. A process farm can only go off, so
      // it loses fewer each round (a fiftieth) and keeps most hosts on to the end.
      for (let k = 0; k < Math.max(1, FARM === 'hook' ? n / 10 : n / 50); k++) {
        const i = Math.floor(Math.random() * n);
        farm.setPower(i, farm.powerState(i) === 'on' || FARM === 'process' ? 'off' : 'on');
      }
      for (let k = 0; k < tools.length; k++) {
        const tool = tools[(r + k) % tools.length]!;
        const res = await tool.run();
        if (r >= WARMUP) rounds.get(tool.name)!.push(res);
      }
    }

    const ms = (name: string): number[] => rounds.get(name)!.map((x) => x.ms);
    const med = (name: string, f: (x: Round) => number | undefined): number => median(rounds.get(name)!.map((x) => f(x) ?? 0));
    const theirs = median(ms('ipmipower'));
    const out = (label: string, name: string): void => {
      const client = name === 'ipmipower' ? '' : `  daemon CPU ${sec(med(name, (x) => x.clientCpuMs))}`;
      console.log(`  ${label.padEnd(44)} median ${sec(median(ms(name)))}  [${list(ms(name))}]${client}  sims' CPU ${sec(med(name, (x) => x.simCpuMs))}`);
    };
    out('rackhand, fresh sessions (keepSessions false)', 'fresh');
    out('rackhand, sessions kept (the default)', 'kept');
    out(`ipmipower -D LAN_2_0 -W opensesspriv -F ${FANOUT} --stat`, 'ipmipower');
    const freshRatio = median(ms('fresh')) / theirs;
    const keptRatio = median(ms('kept')) / theirs;
    console.log(`  time / ipmipower's: fresh ${freshRatio.toFixed(2)}× (goal ≤ ${FRESH_GOAL.toFixed(2)}×), kept ${keptRatio.toFixed(2)}×; every answer checked against the farm`);
    const rows: SummaryRow[] = [
      { name: `IPMI sweep, ${n} BMCs, fresh sessions`, rackhand: sec(median(ms('fresh'))), tool: `ipmipower -F ${FANOUT}`, anchor: sec(theirs), ratio: freshRatio, goal: `≤ ${FRESH_GOAL.toFixed(2)}× time`, met: freshRatio <= FRESH_GOAL },
      { name: `IPMI sweep, ${n} BMCs, sessions kept`, rackhand: sec(median(ms('kept'))), tool: `ipmipower -F ${FANOUT}`, anchor: sec(theirs), ratio: keptRatio, goal: 'below fresh', met: keptRatio < freshRatio },
    ];

    if (WITH_API) {
      const idle = await apiLoad(fresh, n, undefined);
      console.log(`  API at ${API_RATE} req/s, open loop (eq show, GET /api/v1/servers/:id), ${API_SECONDS} s each:`);
      const thread = (x: { cpuS: number; waitS: number; sendLagP99: number; lagP99Ms: number; lagMaxMs: number }): string =>
        `\n      event loop ${x.cpuS.toFixed(1)} s on a CPU, ${x.waitS.toFixed(1)} s waiting for one, its delay p99 ${x.lagP99Ms.toFixed(1)} ms max ${x.lagMaxMs.toFixed(0)} ms; the load generator sent late by ${x.sendLagP99.toFixed(1)} ms p99`;
      console.log(`    no sweep                       p50 ${idle.p50.toFixed(1)} ms  p99 ${idle.p99.toFixed(1)} ms  max ${idle.max.toFixed(0)} ms  errors ${idle.bad}${thread(idle)}`);
      const phases = [
        { d: fresh, sensors: false, label: 'sweeps back to back (fresh)', row: 'fresh-session sweeps' },
        { d: kept, sensors: false, label: 'sweeps back to back (kept) ', row: 'kept-session sweeps' },
        { d: kept, sensors: true, label: 'and sensor sweeps (kept)    ', row: 'kept-session power and sensor sweeps' },
      ];
      for (const { d, sensors, label, row } of phases) {
        if (sensors) {
          // A daemon that has run a while has every BMC's SDR (the sensor records) in its cache: one pass first.
          const t = performance.now();
          const r = await postSync(d, 'sensor-sync');
          const pass = (await r.json()) as { read?: number };
          check('first sensor pass', r.ok && pass.read === n, JSON.stringify(pass));
          console.log(`    (a first sensor pass, every SDR walked: ${sec(performance.now() - t)})`);
        }
        const busy = await apiLoad(d, n, d, sensors);
        const passes = `${busy.sweeps} sweeps${sensors ? `, ${busy.sensorReads} BMCs' sensors read` : ''}`;
        console.log(`    ${label}    p50 ${busy.p50.toFixed(1)} ms  p99 ${busy.p99.toFixed(1)} ms  max ${busy.max.toFixed(0)} ms  errors ${busy.bad}  (${passes})${thread(busy)}`);
        rows.push({
          name: `API p99 during ${row}, ${n} BMCs`,
          rackhand: `${busy.p99.toFixed(1)} ms`,
          tool: 'rackhand, no sweep', anchor: `${idle.p99.toFixed(1)} ms`,
          ratio: null,
          goal: `< ${API_P99_GOAL_MS} ms`,
          met: busy.p99 < API_P99_GOAL_MS && busy.bad === 0,
        });
      }
    }
    return rows;
  } finally {
    for (const d of daemons) {
      await d.rh.stop(); // SIGTERM: a clean stop (and the CPU profile written)
      await d.rh.cleanup();
    }
    await farm.stop();
  }
}

/** Every server's stored power equals the farm's, read during this round (not left over from an earlier one). */
async function checkStored(d: Daemon, farm: SimFarm, since: number): Promise<void> {
  const wrong: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < farm.bmcs.length) {
      const i = next++;
      const r = await fetch(`${d.rh.url}/api/v1/servers/${i + 1}`, { headers: { authorization: `Bearer ${d.token}` } });
      const s = (await r.json()) as { power?: { state?: string; readAt?: string } };
      const readAt = Date.parse(s.power?.readAt ?? '');
      if (s.power?.state !== farm.powerState(i) || !(readAt >= since)) wrong.push(`server ${i + 1}: ${JSON.stringify(s.power)} vs ${farm.powerState(i)}`);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  if (wrong.length) throw new Error(`${d.name}: ${wrong.length} servers stored a wrong power state: ${wrong.slice(0, 5).join('; ')}`);
}

/**
 * The daemon's main thread (its event loop): seconds on a CPU and seconds runnable but waiting for one
 * (/proc/PID/schedstat). The wait tells a daemon starved by the sims sharing its cores from one busy with itself.
 */
function schedstat(pid: number | undefined): { cpuS: number; waitS: number } {
  try {
    const [cpu, wait] = readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number);
    return { cpuS: cpu! / 1e9, waitS: wait! / 1e9 };
  } catch {
    return { cpuS: 0, waitS: 0 };
  }
}

/** One pass of a site-wide loop on demand: `power-sync` or `sensor-sync`. */
function postSync(d: Daemon, what: 'power-sync' | 'sensor-sync'): Promise<Response> {
  return fetch(`${d.rh.url}/api/v1/${what}`, { method: 'POST', headers: { authorization: `Bearer ${d.token}` } });
}

/**
 * From the daemon's /metrics: the sensor reads it has made that the BMC answered (rackhand_bmc_command_duration_seconds,
 * op "sensors", ok), and how late its event loop ran timers since the previous scrape (prom-client's
 * nodejs_eventloop_lag_*, reset by each scrape): a main thread blocked by its own work shows here, one waiting for a CPU
 * mostly does not.
 */
async function scrape(d: Daemon): Promise<{ sensorReads: number; lagP99Ms: number; lagMaxMs: number }> {
  const text = await (await fetch(`${d.rh.url}/metrics`)).text();
  const gauge = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN) * 1000;
  return {
    sensorReads: [...text.matchAll(/^rackhand_bmc_command_duration_seconds_count\{[^}]*op="sensors",result="ok"[^}]*\} (\d+)$/gm)].reduce((a, m) => a + Number(m[1]), 0),
    lagP99Ms: gauge('nodejs_eventloop_lag_p99_seconds'),
    lagMaxMs: gauge('nodejs_eventloop_lag_max_seconds'),
  };
}

/**
 * Open-loop requests at API_RATE on `d` for API_SECONDS (latency from when each was due); when `sweeping` is given,
 * power-syncs run back to back meanwhile, and with `sensors` sensor-syncs too (each a pass of the sensor sampling).
 */
async function apiLoad(
  d: Daemon,
  n: number,
  sweeping: Daemon | undefined,
  sensors = false,
): Promise<{ p50: number; p99: number; max: number; bad: number; sweeps: number; sensorReads: number; cpuS: number; waitS: number; sendLagP99: number; lagP99Ms: number; lagMaxMs: number }> {
  const reads0 = (await scrape(d)).sensorReads;
  const s0 = schedstat(d.rh.child().pid);
  let k = 0;
  let stop = false;
  // Power sweeps are counted; a sensor pass of 1,000 BMCs (4 at a time, as the sampler runs) outlasts the window, so
  // its reads are counted instead (sensorReads).
  let sweeps = 0;
  const backToBack = async (what: Parameters<typeof postSync>[1]): Promise<void> => {
    while (sweeping && !stop) {
      const r = await postSync(sweeping, what);
      const text = await r.text();
      if (!r.ok) throw new Error(`${what}: ${r.status} ${text}`);
      if (!stop && what === 'power-sync') sweeps++;
    }
  };
  const loop = Promise.all([backToBack('power-sync'), sensors ? backToBack('sensor-sync') : undefined]);
  try {
    const r = await paced(d.rh.url, API_RATE, API_SECONDS, () => {
      const id = 1 + Math.floor(Math.random() * n);
      return k++ % 2 === 0
        ? { method: 'GET', path: `/api/eq?action=show&id=${id}&token=${d.token}` }
        : { method: 'GET', path: `/api/v1/servers/${id}`, headers: { authorization: `Bearer ${d.token}` } };
    });
    const s1 = schedstat(d.rh.child().pid);
    const end = await scrape(d);
    return { p50: r.p50, p99: r.p99, max: r.max, bad: r.errors, sweeps, sensorReads: end.sensorReads - reads0, cpuS: s1.cpuS - s0.cpuS, waitS: s1.waitS - s0.waitS, sendLagP99: r.sendLagP99, lagP99Ms: end.lagP99Ms, lagMaxMs: end.lagMaxMs };
  } finally {
    stop = true;
    await loop;
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
