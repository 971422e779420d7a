// DCImanager response shapes (seeds/004): servers, users, IP networks, pools, addresses and tasks.
import type { UserRecord } from '../../store/repos/users-repo.js';
import type { TaskRecord } from '../../store/repos/tasks-repo.js';
import type { IpAddress, IpNetwork, IpPool, ServerIp } from '../../core/ipam.js';
import type { ServerView } from '../../core/server-views.js';
import { mainIp } from '../eq/eq-shapes.js';

const familyName = (f: 4 | 6) => (f === 4 ? 'ipv4' : 'ipv6');

/** A server's address in DCImanager's address fields (name is the address), with rackhand's type and main flag. */
export function dciServerIp(ip: ServerIp) {
  return {
    id: ip.id,
    name: ip.ip,
    ip: ip.ip,
    family: familyName(ip.family),
    type: ip.type,
    main: ip.main,
    domain: ip.domain,
    gateway: ip.gateway ?? '',
    mask: ip.prefix,
    network: ip.network ?? '',
    interface: ip.interface,
    status: 'active',
    status_info: {},
  };
}

export function dciServer(v: ServerView) {
  const s = v.server;
  return {
    id: s.id,
    name: s.name,
    domain: '',
    status: s.status,
    configuration: s.configuration,
    preset: s.preset,
    type: s.type,
    location: { id: s.locationId, name: s.location, datacenter: s.datacenter },
    rack: { name: s.rack, position: s.rackPosition },
    owner: v.owner,
    ip: mainIp(s),
    ip_list: v.ips.map(dciServerIp),
    interfaces: s.interfaces.map((i) => ({ id: i.id, name: i.name, mac: i.mac, ip: i.ip, switch: i.switch, switch_port: i.switchPort })),
    os: s.os,
    tags: s.tags,
    groups: s.groups,
    hardware: s.hardware,
    ipmi: s.bmc ? { ip: s.bmc.host, model: s.bmc.model, user: s.bmc.username, password: s.bmc.passwordSet ? 'set' : 'not set' } : null,
    power_status: s.power.state,
    power_read_at: s.power.readAt,
    suspended: s.suspended,
    // The operation in progress (an install, diagnostics or wipe), as DCImanager's `operation`.
    operation: v.deploy && { id: v.deploy.task, name: v.deploy.kind, purpose: v.deploy.purpose, os_id: v.deploy.osId, status: v.deploy.state, key: v.deploy.key },
  };
}

export function dciUser(u: UserRecord) {
  return { id: u.id, email: u.email, full_name: u.fullName, server_count: u.serverCount, roles: `[@${u.role}]`, vlans_per_user: u.vlansPerUser };
}

/** A task in DCImanager's operation fields: status, status_info (the error), progress_info (the journal). */
export function dciTask(t: TaskRecord) {
  return {
    id: t.id,
    name: t.kind,
    server_id: t.serverId,
    status: t.state,
    status_info: t.error ?? {},
    progress_info: t.steps.map((st) => ({ at: st.at, name: st.name, state: st.state, message: st.message })),
    result: t.result,
    waiting_for: t.waitingFor,
    requested_by: t.requestedBy,
    created_at: t.createdAt,
    started_at: t.startedAt,
    finished_at: t.finishedAt,
  };
}

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

