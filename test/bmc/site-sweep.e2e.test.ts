// The site sweep through the real daemon: `POST /api/v1/power-sync` on `rackhand serve` reads every ipmi_sim BMC of
// its inventory (scheduler, ipmi driver, store), with a session per sweep (bmc.ipmi.keepSessions false) and with
// sessions kept. A UDP proxy in front of each BMC watches the wire: sessions opened per sweep, and never a second
// exchange sent to a BMC while the first is unanswered (one command in flight per BMC, spacing off so the driver
// alone must keep it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimFarm, type SimFarm } from '../harness/ipmi-sim.js';
import { apiClient, startRackhand, type RackhandProcess } from '../harness/rackhand-process.js';
import { startUdpProxy, type ProxiedDatagram, type UdpProxy } from '../harness/udp-proxy.js';

const N = 20;
/** RMCP+ payload type of an Open Session Request (cleartext in the session header). */
const OPEN_SESSION_REQUEST = 0x10;
/** Get Channel Authentication Capabilities: an IPMI 1.5 packet without authentication, command byte at offset 19. */
const isCapabilities = (b: Buffer): boolean => b.length > 19 && b[4] === 0x00 && b[19] === 0x38;
/**
 * The daemon retransmits an unanswered datagram after 500 ms at the earliest (half of RAKP's 1 s budget): a second
 * datagram sooner than this while the first is unanswered is a second exchange, not a retransmit.
 */
const RETRANSMIT_MIN_MS = 400;

/** What one BMC's proxy saw from one daemon. */
class WireWatch {
  opens = 0;
  capabilities = 0;
  overlaps = 0;
  private last: { data: Buffer; at: number } | undefined;

  readonly watch = (d: ProxiedDatagram): undefined => {
    if (d.dir === 'to-client') {
      this.last = undefined; // answered
      return undefined;
    }
    const b = d.data;
    if (b.length > 5 && b[4] === 0x06 && (b[5]! & 0x3f) === OPEN_SESSION_REQUEST) this.opens++;
    if (isCapabilities(b)) this.capabilities++;
    const now = performance.now();
    const retransmit = this.last && (this.last.data.equals(b) || now - this.last.at >= RETRANSMIT_MIN_MS);
    if (this.last && !retransmit) this.overlaps++;
    this.last = { data: Buffer.from(b), at: now };
    return undefined;
  };
}

interface Site {
  rh: RackhandProcess;
  token: string;
  proxies: UdpProxy[];
  watches: WireWatch[];
}

let farm: SimFarm;
const sites: Site[] = [];

async function startSite(keepSessions: boolean): Promise<Site> {
  const watches = farm.bmcs.map(() => new WireWatch());
  const proxies = await Promise.all(farm.bmcs.map((b, i) => startUdpProxy({ host: b.host, port: b.port }, watches[i]!.watch)));
  const rh = await startRackhand({
    config: {
      bmc: { sync: { enabled: false }, ipmi: { keepSessions }, scheduler: { minSpacingMs: 0 } },
      sensors: { enabled: false },
    },
  });
  const token = rh.cli(['token', 'create', '--role', 'admin']).stdout.trim();
  const servers = farm.bmcs.map((b, i) => ({
    id: i + 1,
    name: `sweep-${i}`,
    bmc: { driver: 'ipmi', host: '127.0.0.1', port: proxies[i]!.port, username: b.username, password: b.password },
  }));
  const r = await apiClient(() => rh.url, token).post('/api/v1/servers/import', servers);
  expect(r.status, r.text).toBe(200);
  const site = { rh, token, proxies, watches };
  sites.push(site);
  return site;
}

/** One sweep through the API; then every server's stored power is the farm's, read by this sweep. */
async function sweep(site: Site): Promise<void> {
  for (const i of [0, 7, 13]) farm.setPower(i, farm.powerState(i) === 'on' ? 'off' : 'on');
  const before = Date.now();
  const api = apiClient(() => site.rh.url, site.token);
  const r = await api.post('/api/v1/power-sync');
  expect(r.status, r.text).toBe(200);
  expect(r.json).toEqual({ read: N, unreachable: 0 });
  for (let i = 0; i < N; i++) {
    const power = (await api.get(`/api/v1/servers/${i + 1}`)).json.power;
    expect(power).toMatchObject({ state: farm.powerState(i), bmcReachable: true, bmcError: null });
    expect(Date.parse(power.readAt)).toBeGreaterThanOrEqual(before - 1000); // stored timestamps have second precision
  }
}

