// The netboot capability: arm and disarm a host's network boot, and the install's lifecycle — the installer's
// reports reach the task that waits for them through the task runner (persisted, so a restart loses nothing).
import { RackhandError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Principal } from '../auth/tokens.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { NetbootPurpose, NetbootRepo, NetbootState } from '../store/repos/netboot-repo.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import type { InstallSettings } from '../tasks/task-kinds.js';
import { sha512Crypt } from '../boot/templates/index.js';
import { requireVisibleServer } from './access.js';
import type { InstallPlans } from './install-plans.js';
import type { BootEventSink } from '../boot/boot-event.js';
import type { BootVia, ServerRecord } from '../domain/server.js';

/** The signal a deploy waits for; its payload is what the installer (or the ramdisk agent) reported. */
export const INSTALLER_SIGNAL = 'installer report';
/** The signal a rescue boot waits for: the ramdisk's SSH server is up. */
export const RESCUE_SIGNAL = 'rescue ready';

export interface InstallerReport {
  ok: boolean;
  /** A stable code for a failure (e.g. IMAGE_CORRUPT), and one line a person can act on. */
  code?: string;
  reason?: string;
  /** What the ramdisk agent found or did (an inspection's inventory, a wipe's disks, a deploy's disk). */
  result?: unknown;
}

export interface ArmRequest {
  purpose: NetbootPurpose;
  osId: string;
  settings: InstallSettings;
  uefi: boolean;
  /** Hashed here; the plain password is never stored. */
  rootPassword: string;
  taskId: number | null;
  /** How the host boots into it (default pxe): virtual_media means no DHCP answers it, so what it boots is static. */
  bootVia?: BootVia;
}

export class Netboot {
  constructor(
    private readonly servers: ServersRepo,
    private readonly netboot: NetbootRepo,
    private readonly plans: InstallPlans,
    private readonly tasks: TaskRunner,
    private readonly log: Logger,
    /** The host's boot history: each installer report, and each refused. */
    private readonly onBootEvent?: BootEventSink,
  ) {}

  /** Validate everything a render will need, then arm. Invalid input fails here, not at boot time. */
  arm(serverId: number, req: ArmRequest): NetbootState {
    const server = this.servers.require(serverId);
    const rootPasswordHash = sha512Crypt(req.rootPassword);
    const staticNetwork = req.bootVia === 'virtual_media';
    const plan = this.plans.plan(server, { osId: req.osId, settings: req.settings, uefi: req.uefi, rootPasswordHash, staticNetwork });
    const params = { ...req.settings, uefi: req.uefi, root_password_hash: rootPasswordHash, ...(req.bootVia && req.bootVia !== 'pxe' ? { boot_via: req.bootVia } : {}) };
    return this.netboot.arm({ serverId, purpose: req.purpose, osId: plan.osId, params, taskId: req.taskId });
  }

  /** Check that a request would arm (every template input valid) without arming anything. */
  validate(serverId: number, req: Omit<ArmRequest, 'purpose' | 'taskId'>): void {
    const server = this.servers.require(serverId);
    this.plans.plan(server, { osId: req.osId, settings: req.settings, uefi: req.uefi, rootPasswordHash: sha512Crypt(req.rootPassword), staticNetwork: req.bootVia === 'virtual_media' });
  }

  disarm(serverId: number): boolean {
    return this.netboot.disarm(serverId);
  }

  state(serverId: number): NetbootState | undefined {
    return this.netboot.get(serverId);
  }

  /**
   * What the API shows of a host's netboot state (never its token). `server`: its id, or its record as the caller has
   * just read it (GET /servers/:id: the server is read once).
   */
  view(p: Principal, server: number | ServerRecord) {
    const serverId = typeof server === 'number' ? server : server.id;
    requireVisibleServer(p, typeof server === 'number' ? this.servers.get(serverId) : server, serverId);
    const nb = this.netboot.get(serverId);
    return nb
      ? { armed: !nb.callbackAt, purpose: nb.purpose, osId: nb.osId, armedAt: nb.armedAt, callbackAt: nb.callbackAt, task: nb.taskId }
      : { armed: false };
  }

  /**
   * The installer's last request: it reports success or failure. Single use: a second call, or an unknown
   * token, is refused. The deploy waiting for it is told through the task runner.
   */
  report(token: string, report: InstallerReport, remoteAddress = ''): NetbootState {
    const nb = this.netboot.consumeCallback(token, report.ok ? 'ok' : `failed: ${report.code ?? 'INSTALLER_FAILED'}`);
    const event = (e: { kind: 'installer-report' | 'installer-report-refused'; detail: string; serverId?: number }) =>
      this.onBootEvent?.({ at: Date.now(), ip: remoteAddress, ...e });
    if (!nb) {
      event({ kind: 'installer-report-refused', detail: 'installer report refused: unknown or already used callback' });
      throw new RackhandError('NOT_FOUND', 'unknown or already used installer callback');
    }
    event({
      kind: 'installer-report',
      serverId: nb.serverId,
      detail: report.ok ? `installer reported success (${nb.purpose} ${nb.osId})` : `installer reported failure${report.code ? ` ${report.code}` : ''}: ${report.reason ?? 'no reason given'}`,
    });
    this.log.info({ server: nb.serverId, purpose: nb.purpose, os: nb.osId, ok: report.ok, code: report.code }, 'installer called back');
    if (nb.taskId !== null && !this.tasks.signal(nb.taskId, INSTALLER_SIGNAL, report)) this.callBackCentral(nb, report);
    return nb;
  }

  /**
   * create_pxe only arms: no task waits for the installer. Its post_install_callback goes out now, as a task of
   * its own (journalled, retried), with the installer's status and reason.
   */
  private callBackCentral(nb: NetbootState, report: InstallerReport): void {
    const armedBy = this.tasks.get(nb.taskId!);
    const url = armedBy?.kind === 'create_pxe' ? (armedBy.params as { post_install_callback?: string }).post_install_callback : undefined;
    if (!url) return;
    this.tasks.submit('install_callback', {
      serverId: nb.serverId,
      params: { url, task: armedBy!.id, os_id: nb.osId, status: report.ok ? 'ok' : 'failed', code: report.code, reason: report.reason },
      requestedBy: `rackhand:installer#${armedBy!.id}`,
    });
  }

  /**
   * A progress line from the booted host, into its task's journal (live on /events). A heartbeat only says the
   * host is alive and is not journalled; the rescue system's SSH coming up ends the rescue task's wait.
   */
  progress(token: string, step: { name: string; state: 'started' | 'succeeded' | 'failed' | 'note' | 'heartbeat'; message: string }): void {
    const nb = this.netboot.findByToken(token);
    if (!nb || nb.callbackAt) throw new RackhandError('NOT_FOUND', 'no install armed for this token');
    if (nb.taskId === null || step.state === 'heartbeat') return;
    this.tasks.journal(nb.taskId, { name: `host: ${step.name}`, state: step.state, message: step.message });
    // The agent says so in whichever step brought SSH up (ramdisk/PROTOCOL.md: "rescue ready: ssh root@<ip>").
    if (nb.purpose === 'rescue' && step.state !== 'failed' && /^rescue ready\b/.test(step.message)) {
      this.tasks.signal(nb.taskId, RESCUE_SIGNAL, { message: step.message });
    }
  }
}
