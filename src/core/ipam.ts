// The IP address capability: networks, pools and the addresses given to servers; the main IPv4 feeds DHCP and installs.
import { RackhandError } from '../errors.js';
import { describePrincipal, type Principal } from '../auth/tokens.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import { can, requireAllowed, requireVisibleServer } from './access.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { ServerRecord } from '../domain/server.js';
import {
  BITS,
  canonicalIp,
  cidrContains,
  formatCidr,
  formatIp,
  isPrivateAddress,
  lastAddress,
  netmaskOf,
  parseCidr,
  parseIp,
  usableBounds,
  type Cidr,
  type IpFamily,
} from '../domain/ip-address.js';
import { IpamRepo, ipKey, keyValue, storedValue, type AddressRow, type NetworkRow, type PoolRow } from '../store/repos/ipam-repo.js';
import { pageOf, type Page, type Paged } from './page.js';

export interface IpNetwork {
  id: number;
  name: string; // canonical CIDR
  family: IpFamily;
  network: string;
  prefix: number;
  netmask: string | null; // IPv4 only
  gateway: string | null;
  vlan: string;
  note: string;
  dns: string[];
  userspace: number;
  /** Decimal strings: an IPv6 network's size does not fit a JSON number. */
  size: string;
  totalIp: string;
  usingIp: number;
}

export interface IpPool {
  id: number;
  name: string;
  note: string;
  isPublic: boolean;
  userspace: number;
  ranges: { id: number; networkId: number; network: string; first: string; last: string }[];
  using: { 4: number; 6: number };
  total: { 4: string; 6: string };
}

export interface IpAddress {
  id: number;
  serverId: number;
  serverName: string;
  family: IpFamily;
  ip: string;
  networkId: number;
  network: string;
  prefix: number;
  gateway: string | null;
  poolId: number | null;
  domain: string;
  mainIpv4: boolean;
  status: string;
  userspace: number;
  createdAt: string;
}

/** An address a server holds as central sees it: an interface's own, or one IPAM gave it. */
export interface ServerIp {
  ip: string;
  family: IpFamily;
  /** The pool's flag when the address lies in a pool; otherwise by its range (RFC 1918, 100.64/10, ULA… are private). */
  type: 'public' | 'private';
  /** The server's main address (IPAM's main IPv4, else its first interface's). */
  main: boolean;
  /** IPAM's address id; null for an interface address IPAM does not hold. */
  id: number | null;
  network: string | null;
  gateway: string | null;
  prefix: number | null;
  domain: string;
  /** The interface carrying it, when an interface record names it. */
  interface: string | null;
}

/** What DHCP (yiaddr, options 1/3/6) and an install's static network configuration need. */
export interface HostNetwork {
  ip: string;
  netmask: string;
  gateway?: string;
  dns?: string[];
  prefixLength: number;
}

export interface NetworkInput {
  /** CIDR (`10.0.0.0/24`), or a network address when `mask` is given. */
  name: string;
  mask?: number;
  family?: IpFamily;
  gateway?: string;
  vlan?: string;
  note?: string;
  dns?: string[];
  userspace?: number;
}

export interface PoolInput {
  name: string;
  note?: string;
  isPublic?: boolean;
  userspace?: number;
  /** Each `first-last`, a CIDR, or one address; each must lie inside one registered network. */
  ranges: string[];
}

export interface AllocateRequest {
  family?: IpFamily;
  ipName?: string;
  network?: number | string;
  pool?: number | string;
  domain?: string;
  setAsMainIpv4?: boolean;
  userspace?: number;
}

interface Candidate {
  net: NetworkRow;
  cidr: Cidr;
  poolId: number | null;
  first: bigint;
  last: bigint;
}

export class Ipam {
  constructor(
    private readonly repo: IpamRepo,
    private readonly servers: ServersRepo,
    private readonly tasks: TaskRunner,
  ) {}

  // ---- networks ----

  listNetworks(p: Principal, page: Page): Paged<IpNetwork> {
    requireAllowed(can.seeAllServers(p), 'list IP networks');
    const usage = this.repo.networkUsage();
    const { list, total } = pageOf(this.repo.networks(), page);
    return { list: list.map((n) => toNetwork(n, usage.get(n.id) ?? 0)), total };
  }

