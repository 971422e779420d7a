// Test harness: a private network namespace with bridge br0 (10.213.x.1/24), taps for VMs, and process tracking.

import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface NetnsLabOptions {
  /** Namespace name; default rh-<pid>-<random>. */
  name?: string;
  /** Third octet of 10.213.X.0/24; default derived from the pid (a namespace is private anyway). */
  subnetOctet?: number;
  /**
   * IPv6 in the namespace. iPXE waits for IPv6 autoconfiguration after every DHCP, ~11-13 s when no router
   * answers, whether or not the bridge has IPv6 (measured: disabling it does not help). 'ra' (default when
   * python3 exists) runs netns-ra.py, which advertises a ULA prefix once a second so iPXE is done in ~1 s;
   * 'off' disables IPv6 in the namespace and accepts the wait.
   */
  ipv6?: 'off' | 'ra';
}

export interface NetnsLab {
  ns: string;
  ipv6: 'off' | 'ra';
  bridge: string; // br0
  bridgeIp: string; // 10.213.X.1
  prefix: string; // 10.213.X
  subnet: string; // 10.213.X.0/24
  /** Run a command inside the namespace; rejects on a non-zero exit. */
  exec(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** Start a long-running process inside the namespace; it is killed by destroy(). */
  spawnIn(cmd: string, args: string[], opts?: SpawnOptions): ChildProcess;
  /** Create a tap on br0 (name max 15 chars); removed by destroy(). */
  addTap(name: string): Promise<string>;
  removeTap(name: string): Promise<void>;
  /** Kill everything started here, then delete the namespace (and with it br0 and every tap). */
  destroy(): Promise<void>;
}

let seq = 0;
const live = new Set<string>();
let exitHookInstalled = false;

/** Last resort when a test process dies without afterAll: never leave a namespace behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const ns of live) {
      try {
        for (const pid of execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split(/\s+/).filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
        execFileSync('ip', ['netns', 'del', ns]);
      } catch {
        /* best effort */
      }
    }
  });
}

export async function createNetnsLab(opts: NetnsLabOptions = {}): Promise<NetnsLab> {
  const ns = opts.name ?? `rh-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 6)}`;
  const octet = opts.subnetOctet ?? 16 + ((process.pid + seq) % 200);
  const prefix = `10.213.${octet}`;
  const bridge = 'br0';
  const bridgeIp = `${prefix}.1`;
  const children = new Set<ChildProcess>();
  const ipv6 = opts.ipv6 ?? (havePython() ? 'ra' : 'off');

  const ip = (...args: string[]) => run('ip', ['-n', ns, ...args]);
  const exec = async (cmd: string, args: string[]) => {
    const r = await run('ip', ['netns', 'exec', ns, cmd, ...args], { maxBuffer: 16 << 20 });
    return { stdout: r.stdout, stderr: r.stderr };
  };

  await run('ip', ['netns', 'add', ns]);
  live.add(ns);
  installExitHook();
  try {
    await ip('link', 'set', 'lo', 'up');
    // Taps never need IPv6 addresses of their own; br0 gets one only in 'ra' mode.
    await exec('sysctl', ['-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
    await ip('link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
    if (ipv6 === 'ra') {
      await exec('sysctl', ['-qw', `net.ipv6.conf.${bridge}.disable_ipv6=0`, `net.ipv6.conf.${bridge}.accept_ra=0`,
        `net.ipv6.conf.${bridge}.autoconf=0`, `net.ipv6.conf.${bridge}.accept_dad=0`]);
    }
    // A fixed MAC: a bridge otherwise takes its lowest port's MAC, which changes as VM taps come and go.
    await ip('link', 'set', bridge, 'address', `02:00:0a:d5:${octet.toString(16).padStart(2, '0')}:01`);
    await ip('addr', 'add', `${bridgeIp}/24`, 'dev', bridge);
    await ip('link', 'set', bridge, 'up');
    // No default route in here: limited broadcast needs its own route for a userspace DHCP server's sendto().
    await ip('route', 'add', '255.255.255.255/32', 'dev', bridge);
  } catch (e) {
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
    live.delete(ns);
    throw e;
  }

  const taps = new Set<string>();
  const lab: NetnsLab = {
    ns,
    ipv6,
    bridge,
    bridgeIp,
    prefix,
    subnet: `${prefix}.0/24`,
    exec,
    spawnIn(cmd, args, spawnOpts = {}) {
      const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOpts });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    async addTap(name) {
      if (name.length > 15) throw new Error(`tap name ${name} longer than 15 characters`);
      await ip('tuntap', 'add', 'dev', name, 'mode', 'tap');
      await ip('link', 'set', name, 'master', bridge, 'up');
      taps.add(name);
      return name;
    },
    async removeTap(name) {
      taps.delete(name);
      await ip('link', 'del', name).catch(() => undefined);
    },
    async destroy() {
      // `ip netns exec` exec()s the command, so the child's pid is the command's pid.
      await Promise.all([...children].map((c) => stopChild(c)));
      // Anything else still inside is ours too: the namespace was made for this test.
      const left = await run('ip', ['netns', 'pids', ns]).then((r) => r.stdout.split(/\s+/).filter(Boolean), () => []);
      for (const pid of left) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      await run('ip', ['netns', 'del', ns]).catch(() => undefined);
      live.delete(ns);
    },
  };
  if (ipv6 === 'ra') {
    const ra = lab.spawnIn('python3', [RA_SCRIPT, bridge, `fd5c:7a1b:213:${octet.toString(16)}::`], { stdio: 'ignore' });
    ra.on('error', () => undefined);
  }
  return lab;
}

const RA_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'netns-ra.py');

function havePython(): boolean {
  try {
    execFileSync('python3', ['-c', 'import socket'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL after a grace period; resolves once the process has exited. */
export function stopChild(c: ChildProcess, graceMs = 3000): Promise<void> {
  if (c.pid === undefined || c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => c.kill('SIGKILL'), graceMs);
    c.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    c.kill('SIGTERM');
  });
}
