// Workflows that boot a host from the network: create_pxe, clear_pxe, and the deploy behind reinstall,
// order_instance, operation_os / operation_diag / operation_clear_hdd (arm → PXE, its boot ISO as virtual media, or
// UEFI HTTP boot → power → report → disk).
import { setTimeout as sleep } from 'node:timers/promises';
import { RackhandError } from '../../errors.js';
import type { ServerStatus } from '../../domain/server.js';
import type { TaskRecord } from '../../store/repos/tasks-repo.js';
import type { NetbootState } from '../../store/repos/netboot-repo.js';
import type { Netboot, InstallerReport } from '../../core/netboot.js';
import { INSTALLER_SIGNAL, RESCUE_SIGNAL } from '../../core/netboot.js';
import type { ErrorCode } from '../../errors.js';
import type { PostInstallNotifier } from '../../core/post-install-notifier.js';
import type { BootIsos } from '../../core/boot-isos.js';
import type { TaskParams } from '../task-kinds.js';
import type { Workflow, WorkflowContext } from '../task-runner.js';
import { confirmPower, powerOnOrReset, readPower, type BmcWorkflowDeps } from './bmc-workflows.js';

export interface NetbootWorkflowDeps extends BmcWorkflowDeps {
  netboot: Netboot;
  notifier: PostInstallNotifier;
  /** How long an installer may take before the deploy fails. */
  installTimeoutMs: number;
  /** After the report, the installer's time to unmount and sync before the reboot. */
  rebootGraceMs: number;
  /** The hosts' boot ISOs (boot_via virtual_media). */
  isos: Pick<BootIsos, 'build' | 'url' | 'remove'>;
  /** What UEFI HTTP boot loads (boot_via http): the iPXE binary's URL, which then asks for the host's script. */
  httpBootUri(): string | undefined;
}

type DeployCtx = WorkflowContext<'deploy', { root_pass?: string }>;

export function createPxeWorkflow(d: NetbootWorkflowDeps): Workflow<'create_pxe', { root_pass?: string }> {
  return {
    kind: 'create_pxe',
    mutating: true,
    async run(ctx) {
      const p = ctx.params;
      const nb = await ctx.step('arm netboot', () =>
        armed(d.netboot.arm(ctx.serverId!, { purpose: p.purpose, osId: p.os_id, settings: p.install, uefi: p.uefi, rootPassword: rootPass(ctx), taskId: ctx.taskId })),
      );
      return { armed: true, os_id: nb.osId, purpose: nb.purpose };
    },
  };
}

export function clearPxeWorkflow(d: NetbootWorkflowDeps): Workflow<'clear_pxe'> {
  return {
    kind: 'clear_pxe',
    mutating: true,
    async run(ctx) {
      const before = d.netboot.state(ctx.serverId!);
      const was = await ctx.step('disarm netboot', () => d.netboot.disarm(ctx.serverId!));
      if (!was) ctx.note('disarm netboot', 'nothing was armed');
      // A host in the rescue system powers off at its next poll; it must then start from its disk.
      if (before?.purpose === 'rescue' && d.servers.get(ctx.serverId!)?.bmc) {
        const mode = (before.params as { uefi?: boolean }).uefi ? 'uefi' : 'legacy';
        await ctx.step(`boot device disk (${mode}, persistent)`, () => d.bmc.call(ctx.serverId!, (drv, t) => drv.setBootDevice(t, { device: 'disk', mode, persistent: true }, { signal: ctx.signal })));
      }
      return { armed: false };
    },
  };
}