  createNetwork(p: Principal, input: NetworkInput): IpNetwork {
    requireAllowed(can.manageInventory(p), 'change IP networks');
    const cidr = parseCidr(input.name, input.mask);
    if (!cidr) {
      throw new RackhandError('INVALID_INPUT', `name: ${JSON.stringify(input.name)} is not a network in CIDR form (host bits must be zero)`, {
        field: 'name',
      });
    }
    if (input.family !== undefined && input.family !== cidr.family) {
      throw new RackhandError('INVALID_INPUT', `family: ${input.name} is not an IPv${input.family} network`, { field: 'family' });
    }
    let gateway: string | null = null;
    if (input.gateway) {
      const g = parseIp(input.gateway);
      const usable = usableBounds(cidr);
      if (!g || !cidrContains(cidr, g.family, g.value) || g.value < usable.first || g.value > usable.last) {
        throw new RackhandError('INVALID_INPUT', `gateway: ${input.gateway} is not a host address of ${formatCidr(cidr)}`, { field: 'gateway' });
      }
      gateway = formatIp(g.family, g.value);
    }
    const dns = (input.dns ?? []).map((d, i) => {
      const c = canonicalIp(d);
      if (!c) throw new RackhandError('INVALID_INPUT', `dns.${i}: ${JSON.stringify(d)} is not an IP address`, { field: `dns.${i}` });
      return c;
    });
    const name = formatCidr(cidr);
    return this.repo.immediate(() => {
      const overlap = this.repo
        .networks()
        .find((n) => n.family === cidr.family && overlaps(cidr, parseCidr(n.name)!));
      if (overlap) throw new RackhandError('CONFLICT', `network ${name} overlaps network ${overlap.name} (id ${overlap.id})`, { network: overlap.id });
      const id = this.repo.insertNetwork({
        name,
        family: cidr.family,
        network: formatIp(cidr.family, cidr.network),
        prefix: cidr.prefix,
        gateway,
        vlan: input.vlan ?? '',
        note: input.note ?? '',
        dns: JSON.stringify(dns),
        userspace: input.userspace ?? 0,
      });
      return toNetwork(this.repo.network(id)!, 0);
    });
  }

  // ---- pools ----

  listPools(p: Principal, page: Page): Paged<IpPool> {
    requireAllowed(can.seeAllServers(p), 'list IP pools');
    const { list, total } = pageOf(this.repo.pools(), page);
    return { list: this.poolsOf(list), total };
  }

  private poolsOf(pools: PoolRow[]): IpPool[] {
    const nets = new Map(this.repo.networks().map((n) => [n.id, n]));
    const ranges = this.repo.ranges();
    return pools.map((pool) => {
      const own = ranges.filter((r) => r.pool_id === pool.id);
      const total = { 4: 0n, 6: 0n };
      for (const r of own) {
        const net = nets.get(r.network_id)!;
        total[net.family] += rangeCapacity(net, keyValue(r.first_key), keyValue(r.last_key));
      }
      return {
        id: pool.id,
        name: pool.name,
        note: pool.note,
        isPublic: pool.is_public === 1,
        userspace: pool.userspace,
        ranges: own.map((r) => {
          const net = nets.get(r.network_id)!;
          return { id: r.id, networkId: net.id, network: net.name, first: formatIp(net.family, keyValue(r.first_key)), last: formatIp(net.family, keyValue(r.last_key)) };
        }),
        using: this.repo.poolUsage(pool.id),
        total: { 4: String(total[4]), 6: String(total[6]) },
      };
    });
  }

