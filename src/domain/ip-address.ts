// IPv4/IPv6 addresses as bigints: strict parsing, canonical text (RFC 5952 for IPv6), CIDR networks and masks.

export type IpFamily = 4 | 6;

export interface ParsedIp {
  family: IpFamily;
  value: bigint;
}

export interface Cidr {
  family: IpFamily;
  /** The network address (host bits cleared). */
  network: bigint;
  prefix: number;
}

export const BITS: Record<IpFamily, number> = { 4: 32, 6: 128 };

/** Dotted quad with no leading zeros (010 is ambiguous: octal to some resolvers), each part 0-255. */
function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseV6(s: string): bigint | undefined {
  if (s.length > 45 || s.length < 2) return undefined;
  let head = s;
  // An embedded IPv4 tail (::ffff:1.2.3.4) stands for the last two groups.
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) !== -1) {
    const v4 = parseV4(s.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    head = s.slice(0, lastColon + 1) + ((v4 >> 16n) & 0xffffn).toString(16) + ':' + (v4 & 0xffffn).toString(16);
  }
  const dbl = head.indexOf('::');
  if (dbl !== -1 && head.indexOf('::', dbl + 1) !== -1) return undefined;
  const group = /^[0-9a-fA-F]{1,4}$/;
  let groups: string[];
  if (dbl === -1) {
    groups = head.split(':');
    if (groups.length !== 8) return undefined;
  } else {
    const left = head.slice(0, dbl);
    const right = head.slice(dbl + 2);
    const l = left === '' ? [] : left.split(':');
    const r = right === '' ? [] : right.split(':');
    if (l.length + r.length > 7) return undefined;
    groups = [...l, ...Array<string>(8 - l.length - r.length).fill('0'), ...r];
  }
  let v = 0n;
  for (const g of groups) {
    if (!group.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  return v;
}

/** Parse an address; undefined when it is not exactly one IPv4 or IPv6 address (no zone, no brackets). */
export function parseIp(s: string): ParsedIp | undefined {
  if (typeof s !== 'string') return undefined;
  if (s.includes(':')) {
    const value = parseV6(s);
    return value === undefined ? undefined : { family: 6, value };
  }
  const value = parseV4(s);
  return value === undefined ? undefined : { family: 4, value };
}

export function formatIp(family: IpFamily, v: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((sh) => String((v >> sh) & 255n)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: compress the longest run (of at least two) zero groups, the first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) (bestStart = i), (bestLen = j - i);
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(':');
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':');
}

/** The canonical spelling of an address, or undefined when it does not parse. */
export function canonicalIp(s: string): string | undefined {
  const p = parseIp(s);
  return p && formatIp(p.family, p.value);
}

export function hostMask(family: IpFamily, prefix: number): bigint {
  return (1n << BigInt(BITS[family] - prefix)) - 1n;
}

/** `10.0.0.0/24`, or an address with a separate prefix length; host bits must be clear. */
export function parseCidr(s: string, prefixArg?: number): Cidr | undefined {
  let addr = s;
  let prefix = prefixArg;
  const slash = s.indexOf('/');
  if (slash !== -1) {
    addr = s.slice(0, slash);
    const p = s.slice(slash + 1);
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    if (prefixArg !== undefined && prefixArg !== Number(p)) return undefined;
    prefix = Number(p);
  }
  const ip = parseIp(addr);
  if (!ip || prefix === undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > BITS[ip.family]) return undefined;
  if ((ip.value & hostMask(ip.family, prefix)) !== 0n) return undefined;
  return { family: ip.family, network: ip.value, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.network)}/${c.prefix}`;
}

export function lastAddress(c: Cidr): bigint {
  return c.network | hostMask(c.family, c.prefix);
}

export function cidrContains(c: Cidr, family: IpFamily, v: bigint): boolean {
  return family === c.family && v >= c.network && v <= lastAddress(c);
}

/** Dotted netmask for an IPv4 prefix (DHCP option 1, install configs). */
export function netmaskOf(prefix: number): string {
  return formatIp(4, ((1n << 32n) - 1n) ^ hostMask(4, prefix));
}

/** Addresses a host may get: IPv4 drops network and broadcast below /31 (RFC 3021); IPv6 drops the subnet-router anycast. */
/** 255.255.255.0 → 24; a mask that is not contiguous ones counts its ones. */
export function netmaskToPrefix(mask: string): number {
  const p = parseIp(mask);
  if (!p || p.family !== 4) return 32;
  let n = 0;
  for (let v = p.value; v > 0n; v >>= 1n) if (v & 1n) n++;
  return n;
}

export function usableBounds(c: Cidr): { first: bigint; last: bigint } {
  const last = lastAddress(c);
  if (c.family === 4) return c.prefix >= 31 ? { first: c.network, last } : { first: c.network + 1n, last: last - 1n };
  return c.prefix >= 127 ? { first: c.network, last } : { first: c.network + 1n, last };
}

/** Ranges not routed on the internet: RFC 1918, shared (100.64/10), loopback, link-local; IPv6 ULA, link-local, loopback. */
const NON_PUBLIC: Cidr[] = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', 'fc00::/7', 'fe80::/10', '::1/128'].map(
  (c) => parseCidr(c)!,
);

/** Whether an address is private (not reachable from the internet), by its range alone. */
export function isPrivateAddress(family: IpFamily, value: bigint): boolean {
  return NON_PUBLIC.some((c) => cidrContains(c, family, value));
}
