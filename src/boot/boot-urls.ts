// Every URL a booting host is given, defined once: the HTTP routes mount these paths, DHCP and the templates
// build links with the same functions, and the log redacts the per-install tokens they carry.

/** Route paths (Express syntax) under which rackhand serves booting hosts. */
export const BOOT_PATHS = {
  /** The host's iPXE script, served only to the address reserved for the MAC. */
  script: '/boot/ipxe/:mac',
  /** Install configs (preseed, kickstart, user-data, meta-data) of one armed install. */
  install: '/boot/install/:token/:kind',
  /** The installer's last request: single use. */
  callback: '/boot/callback/:token',
  /** The ramdisk agent's job, progress and result (see AGENT-PROTOCOL in ARCHITECTURE.md). */
  agent: '/boot/agent/:token/:what',
  /** Kernels, initrds and disk images, with Range. */
  images: '/boot/images/*path',
  /** The iPXE binaries themselves, for UEFI HTTP boot. */
  files: '/boot/files/:name',
} as const;

/** Path prefixes whose next segment is a credential (an install token): the log never shows it. */
export const TOKEN_PATH_PREFIXES = ['/boot/install/', '/boot/callback/', '/boot/agent/'] as const;

export interface BootUrls {
  base: string;
  script(mac: string): string;
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
    install: (token) => `${b}/boot/install/${token}`,
    callback: () => `${b}/boot/callback`,
    agent: (token) => `${b}/boot/agent/${token}`,
    images: `${b}/boot/images`,
    file: (name) => `${b}/boot/files/${encodeURIComponent(name)}`,
  };
}