export function deployWorkflow(d: NetbootWorkflowDeps): Workflow<'deploy', { root_pass?: string }> {
  const bmc = <T>(ctx: { serverId: number | null }, op: Parameters<typeof d.bmc.call<T>>[1]) => d.bmc.call(ctx.serverId!, op);
  const mode = (p: TaskParams<'deploy'>) => (p.uefi ? 'uefi' : 'legacy');
  return {
    kind: 'deploy',
    mutating: true,
    async run(ctx) {
      const p = ctx.params;
      const serverId = ctx.serverId!;
      d.servers.setStatus(serverId, 'deploying');
      if (p.imitate) {
        for (const step of ['arm netboot', 'boot device pxe', 'power on or reset', 'wait for installer callback', 'disarm netboot', 'boot device disk']) {
          await ctx.step(`${step} (imitated)`, async () => {
            await sleep(50, undefined, { signal: ctx.signal });
            if (p.imitate === 'error' && step === 'wait for installer callback') {
              throw new RackhandError('BOOT_ERROR', 'imitated deploy error (imitate_error=1)');
            }
          });
        }
        d.servers.setStatus(serverId, p.previous_status as ServerStatus);
        // Central tests its integration with imitated deploys: it hears of them as of real ones, once.
        if (p.post_install_callback) await d.notifier.notify(ctx, p.post_install_callback, { status: 'ok', osId: p.os_id });
        return { imitated: true, os_id: p.os_id };
      }
      const nb = await ctx.step(`arm netboot (${p.purpose})`, () =>
        armed(d.netboot.arm(serverId, { purpose: p.purpose, osId: p.os_id, settings: p.install, uefi: p.uefi, rootPassword: rootPass(ctx), taskId: ctx.taskId, bootVia: p.boot_via })),
      );
      // The install's token stays out of the journal (a step's result is shown with the task): read from the store.
      const token = () => d.netboot.state(serverId)!.token;
      const hasBmc = d.servers.get(serverId)?.bmc != null;
      const via = p.boot_via;
      if (hasBmc && via === 'virtual_media') {
        // No DHCP or TFTP answers this host: its own ISO carries its address and where its boot script is.
        const iso = await ctx.step('build the host\'s boot ISO', () => d.isos.build(d.servers.require(serverId), token(), ctx.signal));
        await ctx.step('eject virtual media', () => bmc(ctx, (drv, t) => drv.ejectMedia(t, { signal: ctx.signal })));
        await ctx.step(`insert the boot ISO as virtual media (${Math.round(iso.bytes / 2 ** 20)} MiB)`, () =>
          bmc(ctx, (drv, t) => drv.insertMedia(t, d.isos.url(token()), { signal: ctx.signal })).catch((e: unknown) => {
            throw withoutSecret(e, token());
          }),
        );
        await ctx.step(`boot device cdrom (${mode(p)}, next boot)`, () => bmc(ctx, (drv, t) => drv.setBootDevice(t, { device: 'cdrom', mode: mode(p), persistent: false }, { signal: ctx.signal })));
        await ctx.step('power on or reset into the boot ISO', () => powerOnOrReset(d, ctx));
      } else if (hasBmc && via === 'http') {
        const uri = d.httpBootUri();
        await ctx.step(`boot device http (uefi, next boot${uri ? `, ${uri}` : ''})`, () =>
          bmc(ctx, (drv, t) => drv.setBootDevice(t, { device: 'http', mode: 'uefi', persistent: false, ...(uri ? { uri } : {}) }, { signal: ctx.signal })),
        );
        await ctx.step('power on or reset into UEFI HTTP boot', () => powerOnOrReset(d, ctx));
      } else if (hasBmc) {
        // Right before the power-on that depends on it: boot flags expire, and a BMC may have lost them.
        await ctx.step(`boot device pxe (${mode(p)}, next boot)`, () => bmc(ctx, (drv, t) => drv.setBootDevice(t, { device: 'pxe', mode: mode(p), persistent: false }, { signal: ctx.signal })));
        await ctx.step('power on or reset into the network boot', () => powerOnOrReset(d, ctx));
      } else ctx.note('power', 'no BMC: waiting for the host to network-boot by itself (power it on at the rack)');
      // Once the host has what it booted in memory, its ISO is no longer needed: ejected, so no later boot finds it.
      const ejectIso = async () => {
        if (via !== 'virtual_media' || !hasBmc) return;
        await ctx.step('eject virtual media', () => bmc(ctx, (drv, t) => drv.ejectMedia(t, { signal: ctx.signal })));
        d.isos.remove(token());
      };
      if (p.purpose === 'rescue') {
        const ready = await ctx.waitFor<{ message: string }>(RESCUE_SIGNAL, { step: 'wait for the rescue system', timeoutMs: d.installTimeoutMs });
        await ejectIso();
        // The host stays in the rescue system, netboot armed, until clear_pxe.
        d.servers.setStatus(serverId, p.previous_status as ServerStatus);
        return { purpose: p.purpose, rescue: ready.message, armed: true };
      }
      const report = await ctx.waitFor<InstallerReport>(INSTALLER_SIGNAL, { step: 'wait for installer callback', timeoutMs: d.installTimeoutMs });
      noteHostResult(ctx, p.purpose, report);
      await ejectIso();
      if (!report.ok) {
        await ctx.step('host report', () => {
          throw hostFailure(report);
        });
      }
      if (p.purpose === 'diag') {
        const inventory = (report.result as { inventory?: unknown } | undefined)?.inventory;
        if (inventory) await ctx.step('store the inspected hardware', () => void d.servers.saveInspection(serverId, inventory, ctx.taskId));
      }
      await ctx.step('disarm netboot', () => d.netboot.disarm(serverId));
      if (hasBmc) await ctx.step(`boot device disk (${mode(p)}, persistent)`, () => bmc(ctx, (drv, t) => drv.setBootDevice(t, { device: 'disk', mode: mode(p), persistent: true }, { signal: ctx.signal })));
      if (p.purpose === 'install') {
        // The report is the installer's last request, not its last act: let it unmount and sync first.
        if (d.rebootGraceMs > 0) {
          await ctx.step(`grace for the installer to finish (${Math.round(d.rebootGraceMs / 1000)} s)`, () => sleep(d.rebootGraceMs, undefined, { signal: ctx.signal }));
        }
        if (hasBmc) await ctx.step('reboot into the installed system', () => rebootAfterInstall(d, ctx));
      } else ctx.note('power', `the host powers itself off after the ${p.purpose === 'diag' ? 'inspection' : 'wipe'}`);
      d.servers.setStatus(serverId, p.previous_status as ServerStatus);
      if (p.post_install_callback) await d.notifier.notify(ctx, p.post_install_callback, { status: 'ok', osId: nb.osId });
      return { os_id: nb.osId, purpose: p.purpose, ...(report.result && typeof report.result === 'object' ? { report: report.result } : {}) };
    },
    // Whatever failed — or a cancel — the host must not be left PXE-looping.
    async cleanup(ctx, error) {
      const p = ctx.params;
      const serverId = ctx.serverId!;
      const attempt = async (name: string, fn: () => Promise<unknown> | unknown) => {
        try {
          await fn();
          ctx.note(`cleanup: ${name}`, 'done');
        } catch (err) {
          ctx.note(`cleanup: ${name}`, `failed: ${(err as Error).message}`);
        }
      };
      const token = d.netboot.state(serverId)?.token;
      await attempt('disarm netboot', () => d.netboot.disarm(serverId));
      if (!p.imitate && d.servers.get(serverId)?.bmc) {
        // No signal: this runs after a cancel too (the task's signal is already aborted then).
        if (p.boot_via === 'virtual_media') await attempt('eject virtual media', () => bmc(ctx, (drv, t) => drv.ejectMedia(t)));
        await attempt('boot device disk', () => bmc(ctx, (drv, t) => drv.setBootDevice(t, { device: 'disk', mode: mode(p), persistent: true })));
      }
      if (token && p.boot_via === 'virtual_media') d.isos.remove(token);
      // A server claimed by this order goes back to the free pool; any other gets its status back.
      if (p.release_on_failure) d.servers.release(serverId);
      else d.servers.setStatus(serverId, p.previous_status as ServerStatus);
      if (p.post_install_callback) {
        await d.notifier.notify(ctx, p.post_install_callback, { status: 'failed', osId: p.os_id, code: error.code, reason: error.message });
      }
    },
    settleInterrupted(task: TaskRecord, tools) {
      if (task.serverId === null) return;
      const p = task.params as TaskParams<'deploy'>;
      const token = d.netboot.state(task.serverId)?.token;
      if (token) d.isos.remove(token);
      d.netboot.disarm(task.serverId);
      if (p.release_on_failure) d.servers.release(task.serverId);
      else d.servers.setStatus(task.serverId, (p.previous_status as ServerStatus) ?? 'free');
      if (p.imitate) return;
      // The BMC may be what was down: a follow-up task keeps trying until it answers.
      const follow = tools.submit('boot_device', {
        serverId: task.serverId,
        params: { device: 'disk', mode: p.uefi ? 'uefi' : 'legacy', persistent: true, retryUnreachableMs: 3600_000, reason: `deploy task ${task.id} was interrupted` },
        requestedBy: `rackhand:recovery#${task.id}`,
      });
      tools.log.warn({ server: task.serverId, task: task.id, followUp: follow.id }, 'interrupted deploy: netboot disarmed; boot device disk set by a follow-up task');
    },
  };
}

