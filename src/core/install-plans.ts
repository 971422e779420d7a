// One host's install plan: the inventory, the site's network defaults, IPAM and the boot URLs turned into the
// validated variables the boot templates render. Arming builds one to validate; serving a boot builds one to render.
import { RackhandError } from '../errors.js';
import type { ServerRecord } from '../domain/server.js';
import type { BootUrls } from '../boot/boot-urls.js';
import { buildInstallPlan, hostnameSchema, type InstallPlan } from '../boot/templates/index.js';
import type { Catalogue } from './catalogue.js';
import type { InstallSettings } from '../tasks/task-kinds.js';

export interface SiteNetwork {
  netmask?: string;
  gateway?: string;
  dns?: string[];
  domain?: string;
}

/** A host's addressing as DHCP offers it and installs configure it. */
export interface HostAddressing {
  ip?: string;
  netmask?: string;
  gateway?: string;
  dns?: string[];
  domain?: string;
}

export interface InstallPlansDeps {
  catalogue: Catalogue;
  urls(): BootUrls;
  network: SiteNetwork;
  /** Per-host addressing from IPAM, when it knows better than the interface record. */
  hostNetwork(serverId: number): { ip: string; netmask?: string; gateway?: string; dns?: string[] } | undefined;
}

/** Placeholder token used to validate a plan before the real token exists. */
const PROBE_TOKEN = 'validation-probe-token-0000';

export class InstallPlans {
  constructor(private readonly d: InstallPlansDeps) {}

  /** Where the host with this MAC is reached: IPAM's main IPv4, else the interface's own address. */
  addressing(server: ServerRecord, mac: string): HostAddressing {
    const net = this.d.hostNetwork(server.id);
    const site = this.d.network;
    return {
      ip: net?.ip ?? server.interfaces.find((i) => i.mac === mac)?.ip ?? undefined,
      netmask: net?.netmask ?? site.netmask,
      gateway: net?.gateway ?? site.gateway,
      dns: net?.dns ?? site.dns,
      domain: site.domain,
    };
  }

  /** The first label of the name the host boots with (the armed hostname, else the inventory name) if valid. */
  hostLabel(server: ServerRecord, armedHostname?: string): string | undefined {
    const h = hostnameSchema.safeParse(armedHostname ?? server.name);
    return h.success ? h.data.split('.')[0] : undefined;
  }

  /**
   * Build (and so validate) the plan. `token` is the install's own; without one a probe token validates a plan
   * before arming. INVALID_INPUT names the offending parameter.
   */
  plan(
    server: ServerRecord,
    a: { osId: string; settings: InstallSettings; uefi: boolean; rootPasswordHash: string; token?: string; mac?: string; staticNetwork?: boolean },
  ): InstallPlan {
    const mac = a.mac ?? server.interfaces[0]?.mac;
    if (!mac) throw new RackhandError('INVALID_INPUT', `server ${server.id} has no network interface to boot from`, { id: server.id });
    const addr = this.addressing(server, mac);
    const urls = this.d.urls();
    const token = a.token ?? PROBE_TOKEN;
    const { manual_choice_dsk: _disk, ...templateSettings } = a.settings;
    try {
      return this.build(server, mac, addr, urls, token, a, templateSettings);
    } catch (e) {
      // The templates name fields by their place in the plan (params.hostname); callers know them as hostname.
      if (e instanceof RackhandError && typeof e.details?.field === 'string' && e.details.field.startsWith('params.')) {
        const field = e.details.field.slice('params.'.length);
        throw new RackhandError(e.code, e.message.replace(/^params\./, ''), { ...e.details, field });
      }
      throw e;
    }
  }

  private build(
    server: ServerRecord,
    mac: string,
    addr: HostAddressing,
    urls: BootUrls,
    token: string,
    a: { osId: string; uefi: boolean; rootPasswordHash: string; settings: InstallSettings; staticNetwork?: boolean },
    templateSettings: Omit<InstallSettings, 'manual_choice_dsk'>,
  ): InstallPlan {
    return buildInstallPlan(
      {
        host: {
          serverId: server.id,
          mac,
          hostname: this.hostLabel(server, a.settings.hostname),
          domain: addr.domain,
          ip: addr.ip,
          netmask: addr.netmask,
          gateway: addr.gateway,
          dns: addr.dns,
          staticNetwork: a.staticNetwork,
        },
        osId: a.osId,
        params: { ...templateSettings, uefi: a.uefi, root_password_hash: a.rootPasswordHash } as never,
        urls: { base: urls.base, images: urls.images, install: urls.install(token), callback: urls.callback(), agent: urls.agent(token) },
        callbackToken: token,
      },
      this.d.catalogue.all(),
    );
  }
}
