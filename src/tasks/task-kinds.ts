// Every kind of task and the one schema its parameters follow: checked at submit, and parsed again when a task
// is resumed after a restart (what the database holds is not trusted blindly).
import { z } from 'zod';
import { BOOT_DEVICES, BOOT_MODES } from '../bmc/bmc-driver.js';
import { BOOT_VIA } from '../domain/server.js';

const powerRequest = z.enum(['on', 'off', 'soft', 'reset', 'cycle', 'reboot']);
const bootDevice = z.enum(BOOT_DEVICES);
const bootMode = z.enum(BOOT_MODES);
const bmcPrivilege = z.enum(['user', 'operator', 'administrator']);

/** What shapes the installed system (no secrets: those travel beside the params, in memory only). */
export const installSettingsSchema = z
  .object({
    hostname: z.string().max(253).optional(),
    custom_domain: z.string().max(253).optional(),
    ssh_key: z.string().max(16384).optional(),
    post_install_script: z.string().max(65536).optional(),
    cloud_init_script: z.string().max(65536).optional(),
    disk_mirror: z.number().int().min(0).optional(),
    root_size: z.number().int().min(0).optional(),
    no_lvm: z.boolean().optional(),
    manual_choice_dsk: z.string().max(64).optional(),
    wipe_mode: z.enum(['quick', 'zero', 'secure']).optional(),
  })
  .strict();
export type InstallSettings = z.infer<typeof installSettingsSchema>;

export const netbootPurposeSchema = z.enum(['install', 'diag', 'wipe', 'rescue']);

export const deployParamsSchema = z
  .object({
    purpose: netbootPurposeSchema,
    os_id: z.string(),
    install: installSettingsSchema,
    uefi: z.boolean(),
    post_install_callback: z.string().url().optional(),
    /** The seed's imitate_deploy / imitate_error: run the steps without touching hardware. */
    imitate: z.enum(['deploy', 'error']).optional(),
    /** Restored when the deploy ends (the server shows `deploying` meanwhile). */
    previous_status: z.string(),
    /** Claimed from the free pool by this order: a failure returns it there (free, no owner). */
    release_on_failure: z.boolean().default(false),
    /** How the host boots: network boot, its boot ISO as virtual media, or UEFI HTTP boot. */
    boot_via: z.enum(BOOT_VIA).default('pxe'),
    /** Everything else the caller sent, kept with the task as a record (documented as recorded-only). */
    extra: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export const TASK_PARAMS = {
  power: z.object({ action: powerRequest }).strict(),
  boot_device: z
    .object({
      device: bootDevice,
      mode: bootMode,
      persistent: z.boolean(),
      /** Keep trying an unreachable BMC until this long after the task started (restoring disk after a crash). */
      retryUnreachableMs: z.number().int().min(0).optional(),
      reason: z.string().max(256).optional(),
    })
    .strict(),
  sensors: z.object({}).strict(),
  event_log: z.object({}).strict(),
  event_log_clear: z.object({}).strict(),
  bmc_user_add: z.object({ name: z.string().min(1).max(16), privilege: bmcPrivilege }).strict(),
  bmc_user_remove: z.object({ name: z.string().min(1).max(16) }).strict(),
  bmc_reset: z.object({ kind: z.enum(['cold', 'warm']) }).strict(),
  create_pxe: deployParamsSchema.omit({ previous_status: true, imitate: true, release_on_failure: true, boot_via: true }),
  /** hostname: the seed's optional clear_pxe parameter, recorded with the task. */
  clear_pxe: z.object({ hostname: z.string().max(253).optional() }).strict(),
  deploy: deployParamsSchema,
  suspend: z.object({}).strict(),
  resume: z.object({}).strict(),
  ip_allocate: z.object({ ip_id: z.number().int(), ip: z.string(), network: z.string(), main_ipv4: z.boolean() }).strict(),
  /** post_install_callback of a create_pxe install: its task had finished when the installer reported. */
  install_callback: z
    .object({
      url: z.string().url(),
      task: z.number().int(),
      os_id: z.string(),
      status: z.enum(['ok', 'failed']),
      code: z.string().max(64).optional(),
      reason: z.string().max(1024).optional(),
    })
    .strict(),
  /**
   * A request that asks for nothing to be done (clear_hdd "none", an imitated create_pxe): the journal records it
   * and why; with `error` the task fails with it (imitate_error).
   */
  noop: z.object({ operation: z.string().max(64), reason: z.string().max(256), error: z.string().max(256).optional() }).strict(),
  ip_release: z.object({ ip_id: z.number().int(), ip: z.string(), network: z.string(), main_ipv4: z.boolean() }).strict(),
  image_build: z.object({}).strict(),
  image_import: z
    .object({
      name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
      disk: z
        .object({
          src: z.string().min(1).max(2048),
          sha256: z.string().regex(/^[0-9a-fA-F]{64}$/),
          format: z.enum(['raw', 'qcow2', 'raw.gz', 'raw.zst', 'raw.xz']).optional(),
          os: z.object({ ids: z.array(z.number().int().nonnegative()).max(8), name: z.string().min(1).max(128) }).strict().optional(),
        })
        .strict()
        .optional(),
      netboot: z
        .object({
          kernel: z.string().min(1).max(2048),
          kernelSha256: z.string().regex(/^[0-9a-fA-F]{64}$/),
          initrd: z.string().min(1).max(2048),
          initrdSha256: z.string().regex(/^[0-9a-fA-F]{64}$/),
        })
        .strict()
        .optional(),
      debianInstaller: z.boolean().optional(),
    })
    .strict(),
  image_verify: z.object({ name: z.string().max(64) }).strict(),
} as const;

export type TaskKind = keyof typeof TASK_PARAMS;
export type TaskParams<K extends TaskKind> = z.infer<(typeof TASK_PARAMS)[K]>;
export const TASK_KINDS = Object.keys(TASK_PARAMS) as TaskKind[];

export function isTaskKind(k: string): k is TaskKind {
  return Object.prototype.hasOwnProperty.call(TASK_PARAMS, k);
}
