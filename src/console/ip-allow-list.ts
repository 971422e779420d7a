// Matching a client address against a console session's white_ip list (addresses or CIDR blocks).
import net from 'node:net';

/** `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) compares as `10.0.0.1`. */
export function normalizeAddress(address: string): string {
  const a = address.trim();
  const m = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(a);
  return m ? m[1] : a;
}

export class IpAllowList {
  private readonly list = new net.BlockList();
  /** Entries that were not an address or CIDR; they match nothing (fail closed). */
  readonly invalid: string[] = [];
  readonly size: number;

  constructor(entries: readonly string[]) {
    let ok = 0;
    for (const raw of entries) {
      if (this.add(raw)) ok++;
      else this.invalid.push(raw);
    }
    this.size = ok;
  }

  private add(raw: string): boolean {
    if (typeof raw !== 'string' || raw.length > 64) return false;
    const [addrPart, prefixPart, ...rest] = raw.trim().split('/');
    if (rest.length > 0 || addrPart === undefined) return false;
    const addr = normalizeAddress(addrPart);
    const family = net.isIP(addr);
    if (family === 0) return false;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefixPart === undefined) {
      this.list.addAddress(addr, type);
      return true;
    }
    if (!/^\d{1,3}$/.test(prefixPart)) return false;
    const prefix = Number(prefixPart);
    if (prefix > (family === 4 ? 32 : 128)) return false;
    this.list.addSubnet(addr, prefix, type);
    return true;
  }

  allows(address: string): boolean {
    const addr = normalizeAddress(address);
    const family = net.isIP(addr);
    if (family === 0) return false;
    return this.list.check(addr, family === 4 ? 'ipv4' : 'ipv6');
  }
}
