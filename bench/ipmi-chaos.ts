// Chaos run: power reads through a lossy, corrupting UDP proxy in front of ipmi_sim, one handshake per read, for
// every fault mode, by rackhand's native driver, rackhand's ipmitool driver and bare `ipmitool -I lanplus -C 3`,
// side by side in the same run. Prints successes, wrong results and crashes per mode. Run via ipmi-chaos.sh.
//
// Each tool has its own simulators and proxies (same mode and rate, its own random stream), so session slots
// leaked by one tool's broken handshakes never starve another; LANES reads per tool run at once. rackhand's drivers run in a child process: a crash there
// is counted (and the child restarted), not fatal to the run. Before each read the simulator's power is set at
// random; a read that returns the other state is a wrong result.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { startSimFarm, type SimFarm } from '../test/harness/ipmi-sim.js';
import { startUdpProxy, type UdpProxy } from '../test/harness/udp-proxy.js';
import { CHAOS_MODES, rmcpChaos, type ChaosMode } from '../test/harness/rmcp-chaos.js';
import { seededRandom } from '../test/harness/rmcp-datagram.js';
import { IpmiDriver } from '../src/bmc/ipmi/ipmi-driver.js';
import { IpmitoolDriver } from '../src/bmc/ipmitool/ipmitool-driver.js';
import type { BmcTarget } from '../src/bmc/bmc-driver.js';

const READS = Number(process.env.READS ?? 30);
const RATE = Number(process.env.RATE ?? 0.2);
const SEED = Number(process.env.SEED ?? 1);
const MODES = (process.env.MODES ? process.env.MODES.split(',') : [...CHAOS_MODES]) as ChaosMode[];
/** Reads of one tool in flight at once, each lane with its own simulator and proxy (a failed bare ipmitool read takes ~20-60 s). */
const LANES = Number(process.env.LANES ?? 3);
const TOOLS = ['rackhand ipmi', 'rackhand ipmitool', 'bare ipmitool'] as const;
type Tool = (typeof TOOLS)[number];

interface Outcome {
  state?: 'on' | 'off';
  code?: string;
  crash?: boolean;
}

interface ChildRequest {
  id: number;
  tool: 'ipmi' | 'ipmitool' | 'stats';
  target?: BmcTarget;
}

// ------------------------------------------------------------------------------------------ child process

async function child(): Promise<void> {
  const ipmi = new IpmiDriver({ reuseSessions: false }); // the product's defaults, one handshake per read
  const ipmitool = new IpmitoolDriver({});
  process.on('message', (m: ChildRequest) => {
    if (m.tool === 'stats') {
      process.send!({ id: m.id, stats: ipmi.stats() });
      return;
    }
    const d = m.tool === 'ipmi' ? ipmi : ipmitool;
    d.powerStatus(m.target!).then(
      (state) => process.send!({ id: m.id, state }),
      (e: unknown) => process.send!({ id: m.id, code: `${(e as { code?: string }).code ?? 'THROWN'} (${String((e as Error).message).replace(/127\.0\.0\.1:\d+/g, 'BMC').slice(0, 70)})` }),
    );
  });
  process.send!({ ready: true });
}

class DriverHost {
  private proc?: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, (o: Outcome & { stats?: { rejectedDatagrams: number } }) => void>();
  crashes = 0;

  private async start(): Promise<ChildProcess> {
    if (this.proc) return this.proc;
    const p = fork(fileURLToPath(import.meta.url), ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc = p;
    p.on('message', (m: { id?: number; ready?: boolean } & Outcome) => {
      if (m.id === undefined) return;
      const r = this.pending.get(m.id);
      this.pending.delete(m.id);
      r?.(m);
    });
    p.on('exit', () => {
      if (this.proc === p) this.proc = undefined;
      if (this.pending.size > 0) this.crashes++;
      for (const r of this.pending.values()) r({ crash: true });
      this.pending.clear();
    });
    await new Promise<void>((resolve) => p.once('message', () => resolve()));
    return p;
  }

  async call(tool: ChildRequest['tool'], target?: BmcTarget): Promise<Outcome & { stats?: { rejectedDatagrams: number } }> {
    const p = await this.start();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      p.send({ id, tool, target });
    });
  }

  stop(): void {
    this.proc?.kill('SIGKILL');
  }
}

