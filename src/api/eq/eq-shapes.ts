// ServerRecord → the eq module's response shapes (seeds/000: eq/show, eq/status, eq/list).
import type { ServerRecord } from '../../domain/server.js';

export function mainIp(s: ServerRecord): string {
  return s.interfaces.find((i) => i.ip)?.ip ?? '';
}

export function eqServerData(s: ServerRecord) {
  return { id: s.id, name: s.name, status: s.status, location: s.location, ip: mainIp(s), type: s.type };
}

export function eqShow(s: ServerRecord, extra: { reinstall?: string } = {}) {
  return {
    server_data: eqServerData(s),
    hardware: { components: s.hardware },
    groups: s.groups,
    licenses: [],
    reinstall: extra.reinstall ?? '',
    location: {
      dc_name: s.datacenter,
      rack_name: s.rack,
      rack_position: s.rackPosition,
      location_id: s.locationId,
      location_name: s.location,
    },
    OS: s.os ? { id: s.os.id, name: s.os.name } : { id: null, name: '' },
    IP: s.interfaces.filter((i) => i.ip).map((i) => ({ IP: i.ip, type: 'public', interface: i.name })),
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
  };
}

export function eqListItem(s: ServerRecord) {
  return {
    ...eqServerData(s),
    rack: s.rack,
    preset: s.preset,
    configuration: s.configuration,
    groups: s.groups,
    power: s.power.state,
    power_read_at: s.power.readAt,
  };
}
