// Netboot state per host: arm / disarm, the host's boot script and install configs, the installer callback,
// and the BootLookup the DHCP server reads the inventory through.
import { EventEmitter, once } from 'node:events';
import { RackhandError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { NetbootPurpose, NetbootRepo, NetbootState } from '../store/repos/netboot-repo.js';
import type { DiscoveredRepo } from '../store/repos/discovered-repo.js';
import type { ServerRecord } from '../inventory/server-schema.js';
import type { BootLookup, DiscoveredClient, HostBootInfo } from './boot-lookup.js';
import {
  buildInstallPlan,
  hostnameSchema,
  renderBootScript,
  renderInstallConfig,
  renderLocalBootScript,
  sha512Crypt,
  type BootScriptKind,
  type InstallConfigKind,
  type InstallPlan,
  type OsCatalogue,
  type TemplateDir,
} from './templates/index.js';

export interface SiteNetwork {
  netmask?: string;
  gateway?: string;
  dns?: string[];
  domain?: string;
}

export interface NetbootSettings {
  /** rackhand's HTTP base as booting hosts reach it, e.g. http://10.0.0.1:8080. */
  httpBase(): string;
  catalogue: OsCatalogue;
  templates: TemplateDir;
  network: SiteNetwork;
  /** 'reservation': a host's script is served only to the address reserved for it. */
  verifyClient: 'reservation' | 'off';
  /** Per-host addressing from IPAM, when it knows better than the interface record. */
  hostNetwork?(serverId: number): { ip: string; netmask?: string; gateway?: string; dns?: string[] } | undefined;
}

export interface ArmRequest {
  purpose: NetbootPurpose;
  osId?: number | string;
  osName?: string;
  /** create_pxe parameters (seed names); root_pass is hashed here and never stored in clear. */
  params: Record<string, unknown>;
  taskId: number | null;
}

/** Placeholder used to validate a plan before the real token exists. */
const PROBE_TOKEN = 'validation-probe-token-0000';

export class NetbootService implements BootLookup {
  private readonly callbacks = new EventEmitter();

  constructor(
    private readonly servers: ServersRepo,
    private readonly netboot: NetbootRepo,
    private readonly discovered: DiscoveredRepo,
    private readonly settings: NetbootSettings,
    private readonly log: Logger,
  ) {
    this.callbacks.setMaxListeners(0);
  }

  /** Validate everything a render will need, then arm. Invalid input fails here, not at boot time. */
  arm(serverId: number, req: ArmRequest): NetbootState {
    const server = this.servers.require(serverId);
    const params: Record<string, unknown> = { ...req.params };
    if (typeof params.root_pass === 'string') {
      params.root_password_hash = sha512Crypt(params.root_pass);
      delete params.root_pass;
    }
    const plan = this.buildPlan(server, { osId: req.osId, osName: req.osName, params, token: PROBE_TOKEN });
    return this.netboot.arm({ serverId, purpose: req.purpose, osId: plan.osId, params, taskId: req.taskId });
  }

  disarm(serverId: number): boolean {
    return this.netboot.disarm(serverId);
  }

  state(serverId: number): NetbootState | undefined {
    return this.netboot.get(serverId);
  }

  /** The script for the host with this MAC; the local-disk script when nothing is armed (with the reason). */
  hostScript(mac: string, remoteAddress: string, kind: BootScriptKind = 'ipxe'): { script: string; armed: boolean } {
    const server = this.servers.findByMac(mac);
    if (!server) throw new RackhandError('NOT_FOUND', `no server has MAC ${mac}`);
    if (this.settings.verifyClient === 'reservation') {
      const reserved = this.hostAddress(server, mac);
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
    const plan = this.buildPlan(server, { osId: nb.osId, params: nb.params, token: nb.token, mac });
    this.log.info({ server: server.id, mac, os: nb.osId, purpose: nb.purpose }, 'serving the armed boot script');
    return { script: renderBootScript(kind, plan, this.settings.templates), armed: true };
  }

  installConfig(token: string, kind: InstallConfigKind): string {
    const nb = this.netboot.findByToken(token);
    if (!nb || nb.callbackAt) throw new RackhandError('NOT_FOUND', 'no install armed for this token');
    const server = this.servers.require(nb.serverId);
    return renderInstallConfig(kind, this.buildPlan(server, { osId: nb.osId, params: nb.params, token: nb.token }), this.settings.templates);
  }

  /** The installer's last request. Single use: a second call, or an unknown token, is refused. */
  callback(token: string): NetbootState {
    const nb = this.netboot.consumeCallback(token, 'ok');
    if (!nb) throw new RackhandError('NOT_FOUND', 'unknown or already used installer callback');
    this.log.info({ server: nb.serverId, purpose: nb.purpose, os: nb.osId }, 'installer called back');
    this.callbacks.emit(`done:${nb.serverId}`, nb);
    return nb;
  }

  /** Resolves when the host's installer calls back; no callback in time is BOOT_ERROR. */
  async waitForCallback(serverId: number, signal: AbortSignal, timeoutMs: number): Promise<NetbootState> {
    const already = this.netboot.get(serverId);
    if (already?.callbackAt) return already;
    const timeout = AbortSignal.timeout(timeoutMs);
    try {
      const [nb] = await once(this.callbacks, `done:${serverId}`, { signal: AbortSignal.any([signal, timeout]) });
      return nb as NetbootState;
    } catch (e) {
      if (timeout.aborted && !signal.aborted) {
        throw new RackhandError('BOOT_ERROR', `no installer callback within ${Math.round(timeoutMs / 1000)} s`);
      }
      throw signal.aborted ? signal.reason : e;
    }
  }

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

  private bootInfo(server: ServerRecord, mac: string): HostBootInfo {
    const net = this.settings.hostNetwork?.(server.id);
    const nb = this.netboot.get(server.id);
    const hostname = hostnameSchema.safeParse(typeof nb?.params.hostname === 'string' ? nb.params.hostname : server.name);
    return {
      serverId: server.id,
      name: server.name,
      mac,
      hostname: hostname.success ? hostname.data.split('.')[0] : undefined,
      ip: this.hostAddress(server, mac),
      netmask: net?.netmask ?? this.settings.network.netmask,
      gateway: net?.gateway ?? this.settings.network.gateway,
      dns: net?.dns ?? this.settings.network.dns,
      domain: this.settings.network.domain,
      netbootArmed: !!nb && !nb.callbackAt,
    };
  }

  private hostAddress(server: ServerRecord, mac: string): string | undefined {
    return this.settings.hostNetwork?.(server.id)?.ip ?? server.interfaces.find((i) => i.mac === mac)?.ip ?? undefined;
  }

  private buildPlan(
    server: ServerRecord,
    a: { osId?: number | string; osName?: string; params: Record<string, unknown>; token: string; mac?: string },
  ): InstallPlan {
    const mac = a.mac ?? server.interfaces[0]?.mac;
    if (!mac) throw new RackhandError('BOOT_ERROR', `server ${server.id} has no network interface to boot from`, { id: server.id });
    const info = this.bootInfo(server, mac);
    const base = this.settings.httpBase().replace(/\/$/, '');
    return buildInstallPlan(
      {
        host: {
          serverId: server.id,
          mac,
          hostname: info.hostname,
          domain: info.domain,
          ip: info.ip,
          netmask: info.netmask,
          gateway: info.gateway,
          dns: info.dns,
        },
        osId: a.osId,
        osName: a.osName,
        params: a.params as never,
        urls: {
          base,
          images: `${base}/boot/images`,
          install: `${base}/boot/install/${a.token}`,
          callback: `${base}/boot/callback`,
        },
        callbackToken: a.token,
      },
      this.settings.catalogue,
    );
  }
}