  createPool(p: Principal, input: PoolInput): IpPool {
    requireAllowed(can.manageInventory(p), 'change IP pools');
    const id = this.repo.immediate(() => {
      if (this.repo.poolByName(input.name)) throw new RackhandError('CONFLICT', `pool ${input.name} already exists`, { field: 'name' });
      const nets = this.repo.networks();
      const parsed = input.ranges.map((text, i) => {
        const r = parseRange(text);
        const field = `ranges.${i}`;
        if (!r) throw new RackhandError('INVALID_INPUT', `${field}: ${JSON.stringify(text)} is not first-last, a CIDR or an address`, { field });
        const net = nets.find((n) => cidrContains(parseCidr(n.name)!, r.family, r.first));
        if (!net) throw new RackhandError('INVALID_INPUT', `${field}: ${formatIp(r.family, r.first)} is in no registered network`, { field });
        const cidr = parseCidr(net.name)!;
        if (!cidrContains(cidr, r.family, r.last)) {
          throw new RackhandError('INVALID_INPUT', `${field}: ${text} leaves network ${net.name}`, { field });
        }
        return { net, first: r.first, last: r.last, field };
      });
      for (const [i, a] of parsed.entries()) {
        for (const b of parsed.slice(i + 1)) {
          if (a.net.id === b.net.id && a.first <= b.last && b.first <= a.last) {
            throw new RackhandError('INVALID_INPUT', `${b.field}: overlaps ${a.field}`, { field: b.field });
          }
        }
        const o = this.repo.overlappingRange(a.net.id, ipKey(a.first), ipKey(a.last));
        if (o) throw new RackhandError('CONFLICT', `${a.field}: overlaps a range of pool ${this.repo.pool(o.pool_id)?.name}`, { field: a.field, pool: o.pool_id });
      }
      const poolId = this.repo.insertPool({ name: input.name, note: input.note ?? '', is_public: input.isPublic ? 1 : 0, userspace: input.userspace ?? 0 });
      for (const r of parsed) this.repo.insertRange({ pool_id: poolId, network_id: r.net.id, first_key: ipKey(r.first), last_key: ipKey(r.last) });
      return poolId;
    });
    return this.poolsOf([this.repo.pool(id)!])[0];
  }

  // ---- addresses ----

  listAddresses(p: Principal, page: Page): Paged<IpAddress> {
    const { rows, total } = this.repo.addresses({ ...page, ownerId: can.seeAllServers(p) ? undefined : (p.ownerId ?? -1) });
    return { list: rows.map(toAddress), total };
  }

  /**
   * Every address of these servers (already checked visible by the caller): interface addresses and IPAM's, one
   * entry per address, main first, each typed public or private. One query for the page, not one per server.
   */
  serverIps(servers: ServerRecord[]): Map<number, ServerIp[]> {
    const out = new Map<number, ServerIp[]>();
    if (servers.length === 0) return out;
    const ranges = this.repo.rangesWithPools();
    const typeOf = (family: IpFamily, value: bigint, poolPublic: number | null): 'public' | 'private' => {
      if (poolPublic !== null) return poolPublic === 1 ? 'public' : 'private';
      const key = ranges.length ? ipKey(value) : '';
      const range = ranges.find((r) => r.family === family && r.first_key <= key && key <= r.last_key);
      if (range) return range.is_public === 1 ? 'public' : 'private';
      return isPrivateAddress(family, value) ? 'private' : 'public';
    };
    const byServer = new Map<number, (AddressRow & { pool_public: number | null })[]>();
    for (const row of this.repo.addressesOf(servers.map((s) => s.id))) {
      const list = byServer.get(row.server_id) ?? [];
      list.push(row);
      byServer.set(row.server_id, list);
    }
    for (const s of servers) {
      const ipam = byServer.get(s.id) ?? [];
      const mainText = ipam.find((a) => a.is_main === 1 && a.family === 4)?.ip ?? s.interfaces.find((i) => i.ip)?.ip ?? undefined;
      const list: ServerIp[] = [];
      const seen = new Set<string>();
      const add = (ip: string, family: IpFamily, value: bigint, a: (AddressRow & { pool_public: number | null }) | undefined, iface: string | null) => {
        seen.add(ip);
        list.push({
          ip,
          family,
          type: typeOf(family, value, a?.pool_public ?? null),
          main: ip === mainText,
          id: a?.id ?? null,
          network: a?.network_name ?? null,
          gateway: a?.gateway ?? null,
          prefix: a?.prefix ?? null,
          domain: a?.domain ?? '',
          interface: iface,
        });
      };
      for (const i of s.interfaces) {
        const parsed = i.ip ? parseIp(i.ip) : undefined;
        if (!parsed) continue;
        const text = formatIp(parsed.family, parsed.value);
        if (!seen.has(text)) add(text, parsed.family, parsed.value, ipam.find((a) => a.ip === text), i.name);
      }
      for (const a of ipam) if (!seen.has(a.ip)) add(a.ip, a.family, storedValue(a.ip), a, null);
      list.sort((x, y) => Number(y.main) - Number(x.main));
      out.set(s.id, list);
    }
    return out;
  }

