// The install capability: create_pxe, clear_pxe, reinstall, order_instance, diagnostics and disk wipes. Every
// input is checked here, before anything is armed or any BMC is touched; then one task does the work.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { RackhandError } from '../errors.js';
import { describePrincipal, type Principal } from '../auth/tokens.js';
import type { ServerRecord } from '../domain/server.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { UsersRepo } from '../store/repos/users-repo.js';
import type { TaskRecord } from '../store/repos/tasks-repo.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import { installSettingsSchema, type InstallSettings, type TaskParams } from '../tasks/task-kinds.js';
import { findOs, strongRootPasswordSchema, type OsCatalogue } from '../boot/templates/index.js';
import { requireVisibleServer } from './access.js';
import type { Netboot } from './netboot.js';
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
const DEFAULT_OS = { diag: 'diagnostics', wipe: 'disk-wipe' } as const;

export class Deploys {
  constructor(
    private readonly servers: ServersRepo,
    private readonly users: UsersRepo,
    private readonly tasks: TaskRunner,
    private readonly netboot: Netboot,
    private readonly notifier: PostInstallNotifier,
    private readonly catalogue: OsCatalogue,
    private readonly siteName: string,
  ) {}

  osList(): { id: number | null; os_id: string; name: string; family: string }[] {
    return Object.entries(this.catalogue).map(([osId, os]) => ({ id: os.ids[0] ?? null, os_id: osId, name: os.name, family: os.family }));
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

  /** Diagnostics: the rackhand ramdisk inspects the host and runs quick health checks. */
  diagnostics(p: Principal, serverId: number, input: { os?: number | string; extra?: Record<string, unknown> } = {}): TaskRecord {
    return this.deploy(p, serverId, { os: input.os || DEFAULT_OS.diag, extra: input.extra }, 'diag', { releaseOnFailure: false });
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
    purpose: TaskParams<'deploy'>['purpose'],
    o: { releaseOnFailure: boolean; checked?: Checked },
  ): TaskRecord {
    const server = requireVisibleServer(p, this.servers.get(serverId), serverId);
    const r = this.check(p, server, input, purpose, o.checked);
    if (!server.bmc && !r.imitate) throw new RackhandError('BMC_NOT_CONFIGURED', `server ${serverId} has no BMC configured`, { id: serverId });
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
  private check(p: Principal, server: ServerRecord | undefined, input: InstallRequest, purpose: TaskParams<'deploy'>['purpose'], done?: Checked): Checked {
    const req = parseInput(installRequestSchema, input, 'request');
    const osId = done?.osId ?? findOs(this.catalogue, { osId: req.os, osName: req.osName }).osId;
    const family = this.catalogue[osId].family;
    if (purpose === 'install' && (family === 'diag' || family === 'wipe')) {
      throw new RackhandError('INVALID_INPUT', `os ${osId} is a ${family} image, not an installable system`, { field: 'os_id' });
    }
    // Diagnostics and wipe images have no root account to speak of; their templates still need a hash.
    let rootPassword: string;
    if (purpose === 'install') {
      if (!req.rootPassword) throw new RackhandError('INVALID_INPUT', 'root_pass: required', { field: 'root_pass' });
      rootPassword = parseInput(strongRootPasswordSchema, req.rootPassword, 'root_pass');
    } else rootPassword = randomBytes(18).toString('base64url');
    const callback = req.postInstallCallback === undefined ? undefined : this.notifier.check(p, req.postInstallCallback);
    if (server) this.netboot.validate(server.id, { osId, settings: req.settings, uefi: req.uefi, rootPassword });
    return { osId, rootPassword, uefi: req.uefi, settings: req.settings, callback, imitate: req.imitate, extra: req.extra };
  }
}

interface Checked {
  osId: string;
  rootPassword: string;
  uefi: boolean;
  settings: InstallSettings;
  callback?: string;
  imitate?: 'deploy' | 'error';
  extra: Record<string, unknown>;
}
