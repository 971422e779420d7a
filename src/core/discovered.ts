// The discovered-hosts capability: MACs that asked to network-boot but are in no inventory, and adopting one.
import { RackhandError } from '../errors.js';
import type { Principal } from '../auth/tokens.js';
import type { ServerRecord } from '../domain/server.js';
import type { DiscoveredRecord, DiscoveredRepo } from '../store/repos/discovered-repo.js';
import { can, requireAllowed } from './access.js';
import type { Servers } from './servers.js';

export class Discovered {
  constructor(
    private readonly discovered: DiscoveredRepo,
    private readonly servers: Servers,
  ) {}

  list(p: Principal): { list: DiscoveredRecord[] } {
    requireAllowed(can.seeAllServers(p), 'see discovered hosts');
    return { list: this.discovered.list() };
  }

  /** A new server whose first interface is the discovered MAC (unless the body names interfaces). */
  adopt(p: Principal, mac: string, body: Record<string, unknown>): ServerRecord {
    requireAllowed(can.adoptDiscovered(p), 'adopt discovered hosts');
    if (!this.discovered.list().some((x) => x.mac === mac)) throw new RackhandError('NOT_FOUND', `${mac} has not been discovered`);
    const interfaces = Array.isArray(body.interfaces) ? body.interfaces : [{ name: 'eth0', mac }];
    const server = this.servers.adopt(p, { ...body, interfaces });
    this.discovered.remove(mac);
    return server;
  }
}
