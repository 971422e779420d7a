// The OS catalogue: what each os_id boots (kernel, initrd, arguments) and which templates render its scripts.

import { z } from 'zod';
import { RackhandError } from '../../errors.js';
import { imagePathSchema, osIdSchema, urlSchema } from './value-schemas.js';

const templateNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/, { message: 'template name must be a relative path' });

export const installTemplatesSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('preseed'), template: templateNameSchema }),
  z.object({ kind: z.literal('kickstart'), template: templateNameSchema }),
  z.object({ kind: z.literal('cloud-init'), userData: templateNameSchema, metaData: templateNameSchema }),
]);

/**
 * Installers (debian d-i, ubuntu autoinstall, rhel kickstart) boot their own kernel; the rackhand ramdisk boots for
 * image deploys (`image`), diagnostics, wipes and rescue; `linux-test` is a plain kernel + initramfs that calls back
 * (the test suite's installer; no built-in entry uses it).
 */
export const osFamilySchema = z.enum(['debian', 'ubuntu', 'rhel', 'image', 'diag', 'wipe', 'rescue', 'linux-test']);
export type OsFamily = z.infer<typeof osFamilySchema>;

export const osEntrySchema = z.object({
  /** Human name; also matched (case-insensitively) against the APIs' `os_name`. */
  name: z.string().min(1).max(128),
  family: osFamilySchema,
  /** Numeric `os_id` values central control uses for this entry (the eq API sends integers). */
  ids: z.array(z.number().int().nonnegative()).default([]),
  /**
   * The images in the store this entry boots (`rackhand images`): arming refuses with IMAGE_MISSING while one is
   * missing or damaged. An empty list is only for files placed in the images directory by hand.
   */
  images: z.array(osIdSchema).max(8),
  /** family `image`: the disk image the ramdisk writes to the chosen disk. */
  disk: osIdSchema.optional(),
  /** Kernel and initrd, relative to the images URL (the HTTP server's images directory). */
  kernel: imagePathSchema,
  initrd: imagePathSchema,
  /**
   * Extra kernel arguments, one token each. A token may use template variables (`url={{ images_url }}/x.iso`);
   * after rendering every token must still be one safe kernel argument (kernelArgSchema).
   */
  kernelArgs: z.array(z.string().min(1).max(1024)).max(64).default([]),
  /** Package mirror / install tree (preseed mirror, kickstart `url`, autoinstall apt primary). */
  mirror: urlSchema.optional(),
  templates: z.object({
    ipxe: templateNameSchema,
    grub: templateNameSchema.optional(),
    pxelinux: templateNameSchema.optional(),
    install: installTemplatesSchema.optional(),
  }),
});
export type OsEntry = z.infer<typeof osEntrySchema>;
export type OsEntryInput = z.input<typeof osEntrySchema>;

export const osCatalogueSchema = z
  .record(osIdSchema, osEntrySchema)
  .superRefine((cat, ctx) => {
    const seen = new Map<number, string>();
    for (const [id, e] of Object.entries(cat)) {
      for (const n of e.ids) {
        const other = seen.get(n);
        if (other) ctx.addIssue({ code: 'custom', message: `numeric os id ${n} used by both ${other} and ${id}`, path: [id, 'ids'] });
        seen.set(n, id);
      }
    }
  });
export type OsCatalogue = z.infer<typeof osCatalogueSchema>;

const agentTemplates = {
  ipxe: 'ipxe/rackhand-agent.ipxe',
  grub: 'grub/rackhand-agent.cfg',
  pxelinux: 'pxelinux/rackhand-agent.cfg',
};

/** The rackhand ramdisk as `rackhand images build` stores it (src/images/image-import.ts RAMDISK_IMAGE). */
const ramdisk = {
  images: ['rackhand-ramdisk'],
  kernel: 'rackhand-ramdisk/vmlinuz',
  initrd: 'rackhand-ramdisk/initramfs.cpio.gz',
  kernelArgs: ['console=tty0', 'console=ttyS0,115200n8'],
  templates: agentTemplates,
};

/**
 * Built-in catalogue; a site's config may replace or extend it (parse it with osCatalogueSchema), and disk images
 * imported with an os id become entries of family `image`. Installers need their netboot files imported
 * (`rackhand images import debian-12-netboot --debian-installer`); the others need `rackhand images build`.
 */
