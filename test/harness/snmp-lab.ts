// Test harness: a throw-away "switch" — a private namespace whose veth ports are driven by a real Net-SNMP snmpd.
//
// snmpd runs as root inside the namespace (so a SET of ifAdminStatus really toggles the kernel link there) and
// answers on a UDP socket this process binds on the host's 127.0.0.1:<free port> and hands over as fd 3 with the
// systemd LISTEN_FDS protocol, which Debian's snmpd understands. No address is added anywhere.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import snmp from 'net-snmp';

const run = promisify(execFile);

export interface SnmpLab {
  ns: string;
  host: string; // 127.0.0.1
  port: number; // snmpd's UDP port on the host loopback
  /** Port names swp1..swpN with ifIndex 101..100+N. */
  ports: { name: string; ifIndex: number }[];
  ro: string;
  rw: string;
  v3: { user: string; authKey: string; privKey: string };
  /** Admin state of a port as the kernel sees it (`ip -n NS link`: the UP flag). */
  adminUp(port: string): Promise<boolean>;
  setAdmin(port: string, up: boolean): Promise<void>;
  log(): string;
  /** Kill snmpd, delete both namespaces and the state dir. */
  stop(): Promise<void>;
}

let seq = 0;
const live = new Map<string, { child?: ChildProcess; dir: string }>();
let hooked = false;

function cleanupSync(ns: string): void {
  const l = live.get(ns);
  try {
    if (l?.child?.pid && l.child.exitCode === null) process.kill(l.child.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  for (const n of [ns, `${ns}p`]) {
    try {
      execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    } catch {
      /* not there */
    }
  }
  if (l) rmSync(l.dir, { recursive: true, force: true });
  live.delete(ns);
}

/** Never leave a namespace or an snmpd behind, even when the test process dies without afterAll. */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const ns of [...live.keys()]) cleanupSync(ns);
  });
}

export async function startSnmpLab(opts: { ports?: number } = {}): Promise<SnmpLab> {
  hookExit();
  const n = opts.ports ?? 4;
  const ns = `rhsnmp-${process.pid}-${++seq}`;
  const peer = `${ns}p`;
  const dir = mkdtempSync(path.join(tmpdir(), `rh-snmplab-${process.pid}-`));
  live.set(ns, { dir });
  const lab = { ro: 'public', rw: 'private', v3: { user: 'rhuser', authKey: 'authpass123', privKey: 'privpass123' } };
  let out = '';
  try {
    await run('ip', ['netns', 'add', ns]);
    await run('ip', ['netns', 'add', peer]);
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const ports = Array.from({ length: n }, (_, i) => ({ name: `swp${i + 1}`, ifIndex: 101 + i }));
    for (const [i, p] of ports.entries()) {
      // The far ends live in a second namespace so the switch only sees its own ports.
      await run('ip', ['-n', ns, 'link', 'add', p.name, 'index', String(p.ifIndex), 'type', 'veth', 'peer', 'name', `${p.name}p`, 'netns', peer, 'index', String(201 + i)]);
      await run('ip', ['-n', peer, 'link', 'set', `${p.name}p`, 'up']);
      await run('ip', ['-n', ns, 'link', 'set', p.name, 'up']);
    }

    const conf = path.join(dir, 'snmpd.conf');
    const persist = path.join(dir, 'persist');
    const mibs = path.join(dir, 'nomibs');
    mkdirSync(persist);
    mkdirSync(mibs);
    writeFileSync(
      conf,
      [
        'sysName rackhand-test-switch',
        `sysDescr net-snmp in netns ${ns}`,
        `rocommunity ${lab.ro} 127.0.0.1`,
        `rwcommunity ${lab.rw} 127.0.0.1`,
        `createUser ${lab.v3.user} SHA "${lab.v3.authKey}" AES "${lab.v3.privKey}"`,
        `rwuser ${lab.v3.user} priv`,
        '',
      ].join('\n'),
    );
    chmodSync(conf, 0o600);

    // Bind on the host side; snmpd, started inside the namespace, inherits the socket as fd 3.
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(0, '127.0.0.1', () => resolve());
    });
    const port = sock.address().port;
    const fd = (sock as unknown as { _handle: { fd: number } })._handle.fd;
    // `ip netns exec` execs without forking, so LISTEN_PID=$$ is snmpd's own pid.
    const script = 'export LISTEN_PID=$$ LISTEN_FDS=1; exec ip netns exec "$0" snmpd -f -Lo -C -c "$1" -p "$2" -I -smux,mteTrigger,mteTriggerConf "udp:127.0.0.1:$3"';
    const child = spawn('sh', ['-c', script, ns, conf, path.join(dir, 'snmpd.pid'), String(port)], {
      env: { ...process.env, MIBS: '', MIBDIRS: mibs, SNMP_PERSISTENT_DIR: persist },
      stdio: ['ignore', 'pipe', 'pipe', fd],
    });
    sock.close();
    live.set(ns, { child, dir });
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (out += b.toString()));

    await waitAnswering(port, lab.ro, () => child.exitCode !== null, () => out);

    const linkUp = async (name: string) => {
      const { stdout } = await run('ip', ['-n', ns, '-j', 'link', 'show', 'dev', name]);
      const [info] = JSON.parse(stdout) as { flags: string[] }[];
      return info.flags.includes('UP');
    };
    return {
      ns,
      host: '127.0.0.1',
      port,
      ports,
      ...lab,
      adminUp: linkUp,
      async setAdmin(name, up) {
        await run('ip', ['-n', ns, 'link', 'set', name, up ? 'up' : 'down']);
      },
      log: () => out,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise<void>((r) => child.once('exit', () => r()));
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(t);
        }
        cleanupSync(ns);
      },
    };
  } catch (e) {
    cleanupSync(ns);
    throw new Error(`snmp lab did not start: ${(e as Error).message}\n${out}`);
  }
}

async function waitAnswering(port: number, community: string, dead: () => boolean, out: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (dead()) throw new Error(`snmpd exited:\n${out()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = snmp.createSession('127.0.0.1', community, { port, version: snmp.Version2c, timeout: 300, retries: 0 });
      s.on('error', () => {});
      s.get(['1.3.6.1.2.1.1.5.0'], (e) => {
        s.close();
        resolve(!e);
      });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`snmpd did not answer on 127.0.0.1:${port}:\n${out()}`);
}
