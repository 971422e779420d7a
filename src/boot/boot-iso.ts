// The per-host boot ISO for virtual-media boot: a hybrid BIOS/UEFI GRUB image (grub-mkrescue) that brings the host's
// NIC up with static values (no DHCP, no TFTP) and hands over to the host's HTTP boot: on BIOS, iPXE (ipxe.lkrn, the
// script as its initrd) chains the host's iPXE script; on UEFI, GRUB's own HTTP client loads the host's GRUB config
// (Debian's ipxe.efi predates autoexec.ipxe, so it cannot be given a script).
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { RackhandError } from '../errors.js';
import { bootUrlSchema, ipv4Schema, macSchema } from './templates/value-schemas.js';

/** Neither Debian's iPXE (2019, no HTTPS) nor GRUB 2.06 speak TLS. */
const plainHttpUrl = bootUrlSchema.refine((u) => u.startsWith('http://'), { message: 'must be an http:// URL (the boot ISO has no TLS client)' });

const ipNumber = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const ipString = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');

export const bootIsoSpecSchema = z
  .object({
    /** The NIC to bring up, found by its MAC. */
    mac: macSchema,
    ip: ipv4Schema,
    prefix: z.number().int().min(1).max(31),
    gateway: ipv4Schema.optional(),
    dns: z.array(ipv4Schema).max(3).default([]),
    /** BIOS: the host's iPXE script (rackhand's /boot/ipxe/<mac>). */
    ipxeScriptUrl: plainHttpUrl,
    /** UEFI: the host's GRUB config. */
    grubConfigUrl: plainHttpUrl,
  })
  .refine((s) => !s.gateway || subnetOf(s.gateway, s.prefix) === subnetOf(s.ip, s.prefix), { message: 'gateway must be inside the host subnet', path: ['gateway'] });

export type BootIsoSpec = z.input<typeof bootIsoSpecSchema>;

function subnetOf(ip: string, prefix: number): number {
  return Math.floor(ipNumber(ip) / 2 ** (32 - prefix));
}

function netmaskOf(prefix: number): string {
  return ipString(2 ** 32 - 2 ** (32 - prefix));
}

export interface BootIsoTools {
  /** grub-common; needs grub-pc-bin, grub-efi-amd64-bin, xorriso and mtools. */
  grubMkrescue: string;
  /** Debian's ipxe package. */
  ipxeLkrn: string;
}

export const DEBIAN_BOOT_ISO_TOOLS: BootIsoTools = { grubMkrescue: 'grub-mkrescue', ipxeLkrn: '/usr/lib/ipxe/ipxe.lkrn' };

/** The two scripts on the ISO: iPXE's (BIOS) and GRUB's grub.cfg (both platforms; UEFI does the network itself). */
export function bootIsoScripts(input: BootIsoSpec): { ipxe: string; grubCfg: string } {
  const s = parseSpec(input);
  const mask = netmaskOf(s.prefix);
  const network = `${ipString(subnetOf(s.ip, s.prefix) * 2 ** (32 - s.prefix))}/${s.prefix}`;
  const ipxe = [
    '#!ipxe',
    `# rackhand boot ISO for ${s.mac}: static network, then the host's own boot script`,
    `echo rackhand: boot ISO for ${s.mac}`,
    // The NIC with the host's MAC (unrolled: no loops in this iPXE).
    ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => `iseq \${net${i}/mac} ${s.mac} && set rhnic net${i} ||`),
    'isset ${rhnic} || goto nonic',
    `set \${rhnic}/ip ${s.ip}`,
    `set \${rhnic}/netmask ${mask}`,
    ...(s.gateway ? [`set \${rhnic}/gateway ${s.gateway}`] : []),
    ...(s.dns.length ? [`set dns ${s.dns[0]}`] : []),
    'ifopen ${rhnic} || goto fail',
    `echo rackhand: \${rhnic} ${s.ip}/${s.prefix}, loading ${s.ipxeScriptUrl}`,
    'set tries:int32 0',
    ':chain',
    `chain --autofree ${s.ipxeScriptUrl} ||`,
    'inc tries',
    'iseq ${tries} 60 && goto fail ||',
    'echo rackhand: the boot script did not load; trying again in 5 s',
    'sleep 5',
    'goto chain',
    ':nonic',
    `echo rackhand: no network card with MAC ${s.mac}`,
    ':fail',
    'echo rackhand: giving up; rebooting in 30 s',
    'sleep 30',
    'reboot',
    '',
  ].join('\n');
  const url = new URL(s.grubConfigUrl);
  const grubCfg = [
    `# rackhand boot ISO for ${s.mac}`,
    'set timeout=0',
    'serial --unit=0 --speed=115200',
    'terminal_input console serial',
    'terminal_output console serial',
    `echo "rackhand: boot ISO for ${s.mac} ($grub_platform)"`,
    'if [ "$grub_platform" = "pc" ]; then',
    '  linux16 /ipxe.lkrn',
    '  initrd16 /rackhand/host.ipxe',
    '  boot',
    'fi',
    'insmod efinet',
    'insmod http',
    // The card with the host's MAC: GRUB names its MAC once an address is on it.
    'for card in efinet0 efinet1 efinet2 efinet3 efinet4 efinet5 efinet6 efinet7; do',
    '  if net_add_addr rhprobe $card 0.0.0.0; then',
    `    if [ "$net_rhprobe_mac" = "${s.mac}" ]; then set rhcard=$card; fi`,
    '    net_del_addr rhprobe',
    '  fi',
    'done',
    'if [ -z "$rhcard" ]; then',
    `  echo "rackhand: no network card with MAC ${s.mac}; rebooting in 30 s"`,
    '  sleep 30',
    '  reboot',
    'fi',
    `net_add_addr rh $rhcard ${s.ip}`,
    `net_add_route rhlan ${network} rh`,
    ...(s.gateway ? [`net_add_route rhgw 0.0.0.0/0 gw ${s.gateway}`] : []),
    ...s.dns.map((d) => `net_add_dns ${d}`),
    `echo "rackhand: $rhcard ${s.ip}/${s.prefix}, loading ${s.grubConfigUrl}"`,
    `configfile (http,${url.host})${url.pathname}`,
    'echo "rackhand: the boot config did not load; rebooting in 30 s"',
    'sleep 30',
    'reboot',
    '',
  ].join('\n');
  return { ipxe, grubCfg };
}

