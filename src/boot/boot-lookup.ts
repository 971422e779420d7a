// What the boot plane (DHCP, TFTP, HTTP) may ask the inventory: the only door from boot/ into the store.

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
