// The agent host's health through systeminformation (network interfaces from /sys), read on scrape and cached briefly
// (scrapes come in bursts).
import fs from 'node:fs';
import path from 'node:path';
import si from 'systeminformation';

export interface HostSnapshot {
  cpuLoadRatio: number; // 0..1 over all cores since the previous reading
  load1: number; // 1-minute load average
  cores: number;
  memory: { total: number; used: number; available: number };
  /** The file system holding the state dir. */
  disk: { mount: string; size: number; used: number; available: number } | null;
  interfaces: { iface: string; up: boolean; rxBytes: number; txBytes: number; rxErrors: number; txErrors: number }[];
}

export class HostHealth {
  private cached: { at: number; value: Promise<HostSnapshot> } | undefined;

  constructor(
    private readonly stateDir: string | undefined,
    private readonly cacheMs = 5_000,
  ) {}

  snapshot(): Promise<HostSnapshot> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > this.cacheMs) {
      const value = this.read();
      // A failed read is not cached: the next scrape tries again.
      value.catch(() => {
        if (this.cached?.value === value) this.cached = undefined;
      });
      this.cached = { at: now, value };
    }
    return this.cached.value;
  }

  private async read(): Promise<HostSnapshot> {
    const [load, mem, fsList, net] = await Promise.all([
      si.currentLoad(),
      si.mem(),
      this.stateDir ? si.fsSize().catch(() => []) : Promise.resolve([]),
      interfaceStats().catch(() => []),
    ]);
    return {
      cpuLoadRatio: clamp01(load.currentLoad / 100),
      load1: load.avgLoad,
      cores: load.cpus.length,
      memory: { total: mem.total, used: mem.total - mem.available, available: mem.available },
      disk: this.stateDir ? diskOf(this.stateDir, fsList) : null,
      interfaces: net,
    };
  }
}

const SYS_NET = '/sys/class/net';

/**
 * Every interface's state and counters, read from /sys with asynchronous reads. Not systeminformation's
 * networkStats: it runs execSync per interface, which held the event loop (and every API request) up to
 * 110 ms per scrape (CPU profile of bench/api.mjs).
 */
async function interfaceStats(): Promise<HostSnapshot['interfaces']> {
  const read = (iface: string, file: string) => fs.promises.readFile(path.join(SYS_NET, iface, file), 'utf8').then((t) => t.trim());
  const count = (iface: string, name: string) => read(iface, `statistics/${name}`).then(Number, () => 0);
  const names = (await fs.promises.readdir(SYS_NET)).sort();
  return Promise.all(
    names.map(async (iface) => {
      const [operstate, rxBytes, txBytes, rxErrors, txErrors] = await Promise.all([
        read(iface, 'operstate').catch(() => 'unknown'),
        count(iface, 'rx_bytes'),
        count(iface, 'tx_bytes'),
        count(iface, 'rx_errors'),
        count(iface, 'tx_errors'),
      ]);
      // The loopback device reports "unknown" while it works.
      return { iface, up: operstate === 'up' || (operstate === 'unknown' && iface === 'lo'), rxBytes, txBytes, rxErrors, txErrors };
    }),
  );
}

function clamp01(x: number): number {
  return Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0;
}

/** The mount with the longest path prefix of the state dir; statfs when systeminformation does not list it. */
function diskOf(stateDir: string, list: { mount: string; size: number; used: number; available: number }[]): HostSnapshot['disk'] {
  let dir = stateDir;
  try {
    dir = fs.realpathSync(stateDir);
  } catch {
    /* not created yet: match the configured path */
  }
  let best: (typeof list)[number] | undefined;
  for (const f of list) {
    const m = f.mount.endsWith(path.sep) ? f.mount : f.mount + path.sep;
    if ((dir + path.sep).startsWith(m) && (!best || f.mount.length > best.mount.length)) best = f;
  }
  if (best) return { mount: best.mount, size: best.size, used: best.used, available: best.available };
  try {
    const st = fs.statfsSync(dir);
    const size = st.blocks * st.bsize;
    const available = st.bavail * st.bsize;
    return { mount: dir, size, used: size - st.bfree * st.bsize, available };
  } catch {
    return null;
  }
}
