// DCImanager-style IP paths (seeds/004): /api/ip/v3/ipnet, /api/ip/v3/ippool, /api/dci/v3/ip and a server's addresses.
import { z } from 'zod';
import { describePrincipal, type Principal } from '../../auth/tokens.js';
import type { TaskRunner } from '../../tasks/task-runner.js';
import type { IpamService, IpAddress, IpNetwork, IpPool } from '../../ipam/ipam-service.js';
import { flagParam, idParams, intParam, pageQuery } from '../params.js';
import { route, type RouteSpec } from '../route-table.js';

export interface DciIpamDeps {
  ipam: IpamService;
  /** Must have the `ip_allocate` and `ip_release` workflows of ipamWorkflows() registered. */
  tasks: TaskRunner;
}

const text = (max: number) => z.string().max(max).regex(/^[^\x00-\x1f\x7f]*$/, 'control characters are not allowed');

/** Billing sends "", null or 0 for a field it does not use: all three mean "not given". */
const unset = (v: unknown) => (v === '' || v === null || v === 0 || v === '0' ? undefined : v);

/** DCImanager spells families as ipv4/ipv6, 4/6, or AF_INET numbers (2/10). */
const familyParam = z
  .union([z.literal(4), z.literal(6), z.literal(2), z.literal(10), z.enum(['ipv4', 'ipv6', 'IPv4', 'IPv6', '4', '6', '2', '10', 'inet', 'inet6'])], {
    error: 'expected ipv4 or ipv6',
  })
  .transform((v): 4 | 6 => (['ipv6', 'IPv6', '6', '10', 'inet6', 6, 10] as unknown[]).includes(v) ? 6 : 4);

/** A network or pool by id, or by name. */
const refParam = z.union([intParam, text(64).min(1)]);

const domainParam = z.string().max(253).regex(/^[A-Za-z0-9.-]*$/, 'letters, digits, dots and dashes only');

const allocateBody = z
  .object({
    domain: domainParam.optional(),
    family: z.preprocess(unset, familyParam.optional()),
    ip_name: z.preprocess(unset, z.string().max(64).optional()),
    ip_net: z.preprocess(unset, refParam.optional()),
    ip_pool: z.preprocess(unset, refParam.optional()),
    set_as_main_ipv4: flagParam.optional(),
    userspace: z.preprocess((v) => (v === '' || v === null ? undefined : v), intParam.optional()),
  })
  .strict();

const networkBody = z
  .object({
    name: z.string().min(1).max(64),
    mask: intParam.pipe(z.number().max(128)).optional(),
    family: z.preprocess(unset, familyParam.optional()),
    gateway: z.preprocess((v) => (v === '' || v === null ? undefined : v), z.string().max(64).optional()),
    vlan: text(64).optional(),
    note: text(1024).optional(),
    dns: z.array(z.string().max(64)).max(8).optional(),
    userspace: intParam.optional(),
  })
  .strict();

const poolBody = z
  .object({
    name: text(64).min(1),
    note: text(1024).optional(),
    is_public: flagParam.optional(),
    userspace: intParam.optional(),
    ranges: z.array(z.string().max(100)).min(1).max(256),
  })
  .strict();

const addressParams = z.object({ id: intParam, ip_id: intParam }).strict();

const familyName = (f: 4 | 6) => (f === 4 ? 'ipv4' : 'ipv6');

export function dciIpNetwork(n: IpNetwork) {
  return {
    id: n.id,
    name: n.name,
    family: n.family === 4 ? 2 : 10, // AF_INET / AF_INET6, as DCImanager reports them
    mask: n.prefix,
    netmask: n.netmask,
    gateway: n.gateway ?? '',
    userspace: n.userspace,
    vlan: n.vlan,
    note: n.note,
    dns: n.dns,
    size: n.size,
    using_ip: String(n.usingIp),
    total_ip: n.totalIp,
  };
}

export function dciIpPool(p: IpPool) {
  return {
    id: p.id,
    name: p.name,
    userspace: p.userspace,
    note: p.note,
    is_public: p.isPublic ? 'on' : 'off',
    using_ip: String(p.using[4] + p.using[6]),
    using_ipv4: String(p.using[4]),
    using_ipv6: String(p.using[6]),
    total_ip: String(BigInt(p.total[4]) + BigInt(p.total[6])),
    total_ipv4: p.total[4],
    total_ipv6: p.total[6],
    ranges: p.ranges.map((r) => ({ id: r.id, network: r.network, network_id: r.networkId, first: r.first, last: r.last })),
  };
}

