// Benchmark: power status of N ipmi_sim BMCs through rackhand's native driver (powerStatusMany) against FreeIPMI
// ipmipower (one process, all hosts) and ipmitool (16 in parallel), all in the same run. Run via ipmi-fanout.sh.
//
// Cold rounds: each a fresh `node` process (this file with --child) that imports the driver and calls
// powerStatusMany once, interleaved with ipmipower runs; warm rounds: in this process after WARMUP untimed rounds,
// interleaved with ipmipower too. Both tools start after one untimed round each, so the simulators (and the page
// cache) are equally warm for both.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimFarm } from '../test/harness/ipmi-sim.js';
import { powerStatusMany } from '../src/bmc/ipmi/ipmi-fanout.js';
import { IpmiDriver } from '../src/bmc/ipmi/ipmi-driver.js';
import type { BmcTarget } from '../src/bmc/bmc-driver.js';

const N = Number(process.env.BMCS ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 9);
const COLD_ROUNDS = Number(process.env.COLD_ROUNDS ?? 7);
/** Untimed rounds before the warm ones: V8 needs a few thousand packets to tier up (a daemon runs warm). */
const WARMUP = Number(process.env.WARMUP ?? 4);
const IPMITOOL = process.env.IPMITOOL !== '0';
const IPMITOOL_PARALLEL = 16;
const OPTS = { timeoutMs: 1000, retries: 3 };

