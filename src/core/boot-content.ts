// What the boot plane serves, from the inventory and the netboot state: the DHCP server's BootLookup and the
// HTTP boot routes' BootContent (host scripts and install configs). The protocol servers see only these.
import { RackhandError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ServerRecord } from '../domain/server.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { NetbootRepo, NetbootState } from '../store/repos/netboot-repo.js';
import type { DiscoveredRepo } from '../store/repos/discovered-repo.js';
import type { BootEventSink } from '../boot/boot-event.js';
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
import type { ImageStore } from '../images/image-store.js';
import { netmaskToPrefix } from '../domain/ip-address.js';
import type { Catalogue } from './catalogue.js';
import type { InstallPlans } from './install-plans.js';

/** The job the ramdisk agent fetches (ramdisk/PROTOCOL.md). */
export interface AgentJob {
  action: 'inspect' | 'wipe' | 'deploy' | 'rescue';
  params: Record<string, unknown>;
}

export interface BootContentSettings {
  templates: TemplateDir;
  /** 'reservation': a host's script is served only to the address reserved for it. */
  verifyClient: 'reservation' | 'off';
  /** How long an inspection listens for the switch's LLDP announcement (0: not at all). */
  lldpWaitSeconds: number;
  /** The host's boot history: each script and install config served or refused. */
  onBootEvent?: BootEventSink;
  /** Where the boot ISOs of virtual-media deploys are (by install token). */
  bootIsoFile?(token: string): string | undefined;
}

export class NetbootContent implements BootLookup, BootContent {
  constructor(
    private readonly servers: ServersRepo,
    private readonly netboot: NetbootRepo,
    private readonly discovered: DiscoveredRepo,
    private readonly plans: InstallPlans,
    private readonly catalogue: Catalogue,
    private readonly images: ImageStore,
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
    const event = (e: { kind: 'http-script' | 'http-script-refused'; detail: string; serverId?: number }) =>
      this.settings.onBootEvent?.({ at: Date.now(), mac, ip: remoteAddress, ...e });
    const server = this.servers.findByMac(mac);
    if (!server) {
      event({ kind: 'http-script-refused', detail: `${kind} script: no server has this MAC (not in the inventory)` });
      throw new RackhandError('NOT_FOUND', `no server has MAC ${mac}`);
    }
    if (this.settings.verifyClient === 'reservation') {
      const reserved = this.plans.addressing(server, mac).ip;
      if (reserved !== remoteAddress) {
        this.log.warn({ mac, remote: remoteAddress, server: server.id }, 'boot script refused: requester is not the host reserved for this MAC');
        event({ kind: 'http-script-refused', serverId: server.id, detail: `${kind} script refused: asked from ${remoteAddress}, reserved address ${reserved ?? 'none'}` });
        throw new RackhandError('FORBIDDEN', `the boot script of ${mac} is served only to its host`);
      }
    }
    const nb = this.netboot.get(server.id);
    if (!nb || nb.callbackAt) {
      const reason = nb ? 'install finished' : 'nothing armed';
      this.log.info({ server: server.id, mac, reason }, 'serving the local-disk boot script');
      event({ kind: 'http-script', serverId: server.id, detail: `local-disk ${kind} script (${reason}): boot from disk` });
      return { script: renderLocalBootScript(kind, this.settings.templates), armed: false };
    }
    this.log.info({ server: server.id, mac, os: nb.osId, purpose: nb.purpose }, 'serving the armed boot script');
    const script = renderBootScript(kind, this.planOf(server, nb, mac), this.settings.templates);
    event({ kind: 'http-script', serverId: server.id, detail: `armed ${kind} script: ${nb.purpose} ${nb.osId}${nb.taskId !== null ? ` (task ${nb.taskId})` : ''}` });
    return { script, armed: true };
  }

  bootIso(token: string, remoteAddress: string): string {
    const nb = this.netboot.findByToken(token);
    const file = nb && !nb.callbackAt ? this.settings.bootIsoFile?.(token) : undefined;
    if (!nb || !file) {
      this.settings.onBootEvent?.({ at: Date.now(), ip: remoteAddress, ...(nb ? { serverId: nb.serverId } : {}), kind: 'http-iso-refused', detail: 'boot ISO: no virtual-media boot armed for this token' });
      throw new RackhandError('NOT_FOUND', 'no such boot ISO');
    }
    const mac = this.servers.get(nb.serverId)?.interfaces[0]?.mac;
    this.settings.onBootEvent?.({
      at: Date.now(),
      ip: remoteAddress,
      serverId: nb.serverId,
      ...(mac ? { mac } : {}),
      kind: 'http-iso',
      detail: `boot ISO fetched (virtual media, by the BMC at ${remoteAddress}): ${nb.purpose} ${nb.osId}${nb.taskId !== null ? ` (task ${nb.taskId})` : ''}`,
    });
    return file;
  }

