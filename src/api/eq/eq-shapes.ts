// ServerRecord / ServerView → the eq module's response shapes (seeds/000: eq/show, eq/status, eq/list, update_servers).
import type { ServerRecord } from '../../domain/server.js';
import type { ServerIp } from '../../core/ipam.js';
import type { DeployInProgress, ServerView } from '../../core/server-views.js';

export function mainIp(s: ServerRecord): string {
  return s.interfaces.find((i) => i.ip)?.ip ?? '';
}

export function eqServerData(s: ServerRecord) {
  return { id: s.id, name: s.name, status: s.status, location: s.location, ip: mainIp(s), type: s.type };
}

/** One address as eq lists them: the seed's {IP, type} and what central also needs to route it. */
export function eqIp(ip: ServerIp) {
  return {
    IP: ip.ip,
    type: ip.type,
    family: ip.family === 4 ? 'ipv4' : 'ipv6',
    main: ip.main,
    interface: ip.interface,
    network: ip.network,
    gateway: ip.gateway,
    mask: ip.prefix,
    domain: ip.domain,
  };
}

/** The install in progress as eq shows it (null when none). */
export function eqDeploy(d: DeployInProgress | null) {
  return d && { task: d.task, kind: d.kind, purpose: d.purpose, os_id: d.osId, state: d.state, waiting_for: d.waitingFor, started_at: d.startedAt, key: d.key };
}

export function eqShow(v: ServerView) {
  const s = v.server;
  return {
    server_data: eqServerData(s),
    hardware: { components: s.hardware },
    groups: s.groups,
    licenses: [],
    // The seed's "" when no reinstall runs; otherwise its state: queued, running, or armed (create_pxe).
    reinstall: v.deploy?.purpose === 'install' ? v.deploy.state : '',
    deploy: eqDeploy(v.deploy),
    location: {
      dc_name: s.datacenter,
      rack_name: s.rack,
      rack_position: s.rackPosition,
      location_id: s.locationId,
      location_name: s.location,
    },
    OS: s.os ? { id: s.os.id, name: s.os.name } : { id: null, name: '' },
    IP: v.ips.map(eqIp),
    interfaces: s.interfaces.map((i) => ({
      id: i.id,
      type: i.name,
      mac: i.mac,
      ip: i.ip,
      switch: i.switch,
      switch_port: i.switchPort,
    })),
    IPMI: s.bmc
      ? {
          model: s.bmc.model,
          driver: s.bmc.driver,
          user: s.bmc.username,
          password: s.bmc.passwordSet ? 'set' : 'not set',
          port: s.bmc.port,
          cipher_suite: s.bmc.cipherSuite,
          interfaces: [{ IP: s.bmc.host, MAC: s.bmc.mac ?? '' }],
        }
      : { model: '', interfaces: [] },
    console: s.console
      ? { type: s.console.type, host: s.console.host, port: s.console.port, password: s.console.passwordSet ? 'set' : 'not set' }
      : null,
    tags: s.tags,
    preset: s.preset,
    configuration: s.configuration,
    owner: s.ownerId,
    power: { state: s.power.state, read_at: s.power.readAt, bmc_reachable: s.power.bmcReachable },
    suspended: s.suspended,
    commitment: '',
  };
}

export function eqStatus(s: ServerRecord) {
  return {
    server_id: s.id,
    status: s.status,
    power: s.power.state,
    power_read_at: s.power.readAt,
    bmc_reachable: s.power.bmcReachable,
    /** The last BMC call's error code (BMC_AUTH_FAILED: fix the credentials), null once one succeeds. */
    bmc_error: s.power.bmcError,
  };
}

/**
 * One server of eq list: eqServerData's fields and the list's own, written out in one literal. Spread first and
 * extended, the object ended in V8's dictionary mode: ~4 KiB and ~7 µs per item instead of ~0.5 KiB and ~0.8 µs
 * (38 % of what a 100-server page allocated).
 */
export function eqListItem(v: ServerView) {
  const s = v.server;
  return {
    id: s.id,
    name: s.name,
    status: s.status,
    location: s.location,
    ip: mainIp(s),
    type: s.type,
    IP: v.ips.map(eqIp),
    rack: s.rack,
    preset: s.preset,
    configuration: s.configuration,
    groups: s.groups,
    power: s.power.state,
    power_read_at: s.power.readAt,
    reinstall: v.deploy?.purpose === 'install' ? v.deploy.state : '',
  };
}

/**
 * One server of eq list with full=1: the list item's fields the show shape lacks, then the show shape (which has the
 * rest, and wins where both have one: location, IP, power). Not `{ ...eqListItem(v), ...eqShow(v) }`: merging two
 * objects that way made a V8 dictionary, ~18 µs an item instead of ~3.
 */
export function eqFullListItem(v: ServerView) {
  const s = v.server;
  return { id: s.id, name: s.name, status: s.status, ip: mainIp(s), type: s.type, rack: s.rack, power_read_at: s.power.readAt, ...eqShow(v) };
}

/** update_servers' billing_servers entry: the seed's fields, the billing ones from the inventory (null when not given). */
export function eqBillingServer(s: ServerRecord) {
  return {
    id: s.id,
    config: s.configuration,
    status: s.status,
    regdate: s.createdAt.slice(0, 10),
    name: s.name,
    recurring: s.billing.recurring,
    nextduedate: s.billing.nextDueDate,
    billingcycle: s.billing.billingCycle,
    owner: s.ownerId,
  };
}
