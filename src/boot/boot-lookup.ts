// What the boot plane (DHCP, TFTP, HTTP) may ask and tell the rest of rackhand: its only doors into the inventory.

export interface HostBootInfo {
  serverId: number;
  name: string;
  mac: string; // normalised aa:bb:cc:dd:ee:ff
  hostname?: string; // option 12
  ip?: string; // reserved IPv4 (yiaddr)
  netmask?: string; // option 1
  gateway?: string; // option 3
  dns?: string[]; // option 6
  domain?: string; // option 15
  /** True when an install/diagnostics boot is armed for this host; otherwise it boots from disk. */
  netbootArmed: boolean;
}

export interface DiscoveredClient {
  mac: string;
  arch?: number; // option 93
  vendorClass?: string; // option 60
  uuid?: string; // option 97
  userClass?: string; // option 77
  relay?: string; // giaddr when relayed
  /** How many requests this record stands for (DHCP sums repeats per interval); default 1. */
  seen?: number;
}

export interface BootLookup {
  findByMac(mac: string): HostBootInfo | undefined;
  findByIp(ip: string): HostBootInfo | undefined;
  /** A MAC that asked to boot but is not in the inventory. */
  recordDiscovered(client: DiscoveredClient): void;
}

/** What the HTTP boot routes serve; each call is scoped by the host's MAC and address or a per-install token. */
export interface BootContent {
  /** The host's boot script (the local-disk one when nothing is armed). FORBIDDEN to any other address. */
  hostScript(mac: string, remoteAddress: string, kind?: 'ipxe' | 'grub'): { script: string; armed: boolean };
  /** The file of the boot ISO of the install this token belongs to (its BMC fetches it); NOT_FOUND once it is over. */
  bootIso(token: string, remoteAddress: string): string;
  /** preseed, kickstart, user-data or meta-data of the install this token belongs to (remoteAddress: for its boot history). */
  installConfig(token: string, kind: 'preseed' | 'kickstart' | 'user-data' | 'meta-data', remoteAddress?: string): string;
  /** The ramdisk agent's job; NOT_FOUND when nothing is armed for the token (the agent then powers off). */
  agentJob(token: string): { action: string; params: Record<string, unknown> };
}

/** What booted hosts report back (the installer's callback, the ramdisk agent's progress and result). */
export interface BootReports {
  report(token: string, report: { ok: boolean; code?: string; reason?: string; result?: unknown }, remoteAddress?: string): unknown;
  progress(token: string, step: { name: string; state: 'started' | 'succeeded' | 'failed' | 'note' | 'heartbeat'; message: string }): void;
}
