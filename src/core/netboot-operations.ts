// Install-type operations every facade shares: create_pxe, clear_pxe, reinstall, order_instance, and the
// DCImanager OS / diagnostics / disk-wipe runs. Each checks access and starts a task.
import { randomBytes } from 'node:crypto';
import { RackhandError } from '../errors.js';
import { describePrincipal, type Principal } from '../auth/tokens.js';
import type { NetbootPurpose } from '../store/repos/netboot-repo.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { TaskRecord } from '../store/repos/tasks-repo.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import type { DeployParams } from '../tasks/workflows/netboot-workflows.js';
import { findOs, type OsCatalogue } from '../boot/templates/index.js';
import type { InventoryService } from './inventory-service.js';

/** Parameters that shape the installed system (the rest of a call is kept with the task as a record). */
const INSTALL_KEYS = ['hostname', 'ssh_key', 'post_install_script', 'disk_mirror', 'root_size', 'custom_domain', 'cloud_init_script', 'no_lvm', 'wipe_mode'] as const;
/** Never kept anywhere: secrets and transport. */
const DROPPED_KEYS = new Set(['token', 'action', 'root_pass', 'admin_pass', 'password']);

export interface InstallRequest {
  os_id?: number | string;
  os_name?: string;
  root_pass?: string;
  uefi?: boolean;
  post_install_callback?: string;
  imitate_deploy?: boolean;
  imitate_error?: boolean;
  [key: string]: unknown;
}

function toFlag(v: unknown): boolean | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  return v === true || v === 1 || v === '1' || v === 'true' || v === 'on' || v === 'yes';
}

export function splitInstallRequest(req: InstallRequest): { install: Record<string, unknown>; extra: Record<string, unknown> } {
  const install: Record<string, unknown> = {};
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(req)) {
    if (v === undefined || DROPPED_KEYS.has(k)) continue;
    if ((INSTALL_KEYS as readonly string[]).includes(k)) install[k] = v;
    else if (!['os_id', 'os_name', 'uefi', 'post_install_callback', 'imitate_deploy', 'imitate_error', 'id'].includes(k)) extra[k] = v;
  }
  if (install.disk_mirror !== undefined) install.disk_mirror = Number(install.disk_mirror) || 0;
  if (install.no_lvm !== undefined) install.no_lvm = toFlag(install.no_lvm) ?? false;
  return { install, extra };
}

export class NetbootOperations {
  constructor(
    private readonly inventory: InventoryService,
    private readonly servers: ServersRepo,
    private readonly tasks: TaskRunner,
    private readonly catalogue: OsCatalogue,
    private readonly siteName: string,
  ) {}

  osList(): { id: number | null; os_id: string; name: string; family: string }[] {
    return Object.entries(this.catalogue).map(([osId, os]) => ({ id: os.ids[0] ?? null, os_id: osId, name: os.name, family: os.family }));
  }

  createPxe(p: Principal, serverId: number, req: InstallRequest): TaskRecord {
    this.inventory.show(p, serverId);
    const os = this.os(req);
    const { install, extra } = splitInstallRequest(req);
    return this.tasks.submit('create_pxe', {
      serverId,
      params: { purpose: 'install', os_id: os, install: { ...install, uefi: toFlag(req.uefi) ?? false }, extra },
      secrets: { root_pass: this.rootPass(req) },
      requestedBy: describePrincipal(p),
    });
  }

  clearPxe(p: Principal, serverId: number): TaskRecord {
    this.inventory.show(p, serverId);
    return this.tasks.submit('clear_pxe', { serverId, params: {}, requestedBy: describePrincipal(p) });
  }

  /** The whole deploy: arm → PXE → power → installer callback → disarm → disk → reboot. */
  reinstall(p: Principal, serverId: number, req: InstallRequest, purpose: NetbootPurpose = 'install'): TaskRecord {
    const server = this.inventory.show(p, serverId);
    const imitate = req.imitate_error ? 'error' : req.imitate_deploy ? 'deploy' : undefined;
    if (!server.bmc && !imitate) throw new RackhandError('BMC_NOT_CONFIGURED', `server ${serverId} has no BMC configured`, { id: serverId });
    const os = this.os(req);
    const { install, extra } = splitInstallRequest(req);
    const params: DeployParams = {
      purpose,
      os_id: os,
      install,
      uefi: toFlag(req.uefi) ?? false,
      post_install_callback: req.post_install_callback,
      imitate,
      previous_status: server.status === 'deploying' ? 'free' : server.status,
      extra,
    };
    return this.tasks.submit('deploy', {
      serverId,
      params: params as unknown as Record<string, unknown>,
      // Diagnostics and wipe images have no root account to speak of; their templates still need a hash.
      secrets: { root_pass: purpose === 'install' ? this.rootPass(req) : randomBytes(18).toString('base64url') },
      requestedBy: describePrincipal(p),
    });
  }

  /**
   * order_instance: with an id, a reinstall of that server; without, atomically claim a free server of the
   * preset at this site for the caller's owner, then deploy it.
   */
  orderInstance(p: Principal, req: InstallRequest & { id?: number; preset?: string; location_name: string }): { serverId: number; task: TaskRecord } {
    if (req.id !== undefined) return { serverId: req.id, task: this.reinstall(p, req.id, req) };
    this.os(req);
    const location = req.location_name.trim().toLowerCase() === this.siteName.toLowerCase() ? undefined : req.location_name;
    const claimed = this.servers.claimFree({ preset: req.preset, location, ownerId: p.ownerId });
    if (claimed === undefined) {
      throw new RackhandError('NO_FREE_SERVER', `no free server${req.preset ? ` of preset ${req.preset}` : ''} at ${req.location_name}`, {
        preset: req.preset,
        location: req.location_name,
      });
    }
    try {
      return { serverId: claimed, task: this.reinstall(p, claimed, req) };
    } catch (e) {
      this.servers.release(claimed);
      throw e;
    }
  }

  diagnostics(p: Principal, serverId: number, osRef?: number): TaskRecord {
    return this.reinstall(p, serverId, { os_id: osRef ?? 'diagnostics' }, 'diag');
  }

  wipe(p: Principal, serverId: number, mode: string): TaskRecord {
    return this.reinstall(p, serverId, { os_id: 'disk-wipe', wipe_mode: mode }, 'wipe');
  }

  private os(req: InstallRequest): string {
    return findOs(this.catalogue, { osId: req.os_id, osName: req.os_name }).osId;
  }

  private rootPass(req: InstallRequest): string {
    if (typeof req.root_pass !== 'string' || !req.root_pass) {
      throw new RackhandError('INVALID_INPUT', 'root_pass: required', { field: 'root_pass' });
    }
    return req.root_pass;
  }
}
