// Builds the validated variable set for one host's install and renders its boot script and install configs.

import { createHash } from 'node:crypto';
import { z } from 'zod';
import { RackhandError } from '../../errors.js';
import { compileTemplate, type TemplateVars } from './render.js';
import { defaultOsCatalogue, findOs, type OsCatalogue, type OsEntry } from './os-catalogue.js';
import { sha512Crypt } from './sha512-crypt.js';
import { TemplateDir } from './template-dir.js';
import {
  bootUrlSchema,
  callbackTokenSchema,
  diskMirrorSchema,
  diskSizeSchema,
  domainSchema,
  flagSchema,
  hostnameSchema,
  ipv4Schema,
  ipAddressSchema,
  kernelArgSchema,
  macSchema,
  rootPasswordSchema,
  scriptSchema,
  sha512CryptHashSchema,
  sshKeysSchema,
  urlSchema,
  wipeModeSchema,
} from './value-schemas.js';

/** The create_pxe / reinstall parameters that shape an install (seed names kept). */
export const installParamsSchema = z
  .object({
    hostname: hostnameSchema.optional(),
    /** Plain password: hashed here and never stored in the plan. Prefer passing root_password_hash. */
    root_pass: rootPasswordSchema.optional(),
    /** The hash rackhand stored when the task was created (sha512Crypt(root_pass)). */
    root_password_hash: sha512CryptHashSchema.optional(),
    ssh_key: sshKeysSchema.optional(),
    post_install_script: scriptSchema.optional(),
    post_install_callback: urlSchema.optional(),
    disk_mirror: diskMirrorSchema.optional(),
    uefi: flagSchema.optional(),
    root_size: diskSizeSchema.optional(),
    custom_domain: domainSchema.optional(),
    cloud_init_script: scriptSchema.optional(),
    no_lvm: flagSchema.optional(),
    /** operation_clear_hdd mode, for the disk-wipe image. */
    wipe_mode: wipeModeSchema.optional(),
  })
  .refine((p) => p.root_pass !== undefined || p.root_password_hash !== undefined, {
    message: 'root_pass or root_password_hash is required',
    path: ['root_pass'],
  });

export const installInputSchema = z.object({
  /** From the inventory (HostBootInfo / server record). */
  host: z.object({
    serverId: z.number().int().nonnegative(),
    mac: macSchema,
    hostname: hostnameSchema.optional(),
    domain: domainSchema.optional(),
    ip: ipv4Schema.optional(),
    netmask: ipv4Schema.optional(),
    gateway: ipv4Schema.optional(),
    dns: z.array(ipAddressSchema).max(8).optional(),
    /** No DHCP answers this host (a virtual-media boot): what it boots configures `ip` statically. */
    staticNetwork: z.boolean().optional(),
  }),
  /** Catalogue key, numeric os_id (or its decimal string) or os_name. */
  osId: z.union([z.string().max(64), z.number().int().nonnegative()]).optional(),
  osName: z.string().max(128).optional(),
  params: installParamsSchema,
  urls: z.object({
    /** rackhand's HTTP boot base, e.g. http://10.0.0.1:8080 (no trailing slash needed). */
    base: bootUrlSchema,
    /** Where kernels/initrds/images are served; default `${base}/images`. */
    images: bootUrlSchema.optional(),
    /** Base of this host's install configs (`/preseed`, `/kickstart`, `/user-data`, `/meta-data` appended); default `${base}/install/${mac-with-hyphens}`. */
    install: bootUrlSchema.optional(),
    /** The installer callback endpoint; the installer requests `${callback}/${token}` (GET, or POST from some installers). */
    callback: bootUrlSchema,
    /**
     * This install's agent-protocol base, `<BASE>/boot/agent/<TOKEN>` (ramdisk/PROTOCOL.md). When given, install
     * configs report progress to `${agent}/progress` and failure to `${agent}/result` (GET with a query string:
     * installers' only HTTP client may be busybox wget).
     */
    agent: bootUrlSchema.optional(),
  }),
  /** Single-use per-install token; it becomes the last path segment of callback_url. */
  callbackToken: callbackTokenSchema,
  /** Short id for cloud-init's instance-id; default derived from the token (not revealing it). */
  installId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/).optional(),
});
export type InstallInput = z.input<typeof installInputSchema>;

