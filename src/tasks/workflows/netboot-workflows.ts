// Workflows that boot a host from the network: create_pxe, clear_pxe, and the deploy behind reinstall,
// order_instance, operation_os / operation_diag / operation_clear_hdd (arm → PXE → power → report → disk).
import { setTimeout as sleep } from 'node:timers/promises';
import { RackhandError } from '../../errors.js';
import type { ServerStatus } from '../../domain/server.js';
import type { TaskRecord } from '../../store/repos/tasks-repo.js';
import type { Netboot, InstallerReport } from '../../core/netboot.js';
import { INSTALLER_SIGNAL } from '../../core/netboot.js';
import type { PostInstallNotifier } from '../../core/post-install-notifier.js';
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
}

type DeployCtx = WorkflowContext<'deploy', { root_pass?: string }>;

export function createPxeWorkflow(d: NetbootWorkflowDeps): Workflow<'create_pxe', { root_pass?: string }> {
  return {
    kind: 'create_pxe',
    mutating: true,
    async run(ctx) {
      const p = ctx.params;
      const nb = await ctx.step('arm netboot', () =>
        d.netboot.arm(ctx.serverId!, { purpose: p.purpose, osId: p.os_id, settings: p.install, uefi: p.uefi, rootPassword: rootPass(ctx), taskId: ctx.taskId }),
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
      const was = await ctx.step('disarm netboot', () => d.netboot.disarm(ctx.serverId!));
      if (!was) ctx.note('disarm netboot', 'nothing was armed');
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
        // Central tests its integration with imitated deploys: it hears of them as of real ones.
        if (p.post_install_callback) await d.notifier.notify(ctx, p.post_install_callback, { status: 'ok', osId: p.os_id });
        d.servers.setStatus(serverId, p.previous_status as ServerStatus);
        return { imitated: true, os_id: p.os_id };
      }
      const nb = await ctx.step(`arm netboot (${p.purpose})`, () =>
        d.netboot.arm(serverId, { purpose: p.purpose, osId: p.os_id, settings: p.install, uefi: p.uefi, rootPassword: rootPass(ctx), taskId: ctx.taskId }),
      );
      // Right before the power-on that depends on it: boot flags expire, and a BMC may have lost them.
      await ctx.step(`boot device pxe (${mode(p)}, next boot)`, () => bmc(ctx, (drv, t) => drv.setBootDevice(t, { device: 'pxe', mode: mode(p), persistent: false })));
      await ctx.step('power on or reset into the network boot', () => powerOnOrReset(d, ctx));
      const report = await ctx.waitFor<InstallerReport>(INSTALLER_SIGNAL, { step: 'wait for installer callback', timeoutMs: d.installTimeoutMs });
      if (!report.ok) {
        throw new RackhandError('BOOT_ERROR', `the installer reported failure${report.code ? ` (${report.code})` : ''}: ${report.reason ?? 'no reason given'}`, {
          installerCode: report.code,
        });
      }
      await ctx.step('disarm netboot', () => d.netboot.disarm(serverId));
      await ctx.step(`boot device disk (${mode(p)}, persistent)`, () => bmc(ctx, (drv, t) => drv.setBootDevice(t, { device: 'disk', mode: mode(p), persistent: true })));
      // The report is the installer's last request, not its last act: let it unmount and sync first.
      if (d.rebootGraceMs > 0) {
        await ctx.step(`grace for the installer to finish (${Math.round(d.rebootGraceMs / 1000)} s)`, () => sleep(d.rebootGraceMs, undefined, { signal: ctx.signal }));
      }
      await ctx.step('reboot into the installed system', () => rebootAfterInstall(d, ctx));
      if (p.post_install_callback) await d.notifier.notify(ctx, p.post_install_callback, { status: 'ok', osId: nb.osId });
      d.servers.setStatus(serverId, p.previous_status as ServerStatus);
      return { os_id: nb.osId, purpose: p.purpose };
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
      await attempt('disarm netboot', () => d.netboot.disarm(serverId));
      if (!p.imitate) {
        await attempt('boot device disk', () => bmc(ctx, (drv, t) => drv.setBootDevice(t, { device: 'disk', mode: mode(p), persistent: true })));
      }
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
async function rebootAfterInstall(d: NetbootWorkflowDeps, ctx: DeployCtx): Promise<'on' | 'reset' | 'reset, then on'> {
  const first = await powerOnOrReset(d, ctx);
  const settleUntil = Date.now() + Math.max(5_000, 10 * d.timing.powerPollMs);
  while (Date.now() < settleUntil) {
    await sleep(d.timing.powerPollMs, undefined, { signal: ctx.signal });
    if ((await readPower(d, ctx)) === 'off') {
      await d.bmc.call(ctx.serverId!, (drv, t) => drv.power(t, 'on'));
      await confirmPower(d, ctx, 'on', d.timing.powerTimeoutMs);
      return 'reset, then on';
    }
  }
  return first;
}

export function netbootWorkflows(d: NetbootWorkflowDeps): Workflow<any, any>[] {
  return [createPxeWorkflow(d), clearPxeWorkflow(d), deployWorkflow(d)];
}
