// Which boot file a PXE, UEFI HTTP or iPXE client gets, from its architecture (option 93), vendor class (60) and user-class (77).

import type { DhcpOptions } from './dhcp-codec.js';

export interface BootFiles {
  bios: string; // arch 0: e.g. undionly.kpxe
  uefiX64: string; // arch 7/9: e.g. ipxe.efi
  arm64?: string; // arch 11: e.g. snp.efi, only when configured
}

/** RFC 4578 §2.1 processor architecture types (IANA registry) this server knows. */
export const ClientArch = {
  BIOS: 0,
  EFI_IA32: 6,
  EFI_BC: 7,
  EFI_X86_64: 9,
  EFI_ARM64: 11,
  /** UEFI HTTP boot (UEFI 2.5 section 24.7), which sends vendor class HTTPClient. */
  EFI_X86_64_HTTP: 16,
  EFI_ARM64_HTTP: 19,
} as const;

export type BootChoice =
  | { kind: 'tftp'; file: string; arch: number }
  | { kind: 'http'; url: string; arch: number }
  | { kind: 'script'; url: string; arch: number }
  | { kind: 'none'; reason: string; arch: number };

export function isIpxeClient(o: DhcpOptions): boolean {
  return (o.userClass ?? []).some((c) => c === 'iPXE');
}

export function isPxeClient(o: DhcpOptions): boolean {
  return (o.vendorClass ?? '').startsWith('PXEClient');
}

/** UEFI firmware asking to boot over HTTP: it wants a URL (and option 60 HTTPClient back), never TFTP. */
export function isHttpClient(o: DhcpOptions): boolean {
  return (o.vendorClass ?? '').startsWith('HTTPClient');
}

/**
 * A client without option 93 is treated as BIOS (old PXE 2.0 ROMs do not send it). `fileUrl` gives the
 * HTTP URL of a boot file for UEFI HTTP clients; without it they get nothing.
 */
export function chooseBootFile(o: DhcpOptions, files: BootFiles, scriptUrl: () => string, fileUrl?: (file: string) => string): BootChoice {
  const arch = o.clientArch?.[0] ?? ClientArch.BIOS;
  // iPXE already runs: hand it the script, whatever the architecture (else it would chainload itself forever).
  if (isIpxeClient(o)) return { kind: 'script', url: scriptUrl(), arch };
  if (isHttpClient(o)) {
    if (!fileUrl) return { kind: 'none', reason: 'UEFI HTTP boot client but no boot file URL configured', arch };
    if (arch === ClientArch.EFI_X86_64_HTTP) return { kind: 'http', url: fileUrl(files.uefiX64), arch };
    if (arch === ClientArch.EFI_ARM64_HTTP && files.arm64) return { kind: 'http', url: fileUrl(files.arm64), arch };
    return { kind: 'none', reason: `no boot file for UEFI HTTP client architecture ${arch}`, arch };
  }
  switch (arch) {
    case ClientArch.BIOS:
      return { kind: 'tftp', file: files.bios, arch };
    case ClientArch.EFI_BC:
    case ClientArch.EFI_X86_64:
      return { kind: 'tftp', file: files.uefiX64, arch };
    case ClientArch.EFI_ARM64:
      return files.arm64
        ? { kind: 'tftp', file: files.arm64, arch }
        : { kind: 'none', reason: 'arm64 client but no arm64 boot file configured', arch };
    default:
      return { kind: 'none', reason: `unsupported client architecture ${arch}`, arch };
  }
}