  installConfig(token: string, kind: InstallConfigKind, remoteAddress = ''): string {
    const nb = this.netboot.findByToken(token);
    if (!nb || nb.callbackAt) {
      this.settings.onBootEvent?.({ at: Date.now(), ip: remoteAddress, kind: 'http-config-refused', detail: `${kind}: no install armed for this token` });
      throw new RackhandError('NOT_FOUND', 'no install armed for this token');
    }
    const server = this.servers.require(nb.serverId);
    const text = renderInstallConfig(kind, this.planOf(server, nb), this.settings.templates);
    this.settings.onBootEvent?.({ at: Date.now(), ip: remoteAddress, serverId: server.id, kind: 'http-config', detail: `${kind} for ${nb.purpose} ${nb.osId}` });
    return text;
  }

  /** The job of the install this token belongs to; NOT_FOUND once it reported (the agent then powers off). */
  agentJob(token: string): AgentJob {
    const nb = this.netboot.findByToken(token);
    if (!nb || nb.callbackAt) throw new RackhandError('NOT_FOUND', 'no job armed for this token');
    const server = this.servers.require(nb.serverId);
    const os = this.catalogue.all()[nb.osId];
    const p = nb.params as InstallSettings & { root_password_hash: string };
    const sshKeys = (p.ssh_key ?? '').split('\n').map((k) => k.trim()).filter(Boolean);
    switch (os?.family) {
      case 'diag':
        return { action: 'inspect', params: { healthChecks: true, lldpWaitSeconds: this.settings.lldpWaitSeconds } };
      case 'wipe':
        return { action: 'wipe', params: { mode: p.wipe_mode ?? 'quick' } };
      case 'rescue':
        return { action: 'rescue', params: { sshKeys, rootPasswordHash: p.root_password_hash } };
      case 'image': {
        const disk = this.images.get(os.disk!);
        const file = disk?.files[0];
        if (!disk || !file) throw new RackhandError('IMAGE_MISSING', `the disk image ${os.disk} is gone from the store`);
        const plan = this.planOf(server, nb);
        return {
          action: 'deploy',
          params: {
            image: { url: `${plan.vars.images_url}/${disk.name}/${file.file}`, sha256: file.sha256, format: file.format ?? 'raw', sizeBytes: file.sizeBytes },
            disk: p.manual_choice_dsk ? { pick: 'serial', serial: p.manual_choice_dsk } : { pick: 'largest' },
            mirror: (p.disk_mirror ?? 0) > 0,
            ...(p.root_size ? { rootSizeMiB: p.root_size * 1024 } : {}),
            config: {
              hostname: plan.vars.hostname,
              ...(plan.vars.domain ? { domain: plan.vars.domain } : {}),
              rootPasswordHash: plan.vars.root_password_hash,
              sshKeys,
              network: { interfaces: this.interfaces(server) },
              ...(p.post_install_script ? { postInstallScript: p.post_install_script } : {}),
              ...(p.cloud_init_script ? { cloudInit: p.cloud_init_script } : {}),
            },
          },
        };
      }
      default:
        throw new RackhandError('NOT_FOUND', `${nb.osId} is an installer, not a ramdisk job`);
    }
  }

  /** The static addressing of every interface that has an address: what an installed image configures. */
  private interfaces(server: ServerRecord) {
    return server.interfaces.flatMap((i) => {
      const a = this.plans.addressing(server, i.mac);
      if (!a.ip) return [];
      const prefix = a.netmask ? netmaskToPrefix(a.netmask) : 24;
      return [{ mac: i.mac, addresses: [`${a.ip}/${prefix}`], ...(a.gateway ? { gateway: a.gateway } : {}), ...(a.dns?.length ? { dns: a.dns } : {}) }];
    });
  }

  private planOf(server: ServerRecord, nb: NetbootState, mac?: string) {
    const { uefi, root_password_hash, boot_via, ...settings } = nb.params as InstallSettings & { uefi?: boolean; root_password_hash: string; boot_via?: string };
    return this.plans.plan(server, {
      osId: nb.osId,
      settings,
      uefi: uefi ?? false,
      rootPasswordHash: root_password_hash,
      token: nb.token,
      mac,
      staticNetwork: boot_via === 'virtual_media',
    });
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
