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
  hostScript(mac: string, remoteAddress: string): { script: string; armed: boolean };
  /** preseed, kickstart, user-data or meta-data of the install this token belongs to (remoteAddress: for its boot history). */
  installConfig(token: string, kind: 'preseed' | 'kickstart' | 'user-data' | 'meta-data', remoteAddress?: string): string;
}

/** What booted hosts report back (the installer's callback, the ramdisk agent's progress). */
export interface BootReports {
  report(token: string, report: { ok: boolean; code?: string; reason?: string }, remoteAddress?: string): unknown;
  progress(token: string, step: { name: string; state: 'started' | 'succeeded' | 'failed' | 'note'; message: string }): void;
}

/**
 * What the boot plane did for a host, one exchange at a time: its boot history ("why is this host PXE-looping?").
 * DHCP: offer, ack, nak, ignored (the detail says why), release, decline, discovered (a MAC not in the inventory).
 * TFTP: read, aborted (the client ended it, as firmware's size probe does), failed, refused. HTTP boot: the host's
 * script served (armed, or the local-disk one and why) or refused, an install config fetched or refused, the
 * installer's report (ok or failed) or a report refused.
 */
export type BootEventKind =
  | 'dhcp-offer'
  | 'dhcp-ack'
  | 'dhcp-nak'
  | 'dhcp-ignored'
  | 'dhcp-release'
  | 'dhcp-decline'
  | 'dhcp-discovered'
  | 'tftp-read'
  | 'tftp-aborted'
  | 'tftp-failed'
  | 'tftp-refused'
  | 'http-script'
  | 'http-script-refused'
  | 'http-config'
  | 'http-config-refused'
  | 'installer-report'
  | 'installer-report-refused';

export interface BootEvent {
  /** Epoch milliseconds. */
  at: number;
  kind: BootEventKind;
  /** The host's MAC when the protocol carries it (DHCP, the script's URL); TFTP sees only addresses. */
  mac?: string;
  /** The client's address (DHCP: the address offered or in use, 0.0.0.0 when none). */
  ip: string;
  /** One line for a person: what was asked and what was answered. Never a token or a password. */
  detail: string;
  /** The server, when the reporter knows it (HTTP boot); otherwise found by MAC, then by address. */
  serverId?: number;
}

/**
 * Called synchronously from the boot servers' handlers, once per exchange (never per TFTP block). It only queues:
 * the history is written in batches.
 */
export type BootEventSink = (e: BootEvent) => void;
