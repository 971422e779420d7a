// The real daemon under 100,000 DISCOVERs from random MACs: discovered rows, log lines, database and memory stay bounded.

import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, startRackhand, type RackhandProcess } from '../../harness/rackhand-process.js';
import { bytes, pxeBiosDiscover } from './dhcp-packets.js';

const FLOOD = 100_000;
const HEAP_MIB = 64;

/** VmRSS of a process, in KiB. */
function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]);
}

function dbBytes(stateDir: string): number {
  return fs
    .readdirSync(stateDir)
    .filter((f) => f.startsWith('rackhand.db'))
    .reduce((sum, f) => sum + fs.statSync(path.join(stateDir, f)).size, 0);
}

describe('DHCP flood of random MACs through the running daemon', () => {
  let rh: RackhandProcess;
  let api: ReturnType<typeof apiClient>;
  let dhcpPort: number;
  let heapUsed = 0;

  /** The daemon's own DHCP counter of datagrams received, from /metrics. */
  const received = async () => {
    const text = await (await fetch(`${rh.url}/metrics`)).text();
    heapUsed = Number(/nodejs_heap_size_used_bytes (\d+)/.exec(text)?.[1] ?? 0);
    return Number(/rackhand_dhcp_events_total\{event="received"\} (\d+)/.exec(text)?.[1] ?? 0);
  };
  const dhcpLogLines = () => rh.output().split('\n').filter((l) => l.includes('"part":"dhcp"')).length;

  beforeAll(async () => {
    rh = await startRackhand({
      // A small heap: memory held per datagram would end the daemon with an out-of-memory crash.
      env: { NODE_OPTIONS: `--max-old-space-size=${HEAP_MIB}` },
      config: {
        bmc: { sync: { enabled: false } },
        sensors: { enabled: false },
        boot: {
          serverIp: '127.0.0.1',
          dhcp: { mode: 'reservation', listenAddress: '127.0.0.1', port: 0, broadcastAddress: '127.255.255.255' },
        },
      },
    });
    const listening = () => Number(/"port":(\d+)[^\n]*"msg":"DHCP listening"/.exec(rh.output())?.[1] ?? 0);
    for (const deadline = Date.now() + 10_000; !listening() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
    dhcpPort = listening();
    expect(dhcpPort).toBeGreaterThan(0);
    api = apiClient(() => rh.url, rh.cli(['token', 'create', '--role', 'admin']).stdout.trim());
  }, 60_000);
  afterAll(async () => {
    await rh?.cleanup();
  });

  it('100,000 DISCOVERs from random MACs: rows, log lines, database size and memory stay bounded; a real one is still recorded', async () => {
    // Warm up (first queries, JIT), then take the baseline.
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const send = (mac: string, xid: number) =>
      new Promise<void>((r) => sock.send(bytes({ ...pxeBiosDiscover(mac), xid }), dhcpPort, '127.0.0.1', () => r()));
    await send('02:aa:00:00:00:01', 1);
    await expect.poll(received, { timeout: 10_000 }).toBe(1);
    const pid = rh.child().pid!;
    const rss0 = rssKiB(pid);
    const lines0 = dhcpLogLines();

    // Two halves: memory may grow while the heap warms up in the first, but must not keep growing.
    let last = 1;
    const rss: number[] = [];
    for (let half = 0; half < 2; half++) {
      for (let i = 0; i < FLOOD / 2; i++) {
        const mac = [...randomBytes(6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
        await send(mac, i + 2);
        // Pace the sender a little: a datagram the kernel drops for a full buffer proves nothing.
        if (i % 200 === 199) await new Promise((r) => setTimeout(r, 2));
      }
      // Everything that arrived has been handled once the counter stops moving.
      for (let prev = -1; last !== prev; ) {
        prev = last;
        await new Promise((r) => setTimeout(r, 1000));
        last = await received();
      }
      rss.push(rssKiB(pid));
    }
    expect(last).toBeGreaterThan(FLOOD / 2); // the flood really reached the server

    const page = await api.get('/api/v1/discovered?limit=10&offset=0');
    console.log(
      `flood: ${last - 1} DISCOVERs received, ${page.json.total} discovered rows, ${dhcpLogLines() - lines0} DHCP log lines, ` +
        `database ${(dbBytes(rh.stateDir) / 1024).toFixed(0)} KiB, RSS +${((rss[0] - rss0) / 1024).toFixed(1)} MiB after the first half, ` +
        `+${((rss[1] - rss[0]) / 1024).toFixed(1)} MiB after the second, heap used ${(heapUsed / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(page.status).toBe(200);
    expect(page.json.list).toHaveLength(10);
    expect(page.json.total).toBeLessThanOrEqual(2_000); // ≤ 256 new MACs per 10 s, and never beyond the row cap
    expect(dhcpLogLines() - lines0).toBeLessThan(100); // summaries, not one line per MAC
    expect(dbBytes(rh.stateDir)).toBeLessThan(8 * 1024 * 1024);
    // Garbage is collected lazily, so RSS may grow by a heap's worth, never more: a daemon that kept
    // anything per datagram would have died of its small heap (then /metrics above would not answer).
    expect(rss[1] - rss0).toBeLessThan((HEAP_MIB + 32) * 1024);
    expect(rss[1] - rss[0]).toBeLessThan(16 * 1024);
    expect(rh.child().exitCode).toBeNull();

    // A real new host asking after the flood is still recorded once the interval's budget renews.
    const real = '02:aa:00:00:00:02';
    await expect
      .poll(
        async () => {
          await send(real, 7);
          return (await api.get('/api/v1/discovered?limit=1000')).json.list.some((d: { mac: string }) => d.mac === real);
        },
        { timeout: 30_000, interval: 1000 },
      )
      .toBe(true);
    sock.close();
  }, 300_000);
});
