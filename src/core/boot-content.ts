// What the boot plane serves, from the inventory and the netboot state: the DHCP server's BootLookup and the
// HTTP boot routes' BootContent (host scripts and install configs). The protocol servers see only these.
import { RackhandError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ServerRecord } from '../domain/server.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { NetbootRepo, NetbootState } from '../store/repos/netboot-repo.js';
import type { DiscoveredRepo } from '../store/repos/discovered-repo.js';
import type { BootContent, BootLookup, DiscoveredClient, HostBootInfo } from '../boot/boot-lookup.js';
import {
  renderBootScript,
  renderInstallConfig,
  renderLocalBootScript,
  type BootScriptKind,
  type InstallConfigKind,
  type TemplateDir,
} from '../boot/templates/index.js';
import type { InstallSettings } from '../tasks/task-kinds.js';
import type { InstallPlans } from './install-plans.js';

export interface BootContentSettings {
  templates: TemplateDir;
  /** 'reservation': a host's script is served only to the address reserved for it. */
  verifyClient: 'reservation' | 'off';
}

export class NetbootContent implements BootLookup, BootContent {
  constructor(
    private readonly servers: ServersRepo,
    private readonly netboot: NetbootRepo,
    private readonly discovered: DiscoveredRepo,
    private readonly plans: InstallPlans,
    private readonly settings: BootContentSettings,
    private readonly log: Logger,
  ) {}

  // BootLookup

  findByMac(mac: string): HostBootInfo | undefined {
    const server = this.servers.findByMac(mac);
    return server ? this.bootInfo(server, mac) : undefined;
  }

  findByIp(ip: string): HostBootInfo | undefined {
    const server = this.servers.findByIp(ip);
    const iface = server?.interfaces.find((i) => i.ip === ip);
    return server && iface ? this.bootInfo(server, iface.mac) : undefined;
  }

  recordDiscovered(client: DiscoveredClient): void {
    this.discovered.record(client);
  }

  // BootContent

  /** The script for the host with this MAC; the local-disk script when nothing is armed (with the reason). */
  hostScript(mac: string, remoteAddress: string, kind: BootScriptKind = 'ipxe'): { script: string; armed: boolean } {
    const server = this.servers.findByMac(mac);
    if (!server) throw new RackhandError('NOT_FOUND', `no server has MAC ${mac}`);
    if (this.settings.verifyClient === 'reservation') {
      const reserved = this.plans.addressing(server, mac).ip;
      if (reserved !== remoteAddress) {
        this.log.warn({ mac, remote: remoteAddress, server: server.id }, 'boot script refused: requester is not the host reserved for this MAC');
        throw new RackhandError('FORBIDDEN', `the boot script of ${mac} is served only to its host`);
      }
    }
    const nb = this.netboot.get(server.id);
    if (!nb || nb.callbackAt) {
      this.log.info({ server: server.id, mac, reason: nb ? 'install finished' : 'nothing armed' }, 'serving the local-disk boot script');
      return { script: renderLocalBootScript(kind, this.settings.templates), armed: false };
    }
    this.log.info({ server: server.id, mac, os: nb.osId, purpose: nb.purpose }, 'serving the armed boot script');
    return { script: renderBootScript(kind, this.planOf(server, nb, mac), this.settings.templates), armed: true };
  }

  installConfig(token: string, kind: InstallConfigKind): string {
    const nb = this.netboot.findByToken(token);
    if (!nb || nb.callbackAt) throw new RackhandError('NOT_FOUND', 'no install armed for this token');
    const server = this.servers.require(nb.serverId);
    return renderInstallConfig(kind, this.planOf(server, nb), this.settings.templates);
  }

  private planOf(server: ServerRecord, nb: NetbootState, mac?: string) {
    const { uefi, root_password_hash, ...settings } = nb.params as InstallSettings & { uefi?: boolean; root_password_hash: string };
    return this.plans.plan(server, { osId: nb.osId, settings, uefi: uefi ?? false, rootPasswordHash: root_password_hash, token: nb.token, mac });
  }

  private bootInfo(server: ServerRecord, mac: string): HostBootInfo {
    const nb = this.netboot.get(server.id);
    const addr = this.plans.addressing(server, mac);
    return {
      serverId: server.id,
      name: server.name,
      mac,
      hostname: this.plans.hostLabel(server, typeof nb?.params.hostname === 'string' ? nb.params.hostname : undefined),
      ip: addr.ip,
      netmask: addr.netmask,
      gateway: addr.gateway,
      dns: addr.dns,
      domain: addr.domain,
      netbootArmed: !!nb && !nb.callbackAt,
    };
  }
}
