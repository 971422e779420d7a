// The install capability: create_pxe, clear_pxe, reinstall, order_instance, diagnostics and disk wipes. Every
// input is checked here, before anything is armed or any BMC is touched; then one task does the work.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { RackhandError } from '../errors.js';
import { describePrincipal, type Principal } from '../auth/tokens.js';
import { BMC_DRIVER_FEATURES, BOOT_VIA, type BootVia, type ServerRecord } from '../domain/server.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { UsersRepo } from '../store/repos/users-repo.js';
import type { TaskRecord } from '../store/repos/tasks-repo.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import { installSettingsSchema, type InstallSettings, type TaskParams } from '../tasks/task-kinds.js';
import { strongRootPasswordSchema, type OsEntry } from '../boot/templates/index.js';
import type { Catalogue } from './catalogue.js';
import { can, requireAllowed, requireVisibleServer } from './access.js';
import type { Netboot } from './netboot.js';
import type { BootIsos } from './boot-isos.js';
import type { PostInstallNotifier } from './post-install-notifier.js';
import { parseInput } from './validate.js';

/** One install request, whatever face it came through (each face maps its own parameter names onto this). */
export const installRequestSchema = z
  .object({
    /** Numeric os_id, catalogue key, or absent with osName. */
    os: z.union([z.number().int().nonnegative(), z.string().max(64)]).optional(),
    osName: z.string().max(128).optional(),
    rootPassword: z.string().max(256).optional(),
    uefi: z.boolean().default(false),
    settings: installSettingsSchema.default({}),
    postInstallCallback: z.string().max(2048).optional(),
    imitate: z.enum(['deploy', 'error']).optional(),
    /** How the host boots into it; absent: the server's own boot_via (pxe unless the inventory says). */
    bootVia: z.enum(BOOT_VIA).optional(),
    /** Parameters the face accepted and keeps with the task as a record only (documented as recorded-only). */
    extra: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();
export type InstallRequest = z.input<typeof installRequestSchema>;

export interface OrderRequest extends InstallRequest {
  preset?: string;
  locationName: string;
  /** The owner when the token has none (an admin or central token ordering for a customer). */
  ownerEmail?: string;
}

/** What a purpose boots when the caller names no image. */
const DEFAULT_OS = { diag: 'diagnostics', wipe: 'disk-wipe', rescue: 'rescue' } as const;

type Purpose = TaskParams<'deploy'>['purpose'];

/** The catalogue families each purpose may boot. */
const FAMILIES: Record<Purpose, OsEntry['family'][]> = {
  install: ['debian', 'ubuntu', 'rhel', 'image', 'linux-test'],
  diag: ['diag'],
  wipe: ['wipe'],
  rescue: ['rescue'],
};

export class Deploys {
  constructor(
    private readonly servers: ServersRepo,
    private readonly users: UsersRepo,
    private readonly tasks: TaskRunner,
    private readonly netboot: Netboot,
    private readonly notifier: PostInstallNotifier,
    private readonly catalogue: Catalogue,
    private readonly siteName: string,
    /** Checks a host's boot ISO can be built (virtual-media deploys). */
    private readonly isos?: Pick<BootIsos, 'check'>,
  ) {}

  /** The catalogue, each entry with whether its images are in the store. */
  osList() {
    return this.catalogue.list();
  }

  createPxe(p: Principal, serverId: number, input: InstallRequest): TaskRecord {
    const server = requireVisibleServer(p, this.servers.get(serverId), serverId);
    const r = this.check(p, server, input, 'install');
    // imitate_deploy / imitate_error: everything was checked; nothing is armed, and the task says so.
    if (r.imitate) {
      return this.tasks.submit('noop', {
        serverId,
        params: {
          operation: 'create_pxe',
          reason: `imitate_${r.imitate}: the request was checked; nothing was armed`,
          ...(r.imitate === 'error' ? { error: 'imitated create_pxe error (imitate_error=1)' } : {}),
        },
        requestedBy: describePrincipal(p),
      });
    }
    return this.tasks.submit('create_pxe', {
      serverId,
      params: { purpose: 'install', os_id: r.osId, install: r.settings, uefi: r.uefi, post_install_callback: r.callback, extra: r.extra },
      secrets: { root_pass: r.rootPassword },
      requestedBy: describePrincipal(p),
    });
  }

  /** `hostname` (eq clear_pxe's optional parameter) is recorded with the task. */
  clearPxe(p: Principal, serverId: number, hostname?: string): TaskRecord {
    requireVisibleServer(p, this.servers.get(serverId), serverId);
    return this.tasks.submit('clear_pxe', { serverId, params: hostname === undefined ? {} : { hostname }, requestedBy: describePrincipal(p) });
  }

  /** The whole deploy: arm → PXE → power → installer report → disarm → disk → reboot. */
  reinstall(p: Principal, serverId: number, input: InstallRequest): TaskRecord {
    return this.deploy(p, serverId, input, 'install', { releaseOnFailure: false });
  }

  /**
   * Diagnostics: the rackhand ramdisk inspects the host and runs quick health checks. `manualPower`: the host has
   * no BMC (a discovered host just adopted) and is powered on at the rack.
   */
  diagnostics(p: Principal, serverId: number, input: { os?: number | string; extra?: Record<string, unknown>; manualPower?: boolean } = {}): TaskRecord {
    return this.deploy(p, serverId, { os: input.os || DEFAULT_OS.diag, extra: input.extra }, 'diag', { releaseOnFailure: false, manualPower: input.manualPower });
  }

  /** clear_hdd "none": nothing is wiped; a task says so, so the caller gets the same {id, task} answer. */
  wipeNothing(p: Principal, serverId: number): TaskRecord {
    requireVisibleServer(p, this.servers.get(serverId), serverId);
    return this.tasks.submit('noop', {
      serverId,
      params: { operation: 'clear_hdd', reason: 'clear_hdd "none": no disk was wiped, nothing was booted' },
      requestedBy: describePrincipal(p),
    });
  }

  wipe(p: Principal, serverId: number, mode: NonNullable<InstallSettings['wipe_mode']>, extra: Record<string, unknown> = {}): TaskRecord {
    return this.deploy(p, serverId, { os: DEFAULT_OS.wipe, settings: { wipe_mode: mode }, extra }, 'wipe', { releaseOnFailure: false });
  }

  /**
   * Boot the rescue ramdisk with SSH for the given keys (or root password): the task ends when SSH is up; the host
   * stays in it until clear_pxe.
   */
  rescue(p: Principal, serverId: number, r: { sshKey?: string; rootPassword?: string; uefi?: boolean; bootVia?: BootVia }): TaskRecord {
    if (!r.sshKey && !r.rootPassword) throw new RackhandError('INVALID_INPUT', 'ssh_key: give an SSH key (or a root password) to log in to the rescue system', { field: 'ssh_key' });
    return this.deploy(p, serverId, { os: DEFAULT_OS.rescue, rootPassword: r.rootPassword, uefi: r.uefi ?? false, settings: { ssh_key: r.sshKey }, bootVia: r.bootVia }, 'rescue', { releaseOnFailure: false });
  }

  /**
   * order_instance: without an id, atomically claim a free server of the preset at this site for the owner (the
   * token's, or the user named by `ownerEmail`), then deploy it; with an id, reinstall that server — its preset and
   * location must match the order, and a free server is claimed for the owner first. A failed order returns a server
   * it claimed to the free pool.
   */
  orderInstance(p: Principal, req: OrderRequest & { id?: number }): { serverId: number; task: TaskRecord } {
    const { preset, locationName, ownerEmail, id, ...install } = req;
    const ownerId = this.orderOwner(p, ownerEmail);
    if (id !== undefined) return this.orderServer(p, id, { preset, locationName, ownerId }, install);
    if (ownerId === undefined) {
      throw new RackhandError('INVALID_INPUT', 'order_instance needs an owner: a client token, or `email` of a known user', { field: 'email' });
    }
    // Everything about the request is checked before a server is claimed.
    const probe = this.check(p, undefined, install, 'install');
    const location = this.isSite(locationName) ? undefined : locationName;
    const claimed = this.servers.claimFree({ preset, location, ownerId });
    if (claimed === undefined) {
      throw new RackhandError('NO_FREE_SERVER', `no free server${preset ? ` of preset ${preset}` : ''} at ${locationName}`, { preset, location: locationName });
    }
    try {
      return { serverId: claimed, task: this.deploy(p, claimed, install, 'install', { releaseOnFailure: true, checked: probe }) };
    } catch (e) {
      this.servers.release(claimed);
      throw e;
    }
  }

  /** The order's owner: the token's own user, or the known user `email` names (a client may not name another). */
  private orderOwner(p: Principal, email: string | undefined): number | undefined {
    // Ordering for a customer makes the server theirs: that is user management, which a tech token may not do.
    if (p.ownerId === null && email !== undefined) requireAllowed(can.manageUsers(p), 'order a server for a customer (email)');
    const named = email === undefined ? undefined : this.users.findByEmail(email);
    if (email !== undefined && !named) {
      throw new RackhandError('NOT_FOUND', `no user with email ${email}: create it first (POST /api/dci/v3/user)`, { field: 'email' });
    }
    if (p.ownerId !== null && named && named.id !== p.ownerId) {
      throw new RackhandError('FORBIDDEN', `email: this token orders for its own user only, not for ${email}`, { field: 'email' });
    }
    return p.ownerId ?? named?.id;
  }

  private isSite(location: string): boolean {
    return location.trim().toLowerCase() === this.siteName.toLowerCase();
  }

  /** order_instance with an id: the server must be what was ordered; a free one is claimed for the owner first. */
  private orderServer(
    p: Principal,
    id: number,
    o: { preset?: string; locationName: string; ownerId?: number },
    install: InstallRequest,
  ): { serverId: number; task: TaskRecord } {
    const server = requireVisibleServer(p, this.servers.get(id), id);
    if (o.preset && o.preset !== server.preset && o.preset !== server.configuration) {
      throw new RackhandError('INVALID_INPUT', `preset: server ${id} is ${server.preset || server.configuration || 'of no preset'}, not ${o.preset}`, { field: 'preset' });
    }
    const at = [server.location, String(server.locationId ?? ''), server.datacenter].map((x) => x.toLowerCase()).filter(Boolean);
    if (!this.isSite(o.locationName) && !at.includes(o.locationName.trim().toLowerCase())) {
      throw new RackhandError('INVALID_INPUT', `location_name: server ${id} is at ${server.location || this.siteName}, not ${o.locationName}`, { field: 'location_name' });
    }
    if (o.ownerId !== undefined && server.ownerId !== null && server.ownerId !== o.ownerId) {
      throw new RackhandError('CONFLICT', `server ${id} belongs to another user`, { field: 'email', id });
    }
    const claim = o.ownerId !== undefined && server.ownerId === null;
    if (!claim) return { serverId: id, task: this.reinstall(p, id, install) };
    const probe = this.check(p, server, install, 'install');
    if (this.servers.claimFree({ id, ownerId: o.ownerId! }) === undefined) {
      throw new RackhandError('NO_FREE_SERVER', `server ${id} is ${server.status}, not free: it cannot be ordered`, { id });
    }
    try {
      return { serverId: id, task: this.deploy(p, id, install, 'install', { releaseOnFailure: true, checked: probe }) };
    } catch (e) {
      this.servers.release(id);
      throw e;
    }
  }

  private deploy(
    p: Principal,
    serverId: number,
    input: InstallRequest,
    purpose: Purpose,
    o: { releaseOnFailure: boolean; checked?: Checked; manualPower?: boolean },
  ): TaskRecord {
    const server = requireVisibleServer(p, this.servers.get(serverId), serverId);
    const r = this.check(p, server, input, purpose, o.checked);
    if (!server.bmc && !r.imitate && !o.manualPower) throw new RackhandError('BMC_NOT_CONFIGURED', `server ${serverId} has no BMC configured`, { id: serverId });
    if (o.manualPower && r.bootVia !== 'pxe') {
      throw new RackhandError('INVALID_INPUT', `boot_via ${r.bootVia}: server ${serverId} has no BMC to boot it that way; it network-boots (pxe)`, { field: 'boot_via' });
    }
    return this.tasks.submit('deploy', {
      serverId,
      params: {
        purpose,
        os_id: r.osId,
        install: r.settings,
        uefi: r.uefi,
        post_install_callback: r.callback,
        imitate: r.imitate,
        previous_status: server.status === 'deploying' ? 'free' : server.status,
        release_on_failure: o.releaseOnFailure,
        boot_via: r.bootVia,
        extra: r.extra,
      },
      secrets: { root_pass: r.rootPassword },
      requestedBy: describePrincipal(p),
    });
  }

  /**
   * Everything that can be checked before a task starts: the OS, the root password policy, every template
   * input (a plan is built and thrown away), the callback URL. `server` is absent for an order not yet claimed.
   */
  private check(p: Principal, server: ServerRecord | undefined, input: InstallRequest, purpose: Purpose, done?: Checked): Checked {
    const req = parseInput(installRequestSchema, input, 'request');
    const { osId, os } = this.catalogue.find({ osId: done?.osId ?? req.os, osName: req.osName });
    if (!FAMILIES[purpose].includes(os.family)) {
      throw new RackhandError('INVALID_INPUT', `os ${osId} is a ${os.family} image, not what ${purpose === 'install' ? 'an install' : purpose} boots`, { field: 'os_id' });
    }
    // Before anything is armed or any BMC touched: a host must never boot into a 404.
    if (!req.imitate) this.catalogue.requireReady(osId, os);
    // Diagnostics and wipe images have no root account to speak of; their templates still need a hash.
    let rootPassword: string;
    if (purpose === 'install' || (purpose === 'rescue' && req.rootPassword)) {
      if (!req.rootPassword) throw new RackhandError('INVALID_INPUT', 'root_pass: required', { field: 'root_pass' });
      rootPassword = parseInput(strongRootPasswordSchema, req.rootPassword, 'root_pass');
    } else rootPassword = randomBytes(18).toString('base64url');
    const callback = req.postInstallCallback === undefined ? undefined : this.notifier.check(p, req.postInstallCallback);
    const bootVia = req.bootVia ?? server?.bootVia ?? 'pxe';
    if (server && !req.imitate) this.checkBootVia(server, bootVia, req.uefi, os);
    if (server) this.netboot.validate(server.id, { osId, settings: req.settings, uefi: req.uefi, rootPassword, bootVia });
    return { osId, rootPassword, uefi: req.uefi, settings: req.settings, callback, imitate: req.imitate, extra: req.extra, bootVia };
  }

  /**
   * Whether this host can boot that way, before anything is armed: virtual media needs a BMC whose driver has it, a
   * boot ISO that can be built, and an image that brings its network up without DHCP (the rackhand ramdisk's, not an
   * OS installer's); UEFI HTTP boot needs UEFI and a BMC that can choose it.
   */
  private checkBootVia(server: ServerRecord, via: BootVia, uefi: boolean, os: OsEntry): void {
    if (via === 'pxe' || !server.bmc) return;
    const driver = server.bmc.driver;
    const refuse = (why: string) => {
      throw new RackhandError('INVALID_INPUT', `boot_via ${via}: ${why}`, { field: 'boot_via' });
    };
    if (via === 'virtual_media') {
      if (!BMC_DRIVER_FEATURES[driver].virtualMedia) refuse(`server ${server.id}'s BMC (driver ${driver}) has no virtual media; use pxe, or the redfish driver`);
      if (!STATIC_NETWORK_FAMILIES.includes(os.family)) refuse(`${os.name} (a ${os.family} installer) needs DHCP; virtual media boots the rackhand ramdisk (image deploys, inspection, wipe, rescue)`);
      this.isos?.check(server);
    } else {
      if (!BMC_DRIVER_FEATURES[driver].uefiHttpBoot) refuse(`server ${server.id}'s BMC (driver ${driver}) cannot choose UEFI HTTP boot; use pxe (rackhand's DHCP answers UEFI HTTP clients)`);
      if (!uefi) refuse('UEFI HTTP boot is UEFI only: set uefi');
    }
  }
}

/** Images whose boot takes a static address from the kernel command line (the rackhand ramdisk's ip=). */
const STATIC_NETWORK_FAMILIES: OsEntry['family'][] = ['image', 'diag', 'wipe', 'rescue'];

interface Checked {
  osId: string;
  rootPassword: string;
  uefi: boolean;
  settings: InstallSettings;
  callback?: string;
  imitate?: 'deploy' | 'error';
  extra: Record<string, unknown>;
  bootVia: BootVia;
}