export const defaultOsCatalogue: OsCatalogue = osCatalogueSchema.parse({
  'debian-12': {
    name: 'Debian 12 (bookworm)',
    family: 'debian',
    ids: [1],
    images: ['debian-12-netboot'],
    kernel: 'debian-12-netboot/linux',
    initrd: 'debian-12-netboot/initrd.gz',
    kernelArgs: ['console=tty0', 'console=ttyS0,115200n8'],
    mirror: 'http://deb.debian.org/debian',
    templates: {
      ipxe: 'ipxe/debian.ipxe',
      grub: 'grub/debian.cfg',
      pxelinux: 'pxelinux/debian.cfg',
      install: { kind: 'preseed', template: 'install/debian.preseed' },
    },
  },
  'ubuntu-24.04': {
    name: 'Ubuntu 24.04 LTS',
    family: 'ubuntu',
    ids: [2],
    images: ['ubuntu-24.04-netboot'],
    kernel: 'ubuntu-24.04-netboot/vmlinuz',
    initrd: 'ubuntu-24.04-netboot/initrd',
    kernelArgs: ['ip=dhcp', 'url={{ images_url }}/ubuntu-24.04-netboot/ubuntu-24.04-live-server-amd64.iso', 'console=ttyS0,115200n8'],
    mirror: 'http://archive.ubuntu.com/ubuntu',
    templates: {
      ipxe: 'ipxe/ubuntu.ipxe',
      grub: 'grub/ubuntu.cfg',
      pxelinux: 'pxelinux/ubuntu.cfg',
      install: { kind: 'cloud-init', userData: 'install/ubuntu.user-data', metaData: 'install/meta-data' },
    },
  },
  'rocky-9': {
    name: 'Rocky Linux 9',
    family: 'rhel',
    ids: [3],
    images: ['rocky-9-netboot'],
    kernel: 'rocky-9-netboot/vmlinuz',
    initrd: 'rocky-9-netboot/initrd.img',
    kernelArgs: ['inst.repo={{ mirror_url }}', 'console=ttyS0,115200n8'],
    mirror: 'http://dl.rockylinux.org/pub/rocky/9/BaseOS/x86_64/os',
    templates: {
      ipxe: 'ipxe/rhel.ipxe',
      grub: 'grub/rhel.cfg',
      pxelinux: 'pxelinux/rhel.cfg',
      install: { kind: 'kickstart', template: 'install/rhel.ks' },
    },
  },
  diagnostics: { name: 'Hardware diagnostics', family: 'diag', ids: [901], ...ramdisk },
  'disk-wipe': { name: 'Disk wipe', family: 'wipe', ids: [902], ...ramdisk },
  rescue: { name: 'Rescue system', family: 'rescue', ids: [903], ...ramdisk },
});

/** An entry of family `image` for a disk image imported with an os id: the ramdisk writes it to a disk. */
export function diskImageEntry(image: string, os: { ids: number[]; name: string }): OsEntryInput {
  return { name: os.name, family: 'image', ids: os.ids, disk: image, ...ramdisk, images: [...ramdisk.images, image] };
}

/**
 * The entry for an API's os_id (catalogue key, numeric id or its decimal string) or, failing that, os_name.
 * Unknown → INVALID_INPUT naming the field.
 */
export function findOs(
  catalogue: OsCatalogue,
  ref: { osId?: string | number; osName?: string },
): { osId: string; os: OsEntry } {
  const { osId, osName } = ref;
  if (osId !== undefined && osId !== '') {
    const key = String(osId);
    if (Object.prototype.hasOwnProperty.call(catalogue, key)) return { osId: key, os: catalogue[key] };
    if (/^\d{1,10}$/.test(key)) {
      const n = Number(key);
      for (const [id, os] of Object.entries(catalogue)) if (os.ids.includes(n)) return { osId: id, os };
    }
  }
  if (osName !== undefined && osName !== '') {
    const want = osName.trim().toLowerCase();
    for (const [id, os] of Object.entries(catalogue)) {
      if (os.name.toLowerCase() === want || id === want) return { osId: id, os };
    }
  }
  const field = osId !== undefined && osId !== '' ? 'os_id' : 'os_name';
  throw new RackhandError('INVALID_INPUT', `unknown operating system ${JSON.stringify(String(osId ?? osName ?? '')).slice(0, 80)}`, { field });
}