/** Every variable the templates may use; each template's header documents the ones it reads. */
export interface InstallVars extends TemplateVars {
  server_id: string; // inventory id
  install_id: string; // cloud-init instance-id suffix
  os_id: string; // catalogue key
  os_name: string;
  os_family: string;
  hostname: string; // first label (netcfg/get_hostname, local-hostname)
  domain: string; // '' when none
  fqdn: string; // hostname[.domain]
  mac: string; // aa:bb:cc:dd:ee:ff
  mac_hyphen: string; // aa-bb-cc-dd-ee-ff
  ip: string; // reserved IPv4 or ''
  netmask: string;
  gateway: string;
  dns_servers: string[];
  /** The first DNS server or '': d-i takes it on its kernel line (its DHCP script drops DNS when no router is given). */
  dns_primary: string;
  /** The kernel's ip= for the rackhand ramdisk: 'dhcp', or <ip>::<gateway>:<netmask>:::off when no DHCP answers the host. */
  ip_config: string;
  base_url: string;
  images_url: string;
  install_url: string; // base of this host's install configs
  kernel_url: string;
  initrd_url: string;
  http_server: string; // host[:port] of images_url, for GRUB's (http,SERVER)PATH
  kernel_path: string; // URL path of the kernel on http_server
  initrd_path: string;
  kernel_args: string[]; // catalogue kernelArgs, rendered and validated, one token each
  mirror_url: string; // '' when the entry has none
  mirror_host: string;
  mirror_path: string;
  callback_url: string; // `${urls.callback}/${token}`: the installer's last request
  agent_url: string; // urls.agent (<BASE>/boot/agent/<TOKEN>) or ''
  progress_url: string; // `${agent_url}/progress` or '': GET ?step=…&state=started|succeeded|failed|note[&message=…]
  result_url: string; // `${agent_url}/result` or '': GET ?ok=0&code=…&reason=… when the installer fails
  callback_token: string;
  post_install_callback: string; // '' when none; requested after callback_url
  root_password_hash: string; // $6$…; the only form of the root password
  ssh_keys: string[];
  post_install_script_b64: string; // '' when none
  cloud_init_script_b64: string; // '' when none
  disk_mirror: boolean;
  raid_level: string; // '1', '10' or ''
  raid_disks: string[]; // sda sdb [sdc sdd]
  raid_disks_csv: string; // sda,sdb (kickstart --drives)
  raid_device_count: number; // 0, 2 or 4
  raid_partitions: string; // /dev/sda1#/dev/sdb1 (partman-auto-raid recipe members)
  uefi: boolean;
  use_lvm: boolean;
  root_size_gib: number; // 0 = rest of disk
  root_min_mib: number; // partman/kickstart sizes derived from root_size
  root_max_mib: number; // -1 = grow
  rackhand_action: string; // install | diag | wipe (rackhand images)
  wipe_mode: string; // quick | zero | secure ('' unless wiping)
}

export interface InstallPlan {
  osId: string;
  os: OsEntry;
  vars: InstallVars;
}

export type BootScriptKind = 'ipxe' | 'grub' | 'pxelinux';
export type InstallConfigKind = 'preseed' | 'kickstart' | 'user-data' | 'meta-data';

