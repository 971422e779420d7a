// The IPAM capability against a real (in-memory) SQLite store: next-free order, validation, main IPv4, access, a model check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RackhandError } from '../../src/errors.js';
import { ADMIN, TECH, ipamFixture } from './ipam-fixture.js';

/** Every item: these tests look at whole lists. */
const ALL = { limit: 10_000, offset: 0 };

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof RackhandError) return e.code;
    throw e;
  }
  return 'OK';
}

describe('Ipam', () => {
  it('hands out IPv4 hosts in order, skipping network, gateway and broadcast, then says IP_EXHAUSTED', () => {
    const { ipam } = ipamFixture();
    const net = ipam.createNetwork(ADMIN, { name: '192.0.2.0/29', gateway: '192.0.2.1', dns: ['192.0.2.53'] });
    expect(net).toMatchObject({ family: 4, prefix: 29, size: '8', totalIp: '5', netmask: '255.255.255.248' });
    const got = [1, 2, 3, 4, 5].map((s) => ipam.allocate(ADMIN, s, { network: net.id }).ip);
    expect(got).toEqual(['192.0.2.2', '192.0.2.3', '192.0.2.4', '192.0.2.5', '192.0.2.6']);
    let err: RackhandError | undefined;
    try {
      ipam.allocate(ADMIN, 6, { network: net.id });
    } catch (e) {
      err = e as RackhandError;
    }
    expect(err?.code).toBe('IP_EXHAUSTED');
    expect(err?.message).toContain('192.0.2.0/29');
    // A released address is the next one given.
    const third = ipam.serverAddresses(ADMIN, 3, ALL).list[0];
    ipam.release(ADMIN, 3, third.id);
    expect(ipam.allocate(ADMIN, 7, { network: '192.0.2.0/29' }).ip).toBe('192.0.2.4');
    expect(ipam.listNetworks(ADMIN, ALL).list[0].usingIp).toBe(5);
  });

  it('validates explicit addresses: inside, not the gateway, not network/broadcast, not taken', () => {
    const { ipam } = ipamFixture();
    const net = ipam.createNetwork(ADMIN, { name: '198.51.100.0', mask: 24, gateway: '198.51.100.1' });
    expect(code(() => ipam.allocate(ADMIN, 1, { network: net.id, ipName: '198.51.101.5' }))).toBe('INVALID_INPUT');
    expect(code(() => ipam.allocate(ADMIN, 1, { network: net.id, ipName: '198.51.100.1' }))).toBe('INVALID_INPUT');
    expect(code(() => ipam.allocate(ADMIN, 1, { network: net.id, ipName: '198.51.100.0' }))).toBe('INVALID_INPUT');
    expect(code(() => ipam.allocate(ADMIN, 1, { network: net.id, ipName: '198.51.100.255' }))).toBe('INVALID_INPUT');
    expect(code(() => ipam.allocate(ADMIN, 1, { network: net.id, ipName: 'nope' }))).toBe('INVALID_INPUT');
    expect(ipam.allocate(ADMIN, 1, { ipName: '198.51.100.77' }).network).toBe('198.51.100.0/24');
    expect(code(() => ipam.allocate(ADMIN, 2, { ipName: '198.51.100.77' }))).toBe('CONFLICT');
    expect(code(() => ipam.allocate(ADMIN, 2, {}))).toBe('INVALID_INPUT');
    expect(code(() => ipam.allocate(ADMIN, 2, { network: 999 }))).toBe('NOT_FOUND');
    expect(code(() => ipam.allocate(ADMIN, 999, { network: net.id }))).toBe('NOT_FOUND');
    expect(code(() => ipam.createNetwork(ADMIN, { name: '198.51.100.128/25' }))).toBe('CONFLICT');
    expect(code(() => ipam.createNetwork(ADMIN, { name: '10.0.0.1/24' }))).toBe('INVALID_INPUT');
    expect(code(() => ipam.createNetwork(ADMIN, { name: '10.0.0.0/24', gateway: '10.0.1.1' }))).toBe('INVALID_INPUT');
  });

  it('walks IPv6 pools sequentially from the range start', () => {
    const { ipam } = ipamFixture();
    ipam.createNetwork(ADMIN, { name: '2001:db8:1::/64', gateway: '2001:db8:1::1' });
    ipam.createNetwork(ADMIN, { name: '203.0.113.0/24', gateway: '203.0.113.1' });
    const pool = ipam.createPool(ADMIN, { name: 'pub', isPublic: true, ranges: ['2001:db8:1::100-2001:db8:1::102', '203.0.113.10-203.0.113.11'] });
    expect(pool.total).toEqual({ 4: '2', 6: '3' });
    const six = [1, 2, 3].map((s) => ipam.allocate(ADMIN, s, { pool: pool.id, family: 6 }).ip);
    expect(six).toEqual(['2001:db8:1::100', '2001:db8:1::101', '2001:db8:1::102']);
    expect(code(() => ipam.allocate(ADMIN, 4, { pool: 'pub', family: 6 }))).toBe('IP_EXHAUSTED');
    expect(ipam.allocate(ADMIN, 4, { pool: 'pub', family: 4 }).ip).toBe('203.0.113.10');
    expect(ipam.listPools(ADMIN, ALL).list[0].using).toEqual({ 4: 1, 6: 3 });
    expect(code(() => ipam.createPool(ADMIN, { name: 'other', ranges: ['203.0.113.11-203.0.113.20'] }))).toBe('CONFLICT');
    expect(code(() => ipam.createPool(ADMIN, { name: 'outside', ranges: ['192.0.2.1-192.0.2.9'] }))).toBe('INVALID_INPUT');
    // A whole /64 network: the walk starts after the subnet-router anycast and skips the gateway.
    expect(ipam.allocate(ADMIN, 5, { network: '2001:db8:1::/64' }).ip).toBe('2001:db8:1::2');
    expect(code(() => ipam.allocate(ADMIN, 5, { network: '2001:db8:1::/64', setAsMainIpv4: true }))).toBe('INVALID_INPUT');
  });

  it('makes the main IPv4 the first interface address and the host network; release clears it', () => {
    const { ipam, serversRepo } = ipamFixture();
    const net = ipam.createNetwork(ADMIN, { name: '192.0.2.0/24', gateway: '192.0.2.1', dns: ['192.0.2.53', '192.0.2.54'] });
    expect(ipam.hostNetwork(2)).toBeUndefined();
    const a = ipam.allocate(ADMIN, 2, { network: net.id, setAsMainIpv4: true, domain: 'srv2.example.com' });
    expect(a).toMatchObject({ ip: '192.0.2.2', mainIpv4: true, domain: 'srv2.example.com' });
    expect(ipam.hostNetwork(2)).toEqual({ ip: '192.0.2.2', netmask: '255.255.255.0', gateway: '192.0.2.1', dns: ['192.0.2.53', '192.0.2.54'], prefixLength: 24 });
    expect(serversRepo.get(2)!.interfaces[0].ip).toBe('192.0.2.2');
    expect(serversRepo.findByIp('192.0.2.2')?.id).toBe(2);
    // A second main replaces the first.
    const b = ipam.allocate(ADMIN, 2, { network: net.id, setAsMainIpv4: true });
    expect(ipam.hostNetwork(2)?.ip).toBe(b.ip);
    expect(ipam.serverAddresses(ADMIN, 2, ALL).list.filter((x) => x.mainIpv4).map((x) => x.id)).toEqual([b.id]);
    expect(serversRepo.get(2)!.interfaces[0].ip).toBe(b.ip);
    ipam.release(ADMIN, 2, b.id);
    expect(ipam.hostNetwork(2)).toBeUndefined();
    expect(serversRepo.get(2)!.interfaces[0].ip).toBeNull();
  });

  it('applies the access rules', () => {
    const { ipam, client } = ipamFixture();
    const net = ipam.createNetwork(ADMIN, { name: '192.0.2.0/24' });
    ipam.allocate(ADMIN, 1, { network: net.id });
    ipam.allocate(ADMIN, 2, { network: net.id });
    expect(ipam.listAddresses(client, ALL).list.map((a) => a.serverId)).toEqual([1]);
    expect(ipam.serverAddresses(client, 1, ALL).list).toHaveLength(1);
    expect(code(() => ipam.serverAddresses(client, 2, ALL).list)).toBe('NOT_FOUND');
    expect(code(() => ipam.allocate(client, 2, { network: net.id }))).toBe('NOT_FOUND');
    expect(code(() => ipam.allocate(client, 1, { network: net.id }))).toBe('FORBIDDEN');
    expect(code(() => ipam.allocate(TECH, 1, { network: net.id }))).toBe('FORBIDDEN');
    expect(code(() => ipam.listNetworks(client, ALL).list)).toBe('FORBIDDEN');
    expect(code(() => ipam.createNetwork(TECH, { name: '10.0.0.0/8' }))).toBe('FORBIDDEN');
    expect(ipam.listNetworks(TECH, ALL).list).toHaveLength(1);
  });

  it('matches a model under random allocate/release sequences: lowest free first, never twice', () => {
    const { ipam } = ipamFixture(':memory:', 10);
    let run = 0;
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ op: fc.constant('alloc' as const), server: fc.integer({ min: 1, max: 10 }) }), fc.record({ op: fc.constant('release' as const), pick: fc.nat() })), {
          maxLength: 60,
        }),
        (ops) => {
          run++;
          const prefix = `10.${run >> 8}.${run & 255}`;
          const net = ipam.createNetwork(ADMIN, { name: `${prefix}.0/28`, gateway: `${prefix}.14` });
          const mine = () => ipam.listAddresses(ADMIN, ALL).list.filter((a) => a.networkId === net.id);
          const model = new Map<string, number>(); // ip -> address id
          const hosts = Array.from({ length: 13 }, (_, i) => `${prefix}.${i + 1}`); // .1-.13; .14 is the gateway
          for (const o of ops) {
            if (o.op === 'alloc') {
              const expected = hosts.find((h) => !model.has(h));
              if (!expected) expect(code(() => ipam.allocate(ADMIN, o.server, { network: net.id }))).toBe('IP_EXHAUSTED');
              else {
                const a = ipam.allocate(ADMIN, o.server, { network: net.id });
                expect(a.ip).toBe(expected);
                model.set(a.ip, a.id);
              }
            } else if (model.size) {
              const [ip, id] = [...model.entries()][o.pick % model.size];
              const server = mine().find((x) => x.id === id)!.serverId;
              ipam.release(ADMIN, server, id);
              model.delete(ip);
            }
          }
          const all = mine().map((a) => a.ip);
          expect(new Set(all).size).toBe(all.length);
          expect(new Set(all)).toEqual(new Set(model.keys()));
        },
      ),
      { numRuns: 300 },
    );
  });
});