  serverAddresses(p: Principal, serverId: number, page: Page): Paged<IpAddress> {
    requireVisibleServer(p, this.servers.get(serverId), serverId);
    const { rows, total } = this.repo.addresses({ serverId, ...page });
    return { list: rows.map(toAddress), total };
  }

  address(p: Principal, serverId: number, ipId: number): IpAddress {
    requireVisibleServer(p, this.servers.get(serverId), serverId);
    const row = this.repo.address(ipId);
    if (!row || row.server_id !== serverId) throw new RackhandError('NOT_FOUND', `address ${ipId} of server ${serverId} not found`, { id: ipId });
    return toAddress(row);
  }

  /**
   * Give the server the next free address of the pool or network (or exactly `ipName`). Runs in one
   * IMMEDIATE transaction, and the unique index on the address is the last word: never handed out twice.
   */
  /** Allocate and journal the change as a task (finished before the caller is answered, so it can poll it at once). */
  async allocateRecorded(p: Principal, serverId: number, req: AllocateRequest): Promise<{ address: IpAddress; task: number }> {
    const a = this.allocate(p, serverId, req);
    return { address: a, task: await this.record(p, 'ip_allocate', a) };
  }

  async releaseRecorded(p: Principal, serverId: number, ipId: number): Promise<{ address: IpAddress; task: number }> {
    const a = this.release(p, serverId, ipId);
    return { address: a, task: await this.record(p, 'ip_release', a) };
  }

  private async record(p: Principal, kind: 'ip_allocate' | 'ip_release', a: IpAddress): Promise<number> {
    const t = this.tasks.submit(kind, {
      serverId: a.serverId,
      params: { ip_id: a.id, ip: a.ip, network: a.network, main_ipv4: a.mainIpv4 },
      requestedBy: describePrincipal(p),
    });
    await this.tasks.wait(t.id);
    return t.id;
  }

  allocate(p: Principal, serverId: number, req: AllocateRequest): IpAddress {
    requireVisibleServer(p, this.servers.get(serverId), serverId);
    requireAllowed(can.manageInventory(p), 'allocate IP addresses');
    const wanted = req.ipName !== undefined ? parseIp(req.ipName) : undefined;
    if (req.ipName !== undefined && !wanted) {
      throw new RackhandError('INVALID_INPUT', `ip_name: ${JSON.stringify(req.ipName)} is not an IP address`, { field: 'ip_name' });
    }
    if (wanted && req.family !== undefined && wanted.family !== req.family) {
      throw new RackhandError('INVALID_INPUT', `ip_name: ${req.ipName} is not IPv${req.family}`, { field: 'ip_name' });
    }
    const family = req.family ?? wanted?.family;
    if (req.setAsMainIpv4 && family === 6) {
      throw new RackhandError('INVALID_INPUT', 'set_as_main_ipv4: an IPv6 address cannot be the main IPv4', { field: 'set_as_main_ipv4' });
    }
    const id = this.repo.immediate(() => {
      const candidates = this.candidates(req, family, wanted);
      let chosen: { c: Candidate; value: bigint } | undefined;
      if (wanted) {
        const c = candidates.find((k) => wanted.value >= k.first && wanted.value <= k.last);
        if (!c) {
          throw new RackhandError('INVALID_INPUT', `ip_name: ${req.ipName} is not an assignable address of the chosen ${req.pool !== undefined ? 'pool' : 'network'}`, {
            field: 'ip_name',
          });
        }
        if (c.net.gateway && storedValue(c.net.gateway) === wanted.value) {
          throw new RackhandError('INVALID_INPUT', `ip_name: ${req.ipName} is the gateway of ${c.net.name}`, { field: 'ip_name' });
        }
        const taken = this.repo.addressByKey(wanted.family, ipKey(wanted.value));
        if (taken) throw new RackhandError('CONFLICT', `${formatIp(wanted.family, wanted.value)} is already given to server ${taken.server_id}`, { field: 'ip_name' });
        chosen = { c, value: wanted.value };
      } else {
        for (const c of candidates) {
          const v = nextFree(this.repo, c);
          if (v !== undefined) {
            chosen = { c, value: v };
            break;
          }
        }
        if (!chosen) {
          const where = req.pool !== undefined ? `pool ${req.pool}` : `network ${candidates[0]?.net.name ?? req.network}`;
          throw new RackhandError('IP_EXHAUSTED', `no free ${family ? `IPv${family} ` : ''}address left in ${where}`, {
            pool: req.pool,
            network: req.network,
          });
        }
      }
      if (req.setAsMainIpv4 && chosen.c.net.family === 6) {
        throw new RackhandError('INVALID_INPUT', 'set_as_main_ipv4: an IPv6 address cannot be the main IPv4', { field: 'set_as_main_ipv4' });
      }
      const main = !!req.setAsMainIpv4;
      if (main) this.repo.clearMain(serverId);
      const newId = this.repo.insertAddress({
        server_id: serverId,
        family: chosen.c.net.family,
        value: chosen.value,
        network_id: chosen.c.net.id,
        pool_id: chosen.c.poolId,
        domain: req.domain ?? '',
        is_main: main,
        userspace: req.userspace ?? 0,
      });
      if (main) this.repo.setFirstInterfaceIp(serverId, formatIp(4, chosen.value));
      return newId;
    });
    return toAddress(this.repo.address(id)!);
  }