const opens = (s: Site): number[] => s.watches.map((w) => w.opens);
const capabilities = (s: Site): number[] => s.watches.map((w) => w.capabilities);
/** The daemon's own count (rackhand_ipmi_events_total), against the wire's. */
async function ipmiEvents(s: Site): Promise<Record<string, number>> {
  const text = await (await fetch(`${s.rh.url}/metrics`)).text();
  return Object.fromEntries([...text.matchAll(/^rackhand_ipmi_events_total\{event="(\w+)"\} (\d+)$/gm)].map((m) => [m[1]!, Number(m[2])]));
}
const overlaps = (s: Site): number => s.watches.reduce((a, w) => a + w.overlaps, 0);

beforeAll(async () => {
  // Two sessions per BMC: the kept-sessions daemon holds one, so a sweep that leaked its session would find the
  // BMC full ("insufficient resources for session") on the next sweep.
  farm = await startSimFarm({ count: N, maxSessions: 2 });
  for (let i = 0; i < N; i += 3) farm.setPower(i, 'off');
}, 120_000);

afterAll(async () => {
  for (const s of sites) {
    await s.rh.cleanup();
    await Promise.all(s.proxies.map((p) => p.stop()));
  }
  await farm?.stop();
});

describe('site sweep through the daemon (POST /api/v1/power-sync)', () => {
  it('sessions kept: the first sweep opens one session per BMC, later sweeps none; one exchange in flight per BMC', async () => {
    const kept = await startSite(true);
    await sweep(kept);
    expect(opens(kept)).toEqual(Array(N).fill(1));
    for (let k = 0; k < 3; k++) await sweep(kept);
    expect(opens(kept)).toEqual(Array(N).fill(1));
    expect(overlaps(kept)).toBe(0);
    expect(await ipmiEvents(kept)).toMatchObject({ sessions_opened: N });
  });

  it('fresh sessions: every sweep opens one session per BMC and closes it; one exchange in flight per BMC', async () => {
    const fresh = await startSite(false);
    for (let k = 1; k <= 4; k++) {
      // Back to back: the kept daemon still holds one of each BMC's two sessions, so a session this daemon left
      // open would make the next sweep's login fail.
      await sweep(fresh);
      expect(opens(fresh)).toEqual(Array(N).fill(k));
      // Get Channel Authentication Capabilities only on the first login: the daemon then knows each BMC does RMCP+.
      expect(capabilities(fresh)).toEqual(Array(N).fill(1));
    }
    expect(overlaps(fresh)).toBe(0);
    expect(await ipmiEvents(fresh)).toMatchObject({ sessions_opened: 4 * N });
  });

  it('two sweeps at once: each BMC gets both reads one after the other, the second login only after the first close is answered', async () => {
    const fresh = sites[1]!;
    const before = opens(fresh);
    const api = apiClient(() => fresh.rh.url, fresh.token);
    const [a, b] = await Promise.all([api.post('/api/v1/power-sync'), api.post('/api/v1/power-sync')]);
    expect([a.json, b.json]).toEqual([{ read: N, unreachable: 0 }, { read: N, unreachable: 0 }]);
    expect(opens(fresh)).toEqual(before.map((n) => n + 2));
    expect(overlaps(fresh)).toBe(0);
  });

  it('a sensor sweep on demand (POST /api/v1/sensor-sync) during a power sweep: every BMC sampled and stored, one exchange in flight per BMC', async () => {
    const kept = sites[0]!;
    const api = apiClient(() => kept.rh.url, kept.token);
    const [sensors, power] = await Promise.all([api.post('/api/v1/sensor-sync'), api.post('/api/v1/power-sync')]);
    expect(power.json).toEqual({ read: N, unreachable: 0 });
    expect(sensors.status, sensors.text).toBe(200);
    expect(sensors.json).toMatchObject({ servers: N, read: N, failed: 0, pruned: 0 });
    for (const id of [1, N]) {
      const series = (await api.get(`/api/v1/servers/${id}/sensors/history?hours=1`)).json.sensors as { name: string; points: { value: number }[] }[];
      // The farm's sensors, as each sim reports them
      expect(series.find((s) => s.name === 'CPU1 Temp')?.points.at(-1)?.value).toBe(45);
      expect(series.find((s) => s.name === 'FAN1')?.points.at(-1)?.value).toBe(4800);
    }
    expect(sensors.json.stored).toBeGreaterThanOrEqual(3 * N);
    expect(overlaps(kept)).toBe(0);
    expect(opens(kept)).toEqual(Array(N).fill(1)); // the kept sessions served both sweeps
  });
});