/** Codes a booted host may report that name the failure well enough to be the task's own. */
const HOST_CODES = new Set<ErrorCode>(['IMAGE_CORRUPT', 'IMAGE_MISSING', 'DISK_NOT_FOUND', 'WIPE_UNSUPPORTED', 'INSTALL_FAILED']);

function hostFailure(r: InstallerReport): RackhandError {
  const code = r.code && HOST_CODES.has(r.code as ErrorCode) ? (r.code as ErrorCode) : 'INSTALL_FAILED';
  return new RackhandError(code, `the host reported ${r.code ?? 'a failure'}: ${r.reason ?? 'no reason given'}`, { hostCode: r.code ?? null });
}

/** A wipe's per-disk outcome in the journal (the task's result or error says the whole). */
function noteHostResult(ctx: { note(n: string, m: string): void }, purpose: string, r: InstallerReport): void {
  const disks = (r.result as { disks?: { name?: string; serial?: string; mode?: string; ok?: boolean; error?: string }[] } | undefined)?.disks;
  if (purpose !== 'wipe' || !Array.isArray(disks)) return;
  for (const disk of disks) {
    ctx.note(`disk ${disk.name ?? '?'}`, `${disk.ok ? 'wiped' : 'NOT wiped'} (${disk.mode ?? '?'}${disk.serial ? `, serial ${disk.serial}` : ''})${disk.error ? `: ${disk.error}` : ''}`);
  }
}

