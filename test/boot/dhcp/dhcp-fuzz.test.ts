// Fuzzes running DHCP servers (reservation, proxy, port 4011) with real datagrams inside a namespace, then a real udhcpc gets its lease.

import fc from 'fast-check';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HostBootInfo } from '../../../src/boot/boot-lookup.js';
import { createNetnsLab, type NetnsLab } from '../../harness/netns-lab.js';
import { compileForChild, type CompiledChild } from '../../harness/netns-ts-child.js';
import { dhcpDatagram } from '../boot-fuzz-arbitraries.js';

const CASES = 3000;
const CLIENT_MAC = '02:de:f0:00:00:70';
const ARMED_MAC = '02:de:f0:00:00:71';

describe('DHCP servers fuzzed over UDP in a namespace', () => {
  let lab: NetnsLab;
  let child: CompiledChild;
  let dir: string;
  const events: Array<Record<string, any>> = [];
  const waiters: Array<() => void> = [];
  let proc: ReturnType<NetnsLab['spawnIn']>;

  const next = async (ev: string, timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = events.find((e) => e.ev === ev);
      if (hit) return hit;
      if (proc.exitCode !== null) throw new Error(`fuzz target exited ${proc.exitCode}: ${JSON.stringify(events.slice(-5))}`);
      if (Date.now() > deadline) throw new Error(`no ${ev} event`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 200);
      });
    }
  };

  beforeAll(async () => {
    lab = await createNetnsLab({ ipv6: 'off' });
    dir = mkdtempSync(join(tmpdir(), `rh-dhcp-fuzz-${process.pid}-`));
    chmodSync(dir, 0o755);
    // A real DHCP client's interface: a veth whose peer is a port of the namespace's bridge.
    await lab.exec('ip', ['link', 'add', 'vc0', 'type', 'veth', 'peer', 'name', 'vs0']);
    await lab.exec('ip', ['link', 'set', 'vs0', 'master', lab.bridge, 'up']);
    await lab.exec('ip', ['link', 'set', 'vc0', 'address', CLIENT_MAC, 'up']);
    const hosts: HostBootInfo[] = [
      { serverId: 1, name: 'client', mac: CLIENT_MAC, ip: `${lab.prefix}.70`, netmask: '255.255.255.0', gateway: lab.bridgeIp, hostname: 'client', netbootArmed: false },
      { serverId: 2, name: 'armed', mac: ARMED_MAC, ip: `${lab.prefix}.71`, netmask: '255.255.255.0', netbootArmed: true },
    ];
    const datagrams = fc.sample(dhcpDatagram([CLIENT_MAC, ARMED_MAC]), { numRuns: CASES, seed: 4242 });
    const file = join(dir, 'datagrams.bin');
    writeFileSync(file, Buffer.concat(datagrams.flatMap((d) => [Buffer.from([d.length >> 8, d.length & 0xff]), d])));
    child = await compileForChild(join(import.meta.dirname, 'dhcp-fuzz-child.ts'));
    proc = lab.spawnIn(process.execPath, [child.js, JSON.stringify({ serverIp: lab.bridgeIp, hosts, datagramsFile: file })], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      try {
        events.push(JSON.parse(line));
      } catch {
        events.push({ ev: 'stdout', line });
      }
      waiters.splice(0).forEach((w) => w());
    });
    proc.stderr!.on('data', (d: Buffer) => events.push({ ev: 'stderr', text: d.toString() }));
    await next('ready', 30_000);
  }, 120_000);
  afterAll(async () => {
    await lab?.destroy();
    child?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`survives ${CASES} fuzzed datagrams on ports 67 and 4011 (reservation and proxy) without one handler error`, async () => {
    proc.stdin!.write('fuzz\n');
    const done = await next('fuzzed', 120_000);
    expect(done.sent).toBe(CASES);
    const { reservation, proxy } = done.counters;
    expect(reservation.received + proxy.received).toBeGreaterThan(CASES * 0.9);
    // Garbage was rejected as such, some requests were answered, nothing threw.
    expect(reservation.malformed + proxy.malformed).toBeGreaterThan(0);
    expect(reservation.offers + reservation.acks + reservation.naks).toBeGreaterThan(0);
    expect(reservation.handlerErrors + proxy.handlerErrors).toBe(0);
    expect(done.proxyOffered).toBe(true);
    expect(events.filter((e) => e.ev === 'stderr')).toEqual([]);
  }, 180_000);

  it('then a real DHCP client (busybox udhcpc) gets its reserved lease', async () => {
    const script = join(dir, 'udhcpc.sh');
    writeFileSync(script, '#!/bin/sh\n[ "$1" = bound ] && echo "LEASE $ip $subnet $router"\nexit 0\n', { mode: 0o755 });
    const r = await lab.exec('busybox', ['udhcpc', '-i', 'vc0', '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', script]);
    expect(r.stdout).toContain(`LEASE ${lab.prefix}.70 255.255.255.0 ${lab.bridgeIp}`);
    expect(proc.exitCode).toBeNull();
  }, 60_000);
});