function bareIpmitool(port: number, password: string): Promise<Outcome> {
  return new Promise((resolve) => {
    const c = spawn('ipmitool', ['-I', 'lanplus', '-C', '3', '-H', '127.0.0.1', '-p', String(port), '-U', 'admin', '-E', 'chassis', 'power', 'status'], {
      env: { PATH: process.env.PATH, IPMI_PASSWORD: password, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr.on('data', () => undefined);
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      c.kill('SIGKILL');
    }, 120_000);
    c.on('close', (code, signal) => {
      clearTimeout(timer);
      const m = /Chassis Power is (on|off)/.exec(out);
      if (signal && !killed) resolve({ crash: true, code: signal });
      else if (code === 0 && m) resolve({ state: m[1] as 'on' | 'off' });
      else resolve({ code: killed ? 'KILLED' : `exit ${code}` });
    });
  });
}

// ------------------------------------------------------------------------------------------ the run

interface Tally {
  ok: number;
  wrong: number;
  crash: number;
  failed: Record<string, number>;
}

async function main(): Promise<void> {
  const farm: SimFarm = await startSimFarm({ count: TOOLS.length * LANES, maxSessions: 63 });
  const proxies: UdpProxy[] = [];
  const host = new DriverHost();
  const started = Date.now();
  try {
    for (const b of farm.bmcs) proxies.push(await startUdpProxy({ host: b.host, port: b.port }));
    const password = farm.bmcs[0].password;
    const target = (k: number): BmcTarget => ({ host: '127.0.0.1', port: proxies[k].port, username: 'admin', password, cipherSuite: 3, privilege: 'administrator' });
    /** Sim and proxy index of a tool's lane. */
    const at = (tool: number, lane: number): number => tool * LANES + lane;
    console.log(`ipmi chaos: ${READS} reads per mode and tool, rate ${RATE} per datagram (both ways), seed ${SEED}, ipmi_sim behind a UDP proxy, ${LANES} reads per tool at once`);
    console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    console.log('');
    const head = TOOLS.map((t) => t.padEnd(24)).join('');
    console.log(`${'mode'.padEnd(14)}${head}rackhand rejected`);
    console.log(`${''.padEnd(14)}${TOOLS.map(() => 'ok  wrong crash'.padEnd(24)).join('')}datagrams`);
    const totals = new Map<Tool, Tally>(TOOLS.map((t) => [t, { ok: 0, wrong: 0, crash: 0, failed: {} }]));
    const notes: string[] = [];
    for (const [mi, mode] of MODES.entries()) {
      // Fresh simulators: no half-open sessions left from the previous mode.
      await Promise.all(farm.bmcs.map((_, k) => farm.fault(k, 'restart')));
      const chaos = proxies.map((p, k) => {
        const c = rmcpChaos(mode, { rate: RATE, seed: SEED * 100_000 + mi * 100 + k });
        p.setInterceptor(c.interceptor);
        return c;
      });
      const hits = (tool: number): number => chaos.slice(at(tool, 0), at(tool, LANES)).reduce((n, c) => n + c.hits, 0);
      const tally = new Map<Tool, Tally>(TOOLS.map((t) => [t, { ok: 0, wrong: 0, crash: 0, failed: {} }]));
      const rejectedBefore = (await host.call('stats')).stats?.rejectedDatagrams ?? 0;
      const crashesBefore = host.crashes;
      const read = (tool: number, k: number): Promise<Outcome> =>
        tool === 0 ? host.call('ipmi', target(k)) : tool === 1 ? host.call('ipmitool', target(k)) : bareIpmitool(proxies[k].port, password);
      await Promise.all(TOOLS.map(async (name, tool) => {
        const t = tally.get(name)!;
        let next = 0;
        await Promise.all(Array.from({ length: LANES }, async (_, lane) => {
          const k = at(tool, lane);
          while (next < READS) {
            const i = next++;
            // The same sequence of power states for every tool, whatever lane a read lands on.
            const truth: 'on' | 'off' = seededRandom(SEED * 7919 + mi * 1000 + i)() < 0.5 ? 'on' : 'off';
            farm.setPower(k, truth);
            const r = await read(tool, k);
            if (r.crash) t.crash++;
            else if (r.state === truth) t.ok++;
            else if (r.state) t.wrong++;
            else t.failed[r.code ?? '?'] = (t.failed[r.code ?? '?'] ?? 0) + 1;
          }
        }));
      }));
      const rejected = ((await host.call('stats')).stats?.rejectedDatagrams ?? 0) - rejectedBefore;
      const cells = TOOLS.map((tool) => {
        const t = tally.get(tool)!;
        const all = totals.get(tool)!;
        all.ok += t.ok;
        all.wrong += t.wrong;
        all.crash += t.crash;
        for (const [c, n] of Object.entries(t.failed)) all.failed[c] = (all.failed[c] ?? 0) + n;
        return `${String(t.ok).padStart(2)}/${READS} ${String(t.wrong).padStart(3)} ${String(t.crash).padStart(4)}`.padEnd(24);
      });
      console.log(`${mode.padEnd(14)}${cells.join('')}${String(rejected).padEnd(6)}(faults injected: ${TOOLS.map((_, k) => hits(k)).join(' / ')})`);
      for (const tool of TOOLS) {
        const f = tally.get(tool)!.failed;
        if (Object.keys(f).length > 0) notes.push(`  ${mode} ${tool} failures: ${Object.entries(f).map(([c, n]) => `${c} ×${n}`).join(', ')}`);
      }
      if (host.crashes > crashesBefore) notes.push(`  ${mode}: rackhand child process crashed ${host.crashes - crashesBefore} time(s)`);
      proxies.forEach((p) => p.setInterceptor(undefined));
    }
    console.log('');
    const cells = TOOLS.map((tool) => {
      const t = totals.get(tool)!;
      return `${String(t.ok).padStart(3)}/${READS * MODES.length} ${String(t.wrong).padStart(2)} ${String(t.crash).padStart(3)}`.padEnd(24);
    });
    console.log(`${'total'.padEnd(14)}${cells.join('')}`);
    if (notes.length > 0) {
      console.log('');
      console.log('failures by code:');
      for (const n of notes) console.log(n);
    }
    const r = totals.get('rackhand ipmi')!;
    const b = totals.get('bare ipmitool')!;
    const perMode = 'rackhand ipmi >= bare ipmitool in every mode: see the table';
    console.log('');
    console.log(`rackhand ipmi: ${r.ok} ok, ${r.wrong} wrong, ${r.crash} crashes; bare ipmitool: ${b.ok} ok, ${b.wrong} wrong, ${b.crash} crashes (${perMode})`);
    console.log(`elapsed ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    host.stop();
    await Promise.all(proxies.map((p) => p.stop()));
    await farm.stop();
  }
}

if (process.argv.includes('--child')) {
  void child();
} else {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