interface Run {
  code: number | null;
  out: string;
  ms: number;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env, stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const c = spawn(cmd, args, { env, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    c.stdout!.on('data', (d) => (out += d));
    c.stderr!.on('data', (d) => (out += d));
    c.on('close', (code) => resolve({ code, out, ms: performance.now() - t0 }));
    c.on('error', () => resolve({ code: -1, out, ms: performance.now() - t0 }));
    if (stdin !== undefined) c.stdin!.end(stdin);
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;
const list = (xs: number[]): string => xs.map((x) => (x / 1000).toFixed(3)).join(' ');
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

/** --child: one cold round in a fresh process; targets (with the password) arrive on stdin, never in argv. */
async function child(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const targets = JSON.parse(input) as BmcTarget[];
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const res = await powerStatusMany(targets, OPTS);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(c0);
  process.stdout.write(`${JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, on: res.filter((x) => x.state === 'on').length })}\n`);
}

async function main(): Promise<void> {
  const loadBefore = load();
  const farm = await startSimFarm({ count: N });
  const tmp = mkdtempSync(join(tmpdir(), `rackhand-bench-ipmi-${process.pid}-`));
  try {
    const targets: BmcTarget[] = farm.bmcs.map((b) => ({ host: b.host, port: b.port, username: b.username, password: b.password, cipherSuite: 3, privilege: 'administrator' }));
    const targetsJson = JSON.stringify(targets);
    const password = farm.bmcs[0].password;

    // ipmipower: password from a 0600 config file, never on the command line.
    const conf = join(tmp, 'freeipmi.conf');
    writeFileSync(conf, `username ${farm.bmcs[0].username}\npassword ${password}\n`, { mode: 0o600 });
    chmodSync(conf, 0o600);
    const hosts = farm.bmcs.map((b) => `${b.host}:${b.port}`).join(',');

    type Round = { ms: number; on: number; cpuMs?: number; processMs?: number };
    const theirs = async (): Promise<Round> => {
      const r = await run('ipmipower', ['--config-file', conf, '-D', 'LAN_2_0', '-W', 'opensesspriv', '-h', hosts, '--stat']);
      return { ms: r.ms, on: r.out.split('\n').filter((l) => /: on$/.test(l.trim())).length };
    };
    const oursCold = async (): Promise<Round> => {
      const r = await run(process.execPath, [process.argv[1], '--child'], process.env, targetsJson);
      const line = r.out.split('\n').find((l) => l.startsWith('{'));
      if (r.code !== 0 || !line) throw new Error(`cold child failed (${r.code}): ${r.out}`);
      const j = JSON.parse(line) as { ms: number; cpuMs: number; on: number };
      return { ms: j.ms, on: j.on, cpuMs: j.cpuMs, processMs: r.ms };
    };
    // rackhand warm: one event loop, full session per BMC (caps, open, RAKP 1-4, status, close), as powerStatusMany does it.
    const oursWarm = async (): Promise<Round> => {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const res = await powerStatusMany(targets, OPTS);
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(c0);
      return { ms, on: res.filter((x) => x.state === 'on').length, cpuMs: (cpu.user + cpu.system) / 1000 };
    };

    const interleave = async (ours: () => Promise<Round>, rounds: number): Promise<{ ours: Round[]; theirs: Round[] }> => {
      const o: Round[] = [];
      const t: Round[] = [];
      for (let r = 0; r < rounds; r++) {
        if (r % 2 === 0) {
          o.push(await ours());
          t.push(await theirs());
        } else {
          t.push(await theirs());
          o.push(await ours());
        }
      }
      return { ours: o, theirs: t };
    };

    // Untimed: the simulators' first sessions, and both tools' files into the page cache.
    await theirs();
    await oursCold();
    const cold = await interleave(oursCold, COLD_ROUNDS);
    for (let r = 0; r < WARMUP; r++) await oursWarm();
    const warm = await interleave(oursWarm, ROUNDS);

    // What the power-state sync loop pays per poll once sessions exist: one authenticated round trip per BMC.
    const reused = new IpmiDriver(OPTS);
    const steady: number[] = [];
    try {
      await powerStatusMany(targets, { driver: reused });
      for (let r = 0; r < ROUNDS; r++) {
        const t0 = performance.now();
        await powerStatusMany(targets, { driver: reused });
        steady.push(performance.now() - t0);
      }
    } finally {
      await reused.close();
    }

    // ipmitool, 16 processes at a time, password through IPMI_PASSWORD (-E).
    let tool = 0;
    let toolOk = 0;
    if (IPMITOOL) {
      const env = { ...process.env, IPMI_PASSWORD: password };
      const t0 = performance.now();
      let next = 0;
      await Promise.all(Array.from({ length: IPMITOOL_PARALLEL }, async () => {
        while (next < farm.bmcs.length) {
          const b = farm.bmcs[next++];
          const r = await run('ipmitool', ['-I', 'lanplus', '-C', '3', '-H', b.host, '-p', String(b.port), '-U', b.username, '-E', 'chassis', 'power', 'status'], env);
          if (/Chassis Power is on/.test(r.out)) toolOk++;
        }
      }));
      tool = performance.now() - t0;
    }

    const ms = (rs: Round[]): number[] => rs.map((r) => r.ms);
    const okOf = (rs: Round[]): string => `${Math.min(...rs.map((r) => r.on))}/${N}`;
    const ow = median(ms(warm.ours));
    const tw = median(ms(warm.theirs));
    const oc = median(ms(cold.ours));
    const ocp = median(cold.ours.map((r) => r.processMs!));
    const tc = median(ms(cold.theirs));
    console.log(`ipmi-fanout: power status of ${N} ipmi_sim BMCs, cipher suite 3, a full session per BMC; load average ${loadBefore} before, ${load()} after (${availableParallelism()} cores, shared with the simulators)`);
    console.log(`  cold: ${COLD_ROUNDS} interleaved rounds, each rackhand round a fresh node process (JIT cold)`);
    console.log(`    rackhand powerStatusMany (in the fresh process) median ${fmt(oc)}  [${list(ms(cold.ours))}]  cpu ${fmt(median(cold.ours.map((r) => r.cpuMs!)))}  on=${okOf(cold.ours)}`);
    console.log(`    rackhand, whole process incl. node start-up    median ${fmt(ocp)}  [${list(cold.ours.map((r) => r.processMs!))}]`);
    console.log(`    ipmipower -D LAN_2_0 -W opensesspriv --stat     median ${fmt(tc)}  [${list(ms(cold.theirs))}]  on=${okOf(cold.theirs)}`);
    console.log(`  warm: ${ROUNDS} interleaved rounds in one process after ${WARMUP} untimed rounds`);
    console.log(`    rackhand powerStatusMany                        median ${fmt(ow)}  [${list(ms(warm.ours))}]  cpu ${fmt(median(warm.ours.map((r) => r.cpuMs!)))}  on=${okOf(warm.ours)}`);
    console.log(`    ipmipower -D LAN_2_0 -W opensesspriv --stat     median ${fmt(tw)}  [${list(ms(warm.theirs))}]  on=${okOf(warm.theirs)}`);
    console.log(`  rackhand, sessions kept (sync loop)               median ${fmt(median(steady))}  [${list(steady)}]  (not comparable: no handshake)`);
    if (IPMITOOL) console.log(`  ipmitool, ${IPMITOOL_PARALLEL} in parallel                          ${fmt(tool)}  (1 round)  on=${toolOk}/${N}`);
    console.log(`  ratio ipmipower / rackhand = ${(tw / ow).toFixed(2)}x warm, ${(tc / oc).toFixed(2)}x cold (${(tc / ocp).toFixed(2)}x counting node start-up)   (>= 1.00: rackhand no slower)`);
    if (IPMITOOL) console.log(`  ratio ipmitool  / rackhand = ${(tool / ow).toFixed(2)}x warm`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    await farm.stop();
  }
}

(process.argv.includes('--child') ? child() : main()).catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