export function dciIpAddress(a: IpAddress) {
  return {
    id: a.id,
    name: a.ip,
    ip: a.ip,
    domain: a.domain,
    family: familyName(a.family),
    gateway: a.gateway ?? '',
    mask: a.prefix,
    network: a.network,
    network_id: a.networkId,
    ip_pool: a.poolId,
    server: a.serverName,
    server_id: a.serverId,
    main_ipv4: a.mainIpv4,
    status: a.status,
    status_info: {},
  };
}

export function dciIpamRoutes(d: DciIpamDeps): RouteSpec[] {
  /** Journal the change as a task (finished before we answer, so the caller can poll it at once). */
  const record = async (p: Principal, kind: 'ip_allocate' | 'ip_release', a: IpAddress) => {
    const t = d.tasks.submit(kind, {
      serverId: a.serverId,
      params: { ip_id: a.id, ip: a.ip, network: a.network, main_ipv4: a.mainIpv4 },
      requestedBy: describePrincipal(p),
    });
    await d.tasks.wait(t.id);
    return t.id;
  };
  return [
    route({
      method: 'GET',
      url: '/api/ip/v3/ipnet',
      summary: 'DCImanager: list IP networks',
      tag: 'ipam',
      handler: ({ principal }) => {
        const list = d.ipam.listNetworks(principal).map(dciIpNetwork);
        return { list, size: list.length };
      },
    }),
    route({
      method: 'POST',
      url: '/api/ip/v3/ipnet',
      summary: 'Create an IP network (name is its CIDR, or an address with mask)',
      tag: 'ipam',
      body: networkBody,
      status: 201,
      handler: ({ principal, body }) => dciIpNetwork(d.ipam.createNetwork(principal, body)),
    }),
    route({
      method: 'GET',
      url: '/api/ip/v3/ippool',
      summary: 'DCImanager: list IP pools',
      tag: 'ipam',
      handler: ({ principal }) => {
        const list = d.ipam.listPools(principal).map(dciIpPool);
        return { list, size: list.length };
      },
    }),
    route({
      method: 'POST',
      url: '/api/ip/v3/ippool',
      summary: 'Create an IP pool from ranges (first-last, CIDR or one address) inside registered networks',
      tag: 'ipam',
      body: poolBody,
      status: 201,
      handler: ({ principal, body }) =>
        dciIpPool(d.ipam.createPool(principal, { name: body.name, note: body.note, isPublic: body.is_public, userspace: body.userspace, ranges: body.ranges })),
    }),
    route({
      method: 'GET',
      url: '/api/dci/v3/ip',
      summary: 'DCImanager: list IP addresses (a client sees those of its servers)',
      tag: 'ipam',
      query: z.object(pageQuery).strict(),
      handler: ({ principal, query }) => {
        const { list, total } = d.ipam.listAddresses(principal, query);
        return { list: list.map(dciIpAddress), size: total };
      },
    }),
    route({
      method: 'GET',
      url: '/api/dci/v3/server/:id/ip',
      summary: "DCImanager: a server's IP addresses",
      tag: 'ipam',
      params: idParams,
      handler: ({ principal, params }) => {
        const list = d.ipam.serverAddresses(principal, params.id).map(dciIpAddress);
        return { list, size: list.length };
      },
    }),
    route({
      method: 'POST',
      url: '/api/dci/v3/server/:id/ip',
      summary: 'DCImanager: allocate an IP address to a server (returns {id: address id, task})',
      tag: 'ipam',
      params: idParams,
      body: allocateBody,
      handler: async ({ principal, params, body }) => {
        const a = d.ipam.allocate(principal, params.id, {
          family: body.family,
          ipName: body.ip_name,
          network: body.ip_net,
          pool: body.ip_pool,
          domain: body.domain,
          setAsMainIpv4: body.set_as_main_ipv4,
          userspace: body.userspace,
        });
        return { id: a.id, task: await record(principal, 'ip_allocate', a) };
      },
    }),
    route({
      method: 'POST',
      url: '/api/dci/v3/server/:id/ip/:ip_id',
      summary: 'DCImanager: delete an IP address from a server (returns {id, task})',
      tag: 'ipam',
      params: addressParams,
      body: z.record(z.string(), z.unknown()).optional(),
      handler: async ({ principal, params }) => {
        const a = d.ipam.release(principal, params.id, params.ip_id);
        return { id: a.id, task: await record(principal, 'ip_release', a) };
      },
    }),
  ];
}
