// Every URL a booting host is given, defined once: the HTTP routes mount these paths, DHCP and the templates
// build links with the same functions, and the log redacts the per-install tokens they carry.

/** Route paths (Express syntax) under which rackhand serves booting hosts. */
export const BOOT_PATHS = {
  /** The host's iPXE script, served only to the address reserved for the MAC. */
  script: '/boot/ipxe/:mac',
  /** The host's GRUB config (the boot ISO's UEFI path loads it over GRUB's HTTP), served as the iPXE script is. */
  grub: '/boot/grub/:mac',
  /** The host's boot ISO (virtual media), named by the armed install's token: what its BMC fetches. */
  iso: '/boot/iso/:file',
  /** Install configs (preseed, kickstart, user-data, meta-data) of one armed install. */
  install: '/boot/install/:token/:kind',
  /** The installer's last request: single use. */
  callback: '/boot/callback/:token',
  /** The ramdisk agent's job, progress and result (see ramdisk/PROTOCOL.md). */
  agent: '/boot/agent/:token/:what',
  /** Kernels, initrds and disk images, with Range. */
  images: '/boot/images/*path',
  /** The iPXE binaries themselves, for UEFI HTTP boot. */
  files: '/boot/files/:name',
} as const;

/** Path prefixes whose next segment is a credential (an install token): the log never shows it. */
export const TOKEN_PATH_PREFIXES = ['/boot/install/', '/boot/callback/', '/boot/agent/', '/boot/iso/'] as const;

export interface BootUrls {
  base: string;
  script(mac: string): string;
  grub(mac: string): string;
  iso(token: string): string;
  install(token: string): string;
  callback(): string;
  agent(token: string): string;
  images: string;
  file(name: string): string;
}

/** Links for booting hosts from rackhand's HTTP base as they reach it (e.g. http://10.0.0.1:8080). */
export function bootUrls(base: string): BootUrls {
  const b = base.replace(/\/+$/, '');
  return {
    base: b,
    script: (mac) => `${b}/boot/ipxe/${mac}`,
    grub: (mac) => `${b}/boot/grub/${mac}`,
    iso: (token) => `${b}/boot/iso/${token}.iso`,
    install: (token) => `${b}/boot/install/${token}`,
    callback: () => `${b}/boot/callback`,
    agent: (token) => `${b}/boot/agent/${token}`,
    images: `${b}/boot/images`,
    file: (name) => `${b}/boot/files/${encodeURIComponent(name)}`,
  };
}
