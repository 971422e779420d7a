// Benchmark: power status of N ipmi_sim BMCs through rackhand's native driver (powerStatusMany) against FreeIPMI
// ipmipower (one process, all hosts) and ipmitool (16 in parallel), all in the same run. Run via ipmi-fanout.sh.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimFarm } from '../test/harness/ipmi-sim.js';
import { powerStatusMany } from '../src/bmc/ipmi/ipmi-fanout.js';
import { IpmiDriver } from '../src/bmc/ipmi/ipmi-driver.js';
import type { BmcTarget } from '../src/bmc/bmc-driver.js';

const N = Number(process.env.BMCS ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
/** Untimed rounds after the cold one: V8 needs a few thousand packets to tier up (a daemon runs warm). */
const WARMUP = Number(process.env.WARMUP ?? 3);
const IPMITOOL_PARALLEL = 16;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (out += d));
    c.on('close', (code) => resolve({ code, out }));
    c.on('error', () => resolve({ code: -1, out }));
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (ms: number): string => `${(ms / 1000).toFixed(3)} s`;

async function main(): Promise<void> {
  const farm = await startSimFarm({ count: N });
  const tmp = mkdtempSync(join(tmpdir(), `rackhand-bench-ipmi-${process.pid}-`));
  try {
    const targets: BmcTarget[] = farm.bmcs.map((b) => ({ host: b.host, port: b.port, username: b.username, password: b.password, cipherSuite: 3, privilege: 'administrator' }));
    const password = farm.bmcs[0].password;

    // ipmipower: password from a 0600 config file, never on the command line.
    const conf = join(tmp, 'freeipmi.conf');
    writeFileSync(conf, `username ${farm.bmcs[0].username}\npassword ${password}\n`, { mode: 0o600 });
    chmodSync(conf, 0o600);
    const hosts = farm.bmcs.map((b) => `${b.host}:${b.port}`).join(',');

    // rackhand: one event loop, one UDP socket per BMC, full session (caps, open, RAKP 1-4, priv, status, close).
    const oursOnce = async (): Promise<[number, number]> => {
      const t0 = performance.now();
      const res = await powerStatusMany(targets, { timeoutMs: 1000, retries: 3 });
      return [performance.now() - t0, res.filter((x) => x.state === 'on').length];
    };
    const theirsOnce = async (): Promise<[number, number]> => {
      const t0 = performance.now();
      const res = await run('ipmipower', ['--config-file', conf, '-D', 'LAN_2_0', '-W', 'opensesspriv', '-h', hosts, '--stat']);
      return [performance.now() - t0, res.out.split('\n').filter((l) => /: on$/.test(l.trim())).length];
    };
    // Cold: the very first round of each (our JIT cold; the sims warmed by nobody but a start-up ping).
    const [oursCold] = await oursOnce();
    const [theirsCold] = await theirsOnce();
    for (let r = 0; r < WARMUP; r++) await oursOnce();
    // Warm rounds, interleaved so that neither tool always follows the other.
    const ours: number[] = [];
    const theirs: number[] = [];
    let oursOk = 0;
    let theirsOk = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? [oursOnce, theirsOnce] : [theirsOnce, oursOnce];
      for (const f of order) {
        const [ms, ok] = await f();
        if (f === oursOnce) {
          ours.push(ms);
          oursOk = ok;
        } else {
          theirs.push(ms);
          theirsOk = ok;
        }
      }
    }

    // What the power-state sync loop pays per poll once sessions exist: one authenticated round trip per BMC.
    const reused = new IpmiDriver({ timeoutMs: 1000, retries: 3 });
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
    const env = { ...process.env, IPMI_PASSWORD: password };
    const t0 = performance.now();
    let next = 0;
    let toolOk = 0;
    await Promise.all(Array.from({ length: IPMITOOL_PARALLEL }, async () => {
      while (next < farm.bmcs.length) {
        const b = farm.bmcs[next++];
        const r = await run('ipmitool', ['-I', 'lanplus', '-C', '3', '-H', b.host, '-p', String(b.port), '-U', b.username, '-E', 'chassis', 'power', 'status'], env);
        if (/Chassis Power is on/.test(r.out)) toolOk++;
      }
    }));
    const tool = performance.now() - t0;

    const o = median(ours);
    const t = median(theirs);
    console.log(`ipmi-fanout: power status of ${N} ipmi_sim BMCs (cipher suite 3, full session per BMC); median of ${ROUNDS} interleaved rounds after ${WARMUP} untimed warm-up rounds`);
    console.log(`  rackhand ipmi (powerStatusMany, 1 process) ${fmt(o)}  [${ours.map(fmt).join(', ')}]  cold ${fmt(oursCold)}  on=${oursOk}/${N}`);
    console.log(`  ipmipower -D LAN_2_0 -W opensesspriv --stat ${fmt(t)}  [${theirs.map(fmt).join(', ')}]  cold ${fmt(theirsCold)}  on=${theirsOk}/${N}`);
    console.log(`  ipmitool, ${IPMITOOL_PARALLEL} in parallel           ${fmt(tool)}  (1 round)  on=${toolOk}/${N}`);
    console.log(`  rackhand ipmi, sessions kept (sync loop)   ${fmt(median(steady))}  [${steady.map(fmt).join(', ')}]  (not comparable: no handshake)`);
    console.log(`  ratio ipmipower / rackhand = ${(t / o).toFixed(2)}x warm, ${(theirsCold / oursCold).toFixed(2)}x cold   (>= 1.00 means rackhand is no slower)`);
    console.log(`  ratio ipmitool  / rackhand = ${(tool / o).toFixed(2)}x`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    await farm.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