/** The ISO's URL carries the install's token: a BMC that quotes it in an error must not put it in the journal. */
function withoutSecret(e: unknown, secret: string): unknown {
  if (!(e instanceof RackhandError) || !e.message.includes(secret)) return e;
  return new RackhandError(e.code, e.message.split(secret).join('…'), JSON.parse(JSON.stringify(e.details ?? {}).split(secret).join('…')));
}

/** What the journal keeps of an armed netboot: never its token or the root password's hash. */
function armed(nb: NetbootState): { osId: string; purpose: string; armedAt: string } {
  return { osId: nb.osId, purpose: nb.purpose, armedAt: nb.armedAt };
}

function rootPass(ctx: { secrets: { root_pass?: string } | undefined }): string {
  const pass = ctx.secrets?.root_pass;
  if (!pass) throw new RackhandError('TASK_INTERRUPTED', 'the root password is gone (rackhand restarted before netboot was armed); ask again');
  return pass;
}

/**
 * Reset (or power on) into the installed system. The installer's report is not its very last act: it may
 * still power the host off (or reboot it) after reporting, racing the reset — a reset the BMC carries out
 * late, or ignores because the host is already off. So the power is watched for a settle period after the
 * reset, and a host that goes off in it is powered on; otherwise the deploy would report success for a host
 * left off.
 */
/** After the installer reported: start the host from its disk. */
export async function rebootAfterInstall(
  d: BmcWorkflowDeps,
  ctx: DeployCtx,
  // long enough for an installer's own poweroff after its callback to show
  settleMs = Math.max(5_000, 10 * d.timing.powerPollMs),
): Promise<'on' | 'reset' | 'reset, then on'> {
  const first = (await readPower(d, ctx)) === 'off' ? 'on' : 'reset';
  await d.bmc.call(ctx.serverId!, (drv, t) => drv.power(t, first, { signal: ctx.signal }));
  // The installer may power itself off right after its callback, racing this reset, and a reset does nothing to a
  // host that is off: whenever the host reads off after the reset, it is powered on. Done once it has read on twice
  // and stayed on through the settle window.
  const settleUntil = Date.now() + settleMs;
  const deadline = Date.now() + d.timing.powerTimeoutMs;
  let ons = 0;
  for (;;) {
    await sleep(d.timing.powerPollMs, undefined, { signal: ctx.signal });
    const now = await readPower(d, ctx);
    if (now === 'off' && first === 'reset') {
      await d.bmc.call(ctx.serverId!, (drv, t) => drv.power(t, 'on', { signal: ctx.signal }));
      await confirmPower(d, ctx, 'on', d.timing.powerTimeoutMs);
      return 'reset, then on';
    }
    ons = now === 'on' ? ons + 1 : 0;
    if (ons >= 2 && Date.now() >= settleUntil) return first;
    if (Date.now() > deadline && ons < 2) {
      throw new RackhandError('BMC_TIMEOUT', `power did not read on twice within ${Math.round(d.timing.powerTimeoutMs / 1000)} s (last read: ${now})`, { want: 'on', last: now });
    }
  }
}

export function netbootWorkflows(d: NetbootWorkflowDeps): Workflow<any, any>[] {
  return [createPxeWorkflow(d), clearPxeWorkflow(d), deployWorkflow(d)];
}