/** Alphabet every value interpolated into a boot script or kernel command line must stay within. */
const BOOT_VALUE_RE = /^[A-Za-z0-9._~:/=%@+,[\]-]*$/;
/** Install configs: values may have spaces (ssh key comments) but never break a line or a quoted string. */
const CONFIG_VALUE_BAD_RE = /[\0-\x08\x0a-\x1f\x7f'"`\\]|\$\(|\$\{/;

function bootGuard(path: string, value: string): void {
  if (!BOOT_VALUE_RE.test(value)) throw new Error(`value of ${path} is not a safe boot-script token`);
}

function configGuard(path: string, value: string): void {
  if (CONFIG_VALUE_BAD_RE.test(value)) throw new Error(`value of ${path} contains a line break, quote or shell expansion`);
}

function trimSlash(u: string): string {
  return u.replace(/\/+$/, '');
}

function invalid(e: z.ZodError): RackhandError {
  const issue = e.issues[0];
  // "params.ssh_key.0" → "params.ssh_key": callers map fields to API parameters
  const path = [...issue.path];
  while (path.length > 0 && typeof path[path.length - 1] === 'number') path.pop();
  const field = path.join('.');
  return new RackhandError('INVALID_INPUT', `${field || 'input'}: ${issue.message}`, { field, issues: e.issues.length });
}

const ACTION_BY_FAMILY: Record<OsEntry['family'], string> = {
  debian: 'install',
  ubuntu: 'install',
  rhel: 'install',
  'linux-test': 'install',
  image: 'install',
  diag: 'diag',
  wipe: 'wipe',
  rescue: 'rescue',
};

/**
 * Validates every input (INVALID_INPUT naming the field on failure), resolves the OS (INVALID_INPUT for an
 * unknown os_id / os_name) and builds the full variable set. The result holds no plaintext password.
 */
export function buildInstallPlan(input: InstallInput, catalogue: OsCatalogue = defaultOsCatalogue): InstallPlan {
  const parsed = installInputSchema.safeParse(input);
  if (!parsed.success) throw invalid(parsed.error);
  const { host, params, urls, callbackToken } = parsed.data;
  const { osId, os } = findOs(catalogue, { osId: parsed.data.osId, osName: parsed.data.osName });

  // hostname: the API's, else the inventory's, else "server-<id>"; a dotted name carries its domain
  const fullName = params.hostname ?? host.hostname ?? `server-${host.serverId}`;
  const [label, ...rest] = fullName.split('.');
  const domain = params.custom_domain ?? (rest.length > 0 ? rest.join('.') : host.domain ?? '');
  const fqdn = domain ? `${label}.${domain}` : label;
  if (fqdn.length > 253) throw new RackhandError('INVALID_INPUT', 'hostname with domain exceeds 253 characters', { field: 'hostname' });

  const base = trimSlash(urls.base);
  const images = trimSlash(urls.images ?? `${base}/images`);
  const mac = host.mac;
  const install = trimSlash(urls.install ?? `${base}/install/${mac.replace(/:/g, '-')}`);
  const kernelUrl = `${images}/${os.kernel}`;
  const initrdUrl = `${images}/${os.initrd}`;
  const imagesParsed = new URL(kernelUrl);
  const mirror = os.mirror ? trimSlash(os.mirror) : '';
  const mirrorParsed = mirror ? new URL(mirror) : undefined;

  const rootHash = params.root_password_hash ?? sha512Crypt(params.root_pass as string);
  const mirrorLevel = params.disk_mirror ?? 0;
  const rootGib = params.root_size ?? 0;
  const raidDisks = mirrorLevel === 10 ? ['sda', 'sdb', 'sdc', 'sdd'] : mirrorLevel === 1 ? ['sda', 'sdb'] : [];
  const uefi = params.uefi ?? false;
  const b64 = (s: string | undefined) => (s ? Buffer.from(s, 'utf8').toString('base64') : '');
  if (host.staticNetwork && !host.ip) {
    throw new RackhandError('INVALID_INPUT', `boot_via: server ${host.serverId} has no IPv4 address to configure without DHCP`, { field: 'boot_via' });
  }

  const vars: InstallVars = {
    server_id: String(host.serverId),
    install_id: parsed.data.installId ?? createHash('sha256').update(callbackToken).digest('hex').slice(0, 12),
    os_id: osId,
    os_name: os.name,
    os_family: os.family,
    hostname: label,
    domain,
    fqdn,
    mac,
    mac_hyphen: mac.replace(/:/g, '-'),
    ip: host.ip ?? '',
    netmask: host.netmask ?? '',
    gateway: host.gateway ?? '',
    dns_servers: host.dns ?? [],
    dns_primary: host.dns?.[0] ?? '',
    ip_config: host.staticNetwork ? `${host.ip}::${host.gateway ?? ''}:${host.netmask ?? '255.255.255.0'}:::off` : 'dhcp',
    base_url: base,
    images_url: images,
    install_url: install,
    kernel_url: kernelUrl,
    initrd_url: initrdUrl,
    http_server: imagesParsed.host,
    kernel_path: imagesParsed.pathname,
    initrd_path: new URL(initrdUrl).pathname,
    kernel_args: [],
    mirror_url: mirror,
    mirror_host: mirrorParsed?.host ?? '',
    mirror_path: mirrorParsed?.pathname ?? '',
    callback_url: `${trimSlash(urls.callback)}/${callbackToken}`,
    agent_url: urls.agent ? trimSlash(urls.agent) : '',
    progress_url: urls.agent ? `${trimSlash(urls.agent)}/progress` : '',
    result_url: urls.agent ? `${trimSlash(urls.agent)}/result` : '',
    callback_token: callbackToken,
    post_install_callback: params.post_install_callback ?? '',
    root_password_hash: rootHash,
    ssh_keys: params.ssh_key ?? [],
    post_install_script_b64: b64(params.post_install_script),
    cloud_init_script_b64: b64(params.cloud_init_script),
    disk_mirror: mirrorLevel > 0,
    raid_level: mirrorLevel > 0 ? String(mirrorLevel) : '',
    raid_disks: raidDisks,
    raid_disks_csv: raidDisks.join(','),
    raid_device_count: raidDisks.length,
    // partition 1 is the ESP on UEFI hosts, so the RAID member is partition 2 there
    raid_partitions: raidDisks.map((d) => `/dev/${d}${uefi ? 2 : 1}`).join('#'),
    uefi,
    use_lvm: !(params.no_lvm ?? false),
    root_size_gib: rootGib,
    root_min_mib: rootGib > 0 ? rootGib * 1024 : 8192,
    root_max_mib: rootGib > 0 ? rootGib * 1024 : -1,
    rackhand_action: ACTION_BY_FAMILY[os.family],
    wipe_mode: os.family === 'wipe' ? (params.wipe_mode ?? 'quick') : '',
  };

  vars.kernel_args = os.kernelArgs.map((token, i) => {
    const rendered = compileTemplate(token, `catalogue ${osId} kernelArgs[${i}]`).render(vars, { guard: bootGuard });
    const ok = kernelArgSchema.safeParse(rendered);
    if (!ok.success) {
      throw new RackhandError('TEMPLATE_ERROR', `catalogue ${osId} kernelArgs[${i}] is not one safe kernel argument`, {
        template: `catalogue:${osId}`,
        index: i,
      });
    }
    return rendered;
  });
  return { osId, os, vars };
}

/** The per-host boot script (iPXE, GRUB or pxelinux) that loads the OS's kernel and initrd over HTTP. */
export function renderBootScript(kind: BootScriptKind, plan: InstallPlan, templates: TemplateDir = new TemplateDir()): string {
  const name = plan.os.templates[kind];
  if (!name) {
    throw new RackhandError('NOT_FOUND', `${plan.osId} has no ${kind} template`, { osId: plan.osId, kind });
  }
  return templates.load(name).render(plan.vars, { guard: bootGuard });
}

/** The boot script for a host with nothing armed: leave the network boot and start from the local disk. */
export function renderLocalBootScript(kind: BootScriptKind, templates: TemplateDir = new TemplateDir()): string {
  const name = { ipxe: 'ipxe/local-disk.ipxe', grub: 'grub/local-disk.cfg', pxelinux: 'pxelinux/local-disk.cfg' }[kind];
  return templates.load(name).render({}, { guard: bootGuard });
}

/** A host's install config; NOT_FOUND when its OS does not install with that kind. */
export function renderInstallConfig(kind: InstallConfigKind, plan: InstallPlan, templates: TemplateDir = new TemplateDir()): string {
  const inst = plan.os.templates.install;
  let name: string | undefined;
  if (inst?.kind === 'preseed' && kind === 'preseed') name = inst.template;
  else if (inst?.kind === 'kickstart' && kind === 'kickstart') name = inst.template;
  else if (inst?.kind === 'cloud-init' && kind === 'user-data') name = inst.userData;
  else if (inst?.kind === 'cloud-init' && kind === 'meta-data') name = inst.metaData;
  if (!name) {
    throw new RackhandError('NOT_FOUND', `${plan.osId} has no ${kind} install config`, { osId: plan.osId, kind });
  }
  return templates.load(name).render(plan.vars, { guard: configGuard });
}
