// The discovered-hosts capability: MACs that asked to network-boot but are in no inventory, and adopting one.
import { RackhandError } from '../errors.js';
import type { Principal } from '../auth/tokens.js';
import type { ServerRecord } from '../domain/server.js';
import type { DiscoveredRecord, DiscoveredRepo } from '../store/repos/discovered-repo.js';
import { can, requireAllowed } from './access.js';
import type { TaskRecord } from '../store/repos/tasks-repo.js';
import type { Servers } from './servers.js';

export class Discovered {
  constructor(
    private readonly discovered: DiscoveredRepo,
    private readonly servers: Servers,
    /** Boot a server into the inspection (operation_diag): an adopted host learns its own hardware. */
    private readonly inspect: (p: Principal, serverId: number) => TaskRecord,
  ) {}

  /** Newest sighting first, a page at a time (a flood of made-up MACs is bounded by the repo). */
  list(p: Principal, page: { limit?: number; offset?: number } = {}): { list: DiscoveredRecord[]; total: number; limit: number; offset: number } {
    requireAllowed(can.seeAllServers(p), 'see discovered hosts');
    const limit = page.limit ?? 100;
    const offset = page.offset ?? 0;
    return { ...this.discovered.list({ limit, offset }), limit, offset };
  }

  /**
   * A new server whose first interface is the discovered MAC (unless the body names interfaces). With `inspect`,
   * the host — which keeps network-booting, since it was unknown — is booted into the inspection, and the server
   * record carries the hardware it finds.
   */
  adopt(p: Principal, mac: string, body: Record<string, unknown>): ServerRecord & { task?: TaskRecord } {
    requireAllowed(can.adoptDiscovered(p), 'adopt discovered hosts');
    if (!this.discovered.get(mac)) throw new RackhandError('NOT_FOUND', `${mac} has not been discovered`);
    const { inspect, ...rest } = body;
    const interfaces = Array.isArray(rest.interfaces) ? rest.interfaces : [{ name: 'eth0', mac, ...(typeof rest.ip === 'string' ? { ip: rest.ip } : {}) }];
    delete rest.ip;
    const server = this.servers.adopt(p, { ...rest, interfaces });
    this.discovered.remove(mac);
    return inspect === true ? { ...server, task: this.inspect(p, server.id) } : server;
  }
}