function parseSpec(input: BootIsoSpec): z.output<typeof bootIsoSpecSchema> {
  const r = bootIsoSpecSchema.safeParse(input);
  if (!r.success) {
    const i = r.error.issues[0]!;
    const field = i.path.join('.');
    throw new RackhandError('INVALID_INPUT', `boot ISO ${field || 'spec'}: ${i.message}`, { field });
  }
  return r.data;
}

/**
 * Writes the host's boot ISO to `outFile` (a temporary name next to it, then renamed: a reader never sees half an
 * image). Bad values are INVALID_INPUT; missing tools or a failed build are BOOT_ERROR naming the Debian packages.
 */
export async function buildBootIso(spec: BootIsoSpec, outFile: string, opts: { tools?: BootIsoTools; signal?: AbortSignal } = {}): Promise<{ bytes: number }> {
  const tools = opts.tools ?? DEBIAN_BOOT_ISO_TOOLS;
  const { ipxe, grubCfg } = bootIsoScripts(spec);
  const staging = await mkdtemp(join(tmpdir(), 'rackhand-iso-'));
  const partial = `${outFile}.partial-${process.pid}`;
  try {
    await mkdir(join(staging, 'boot', 'grub'), { recursive: true });
    await mkdir(join(staging, 'rackhand'));
    await copyFile(tools.ipxeLkrn, join(staging, 'ipxe.lkrn')).catch((e: NodeJS.ErrnoException) => {
      throw new RackhandError('BOOT_ERROR', `cannot build a boot ISO: ${tools.ipxeLkrn} is missing (${e.code}); install the Debian package ipxe`);
    });
    await writeFile(join(staging, 'rackhand', 'host.ipxe'), ipxe);
    await writeFile(join(staging, 'boot', 'grub', 'grub.cfg'), grubCfg);
    await mkdir(dirname(outFile), { recursive: true });
    await run(tools.grubMkrescue, ['--fonts=', '--locales=', '--themes=', '-o', partial, staging, '--', '-volid', 'RACKHAND_BOOT'], opts.signal);
    await rename(partial, outFile);
    return { bytes: (await stat(outFile)).size };
  } finally {
    await rm(staging, { recursive: true, force: true });
    await rm(partial, { force: true });
  }
}

function run(cmd: string, args: string[], signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 120_000, signal, maxBuffer: 4 << 20 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      if (signal?.aborted) return reject(signal.reason);
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      const why = missing ? `${cmd} not found` : String(stderr).trim().split('\n').slice(-2).join(' ') || err.message;
      reject(new RackhandError('BOOT_ERROR', `cannot build a boot ISO: ${why}; it needs the Debian packages grub-common grub-pc-bin grub-efi-amd64-bin xorriso mtools`));
    });
  });
}