  /** Take an address back from its server; a main IPv4 also leaves the server's interface. */
  release(p: Principal, serverId: number, ipId: number): IpAddress {
    requireVisibleServer(p, this.servers.get(serverId), serverId);
    requireAllowed(can.manageInventory(p), 'release IP addresses');
    return this.repo.immediate(() => {
      const row = this.repo.address(ipId);
      if (!row || row.server_id !== serverId) throw new RackhandError('NOT_FOUND', `address ${ipId} of server ${serverId} not found`, { id: ipId });
      this.repo.deleteAddress(ipId);
      if (row.is_main) this.repo.clearInterfaceIp(serverId, row.ip);
      return toAddress(row);
    });
  }

  /** The server's main IPv4 with its network's mask, gateway and resolvers; undefined when it has none. */
  hostNetwork(serverId: number): HostNetwork | undefined {
    const row = this.repo.mainIpv4(serverId);
    if (!row) return undefined;
    const dns = JSON.parse(row.dns) as string[];
    return {
      ip: row.ip,
      netmask: netmaskOf(row.prefix),
      ...(row.gateway ? { gateway: row.gateway } : {}),
      ...(dns.length ? { dns } : {}),
      prefixLength: row.prefix,
    };
  }

  private candidates(req: AllocateRequest, family: IpFamily | undefined, wanted: { family: IpFamily; value: bigint } | undefined): Candidate[] {
    const net = req.network !== undefined ? this.resolveNetwork(req.network) : undefined;
    if (net && family !== undefined && net.family !== family) {
      throw new RackhandError('INVALID_INPUT', `ip_net: ${net.name} is not an IPv${family} network`, { field: 'ip_net' });
    }
    const whole = (n: NetworkRow): Candidate => {
      const cidr = parseCidr(n.name)!;
      const u = usableBounds(cidr);
      return { net: n, cidr, poolId: null, ...u };
    };
    if (req.pool !== undefined) {
      const pool = typeof req.pool === 'number' ? this.repo.pool(req.pool) : this.repo.poolByName(req.pool);
      if (!pool) throw new RackhandError('NOT_FOUND', `pool ${req.pool} not found`, { field: 'ip_pool' });
      const out: Candidate[] = [];
      for (const r of this.repo.ranges(pool.id)) {
        const n = this.repo.network(r.network_id)!;
        if ((family !== undefined && n.family !== family) || (net && n.id !== net.id)) continue;
        const w = whole(n);
        const first = maxBig(w.first, keyValue(r.first_key));
        const last = minBig(w.last, keyValue(r.last_key));
        if (first <= last) out.push({ ...w, poolId: pool.id, first, last });
      }
      if (out.length === 0) {
        throw new RackhandError('INVALID_INPUT', `ip_pool: pool ${pool.name} has no ${family ? `IPv${family} ` : ''}range${net ? ` in ${net.name}` : ''}`, {
          field: 'ip_pool',
        });
      }
      return out;
    }
    if (net) return [whole(net)];
    if (wanted) {
      const n = this.repo.networks().find((x) => cidrContains(parseCidr(x.name)!, wanted.family, wanted.value));
      if (!n) throw new RackhandError('INVALID_INPUT', `ip_name: ${formatIp(wanted.family, wanted.value)} is in no registered network`, { field: 'ip_name' });
      return [whole(n)];
    }
    throw new RackhandError('INVALID_INPUT', 'ip_pool or ip_net is required (or ip_name inside a registered network)', { field: 'ip_pool' });
  }

