// Which boot file a PXE/iPXE client gets, from its architecture (option 93) and user-class (option 77).

import type { DhcpOptions } from './dhcp-codec.js';

export interface BootFiles {
  bios: string; // arch 0: e.g. undionly.kpxe
  uefiX64: string; // arch 7/9: e.g. ipxe.efi
  arm64?: string; // arch 11: e.g. snp.efi, only when configured
}

/** RFC 4578 §2.1 processor architecture types this server knows. */
export const ClientArch = {
  BIOS: 0,
  EFI_IA32: 6,
  EFI_BC: 7,
  EFI_X86_64: 9,
  EFI_ARM64: 11,
} as const;

export type BootChoice =
  | { kind: 'tftp'; file: string; arch: number }
  | { kind: 'script'; url: string; arch: number }
  | { kind: 'none'; reason: string; arch: number };

export function isIpxeClient(o: DhcpOptions): boolean {
  return (o.userClass ?? []).some((c) => c === 'iPXE');
}

export function isPxeClient(o: DhcpOptions): boolean {
  return (o.vendorClass ?? '').startsWith('PXEClient');
}

/** A client without option 93 is treated as BIOS (old PXE 2.0 ROMs do not send it). */
export function chooseBootFile(o: DhcpOptions, files: BootFiles, scriptUrl: () => string): BootChoice {
  const arch = o.clientArch?.[0] ?? ClientArch.BIOS;
  // iPXE already runs: hand it the script, whatever the architecture (else it would chainload itself forever).
  if (isIpxeClient(o)) return { kind: 'script', url: scriptUrl(), arch };
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
