// The per-host boot ISOs of virtual-media deploys: built from the host's addressing and boot URLs when a deploy
// needs one, kept under the state dir by the hash of the install's token (the token itself is the URL's secret), and
// removed when the deploy ends.
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { RackhandError } from '../errors.js';
import type { ServerRecord } from '../domain/server.js';
import { netmaskToPrefix } from '../domain/ip-address.js';
import type { BootUrls } from '../boot/boot-urls.js';
import { buildBootIso, bootIsoSpecSchema, DEBIAN_BOOT_ISO_TOOLS, type BootIsoSpec, type BootIsoTools } from '../boot/boot-iso.js';
import type { InstallPlans } from './install-plans.js';

export interface BootIsosDeps {
  /** Where the images are written (created 0700). */
  dir: string;
  plans: Pick<InstallPlans, 'addressing'>;
  urls(): BootUrls;
  tools?: BootIsoTools;
}

const fileName = (token: string) => `${createHash('sha256').update(token).digest('hex').slice(0, 32)}.iso`;

export class BootIsos {
  private readonly tools: BootIsoTools;

  constructor(private readonly d: BootIsosDeps) {
    this.tools = d.tools ?? DEBIAN_BOOT_ISO_TOOLS;
  }

  /**
   * Everything a virtual-media boot of this host needs, checked before a deploy is accepted: the host's static
   * address (no DHCP answers it), a plain-HTTP boot URL (the ISO has no TLS client) and the tools that build it.
   */
  check(server: ServerRecord): void {
    this.spec(server);
    for (const [tool, pkg] of [
      [this.tools.ipxeLkrn, 'ipxe'],
      [this.tools.grubMkrescue, 'grub-common grub-pc-bin grub-efi-amd64-bin xorriso mtools'],
    ] as const) {
      if (!onPath(tool)) {
        throw new RackhandError('BOOT_ERROR', `boot_via virtual_media: rackhand cannot build boot ISOs here (${tool} is missing); install the Debian packages ${pkg}`, { field: 'boot_via' });
      }
    }
  }

  /** Writes the host's boot ISO for the install with this token. */
  build(server: ServerRecord, token: string, signal?: AbortSignal): Promise<{ bytes: number }> {
    return buildBootIso(this.spec(server), path.join(this.d.dir, fileName(token)), { tools: this.tools, signal });
  }

  /** Where the host's BMC fetches it: a secret while the install is armed (the install's token is in it). */
  url(token: string): string {
    return this.d.urls().iso(token);
  }

  /** The ISO of this token, if it was built (the route checks the install is armed). */
  file(token: string): string | undefined {
    const f = path.join(this.d.dir, fileName(token));
    return existsSync(f) ? f : undefined;
  }

  remove(token: string): void {
    rmSync(path.join(this.d.dir, fileName(token)), { force: true });
  }

  /** ISOs of installs that are over (a crash between build and cleanup): removed at start. */
  prune(armedTokens: string[]): number {
    const keep = new Set(armedTokens.map(fileName));
    let removed = 0;
    for (const f of existsSync(this.d.dir) ? readdirSync(this.d.dir) : []) {
      if (keep.has(f)) continue;
      rmSync(path.join(this.d.dir, f), { force: true });
      removed++;
    }
    return removed;
  }

  /** The host's boot NIC (its first interface, as the install plan's) with the static address it boots with. */
  private spec(server: ServerRecord): BootIsoSpec {
    const mac = server.interfaces[0]?.mac;
    if (!mac) throw new RackhandError('INVALID_INPUT', `boot_via virtual_media: server ${server.id} has no network interface to boot from`, { field: 'boot_via' });
    const a = this.d.plans.addressing(server, mac);
    if (!a.ip) {
      throw new RackhandError('INVALID_INPUT', `boot_via virtual_media: server ${server.id} has no IPv4 address for ${mac} (the boot ISO sets it statically: give the interface an ip, or allocate one)`, {
        field: 'boot_via',
      });
    }
    const urls = this.d.urls();
    const spec: BootIsoSpec = {
      mac,
      ip: a.ip,
      prefix: a.netmask ? netmaskToPrefix(a.netmask) : 24,
      ...(a.gateway ? { gateway: a.gateway } : {}),
      dns: (a.dns ?? []).filter((x) => !x.includes(':')).slice(0, 3),
      ipxeScriptUrl: urls.script(mac),
      grubConfigUrl: urls.grub(mac),
    };
    const r = bootIsoSpecSchema.safeParse(spec);
    if (!r.success) {
      const i = r.error.issues[0]!;
      const field = i.path.join('.');
      const why = field === 'ipxeScriptUrl' || field === 'grubConfigUrl' ? `rackhand's boot URL ${urls.base}: ${i.message}` : `${field}: ${i.message}`;
      throw new RackhandError('INVALID_INPUT', `boot_via virtual_media: server ${server.id}'s boot ISO cannot be built (${why})`, { field: 'boot_via' });
    }
    return spec;
  }
}

/** A tool named by path is checked there, a bare name on PATH. */
function onPath(tool: string): boolean {
  const candidates = tool.includes('/') ? [tool] : (process.env.PATH ?? '').split(':').filter(Boolean).map((d) => path.join(d, tool));
  return candidates.some((c) => {
    try {
      accessSync(c, constants.R_OK);
      return true;
    } catch {
      return false;
    }
  });
}