  private resolveNetwork(ref: number | string): NetworkRow {
    const n =
      typeof ref === 'number' ? this.repo.network(ref) : (this.repo.networkByName(ref) ?? this.repo.networkByName(canonicalCidrText(ref) ?? ''));
    if (!n) throw new RackhandError('NOT_FOUND', `network ${ref} not found`, { field: 'ip_net' });
    return n;
  }
}

/**
 * The lowest free address of the candidate range: walks from `first` past taken ones (and the gateway).
 * The walk is bounded by the number of taken addresses in the range, so a huge IPv6 range costs nothing.
 */
function nextFree(repo: IpamRepo, c: Candidate): bigint | undefined {
  const taken = repo.takenKeys(c.net.id, ipKey(c.first), ipKey(c.last));
  const gw = c.net.gateway ? storedValue(c.net.gateway) : undefined;
  let v = c.first;
  let i = 0;
  while (v <= c.last) {
    const k = ipKey(v);
    while (i < taken.length && taken[i] < k) i++;
    if ((i < taken.length && taken[i] === k) || v === gw) {
      v++;
      continue;
    }
    return v;
  }
  return undefined;
}

function overlaps(a: Cidr, b: Cidr): boolean {
  return a.network <= lastAddress(b) && b.network <= lastAddress(a);
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function canonicalCidrText(s: string): string | undefined {
  const c = parseCidr(s);
  return c && formatCidr(c);
}

/** How many hosts of [first, last] a server could get in this network (usable bounds, minus the gateway). */
function rangeCapacity(net: NetworkRow, first: bigint, last: bigint): bigint {
  const u = usableBounds(parseCidr(net.name)!);
  const f = maxBig(first, u.first);
  const l = minBig(last, u.last);
  if (f > l) return 0n;
  let n = l - f + 1n;
  if (net.gateway) {
    const g = storedValue(net.gateway);
    if (g >= f && g <= l) n--;
  }
  return n;
}

/** `a-b`, a CIDR (its usable hosts are clipped later), or one address. */
export function parseRange(text: string): { family: IpFamily; first: bigint; last: bigint } | undefined {
  const t = text.trim();
  if (t.includes('/')) {
    const c = parseCidr(t);
    return c && { family: c.family, first: c.network, last: lastAddress(c) };
  }
  const dash = t.indexOf('-');
  if (dash !== -1) {
    const a = parseIp(t.slice(0, dash).trim());
    const b = parseIp(t.slice(dash + 1).trim());
    if (!a || !b || a.family !== b.family || a.value > b.value) return undefined;
    return { family: a.family, first: a.value, last: b.value };
  }
  const a = parseIp(t);
  return a && { family: a.family, first: a.value, last: a.value };
}

function toNetwork(n: NetworkRow, using: number): IpNetwork {
  const cidr = parseCidr(n.name)!;
  const size = 1n << BigInt(BITS[n.family] - n.prefix);
  const u = usableBounds(cidr);
  let total = u.last - u.first + 1n;
  if (n.gateway) total--;
  return {
    id: n.id,
    name: n.name,
    family: n.family,
    network: n.network,
    prefix: n.prefix,
    netmask: n.family === 4 ? netmaskOf(n.prefix) : null,
    gateway: n.gateway,
    vlan: n.vlan,
    note: n.note,
    dns: JSON.parse(n.dns) as string[],
    userspace: n.userspace,
    size: String(size),
    totalIp: String(total),
    usingIp: using,
  };
}

function toAddress(r: AddressRow): IpAddress {
  return {
    id: r.id,
    serverId: r.server_id,
    serverName: r.server_name,
    family: r.family,
    ip: r.ip,
    networkId: r.network_id,
    network: r.network_name,
    prefix: r.prefix,
    gateway: r.gateway,
    poolId: r.pool_id,
    domain: r.domain,
    mainIpv4: r.is_main === 1,
    status: r.status,
    userspace: r.userspace,
    createdAt: r.created_at,
  };
}
