// The inventory's input schema (API, bulk import, CLI) and the domain record the rest of rackhand reads.
import { z } from 'zod';

export const SERVER_STATUSES = ['free', 'rent', 'reserved', 'deploying', 'maintenance', 'broken', 'suspended'] as const;
export const BMC_DRIVERS = ['ipmi', 'ipmitool', 'redfish', 'simulated'] as const;
export type BmcDriverName = (typeof BMC_DRIVERS)[number];

/**
 * What a driver can do beyond the operations every BMC has: requests that need virtual media or UEFI HTTP boot are
 * refused at once on a server whose driver cannot (the driver contract suite checks each line against the driver).
 */
export const BMC_DRIVER_FEATURES: Readonly<Record<BmcDriverName, { virtualMedia: boolean; uefiHttpBoot: boolean }>> = {
  ipmi: { virtualMedia: false, uefiHttpBoot: false },
  ipmitool: { virtualMedia: false, uefiHttpBoot: false },
  redfish: { virtualMedia: true, uefiHttpBoot: true },
  simulated: { virtualMedia: true, uefiHttpBoot: true },
};

/** How a deploy boots the host: network boot, the host's boot ISO as virtual media, or UEFI HTTP boot. */
export const BOOT_VIA = ['pxe', 'virtual_media', 'http'] as const;
export type BootVia = (typeof BOOT_VIA)[number];

/** The BMC port when the inventory gives none: IPMI's UDP 623, Redfish's HTTPS 443 (HTTP 80). */
export function defaultBmcPort(driver: BmcDriverName, scheme: 'https' | 'http' = 'https'): number {
  return driver === 'redfish' ? (scheme === 'http' ? 80 : 443) : 623;
}

const text = (max = 255) => z.string().max(max).regex(/^[^\x00-\x1f\x7f]*$/, 'control characters are not allowed');

/** aa:bb:cc:dd:ee:ff from any common spelling (aa-bb-…, aabb.ccdd.eeff, upper case). */
export function normaliseMac(input: string): string | undefined {
  const hex = input.trim().toLowerCase().replace(/[:\-.]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}

export const macSchema = z.string().transform((v, ctx) => {
  const mac = normaliseMac(v);
  if (!mac) {
    ctx.addIssue({ code: 'custom', message: 'not a MAC address' });
    return z.NEVER;
  }
  return mac;
});

export const hostSchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^([0-9a-zA-Z.\-]+|\[?[0-9a-fA-F:]+\]?)$/, 'not a host name or address');

export const ipSchema = z.union([z.ipv4(), z.ipv6()]);

export const interfaceInputSchema = z
  .object({
    name: text(64).min(1).default('eth0'),
    mac: macSchema,
    ip: ipSchema.optional(),
    switch: text(128).optional(),
    switch_port: text(64).optional(),
  })
  .strict();

export const bmcInputSchema = z
  .object({
    driver: z.enum(BMC_DRIVERS).default('ipmi'),
    host: hostSchema,
    /** Default: 623 (IPMI), 443 for redfish (80 over http). */
    port: z.number().int().min(1).max(65535).optional(),
    username: text(32).min(1),
    /** Write-only: stored encrypted, never returned. Omit on update to keep the stored one. */
    password: z.string().max(64).optional(),
    model: text(128).default(''),
    mac: macSchema.optional(),
    cipher_suite: z.union([z.literal(3), z.literal(17)]).default(3),
    privilege: z.enum(['user', 'operator', 'administrator']).default('administrator'),
    /** Redfish: https (certificate pinned on first use) or http. */
    scheme: z.enum(['https', 'http']).default('https'),
    /** Redfish: old firmware that speaks only TLS 1.0/1.1 or has weak keys; accepted for this BMC only. */
    legacy_tls: z.boolean().default(false),
  })
  .strict();

export const consoleInputSchema = z
  .object({
    type: z.literal('vnc').default('vnc'),
    host: hostSchema,
    port: z.number().int().min(1).max(65535).default(5900),
    /** Write-only, like the BMC password. */
    password: z.string().max(64).optional(),
  })
  .strict();

export const serverInputSchema = z
  .object({
    id: z.number().int().positive().max(2 ** 53 - 1),
    name: text(253).min(1),
    status: z.enum(SERVER_STATUSES).default('free'),
    type: text(64).default('Server'),
    location: text(128).default(''),
    location_id: z.number().int().nonnegative().optional(),
    datacenter: text(128).default(''),
    rack: text(64).default(''),
    rack_position: z.number().int().nonnegative().optional(),
    configuration: text(255).default(''),
    preset: text(128).default(''),
    os: z.object({ id: z.number().int().nonnegative(), name: text(128).default('') }).strict().optional(),
    owner_id: z.number().int().positive().nullable().optional(),
    tags: z.array(z.object({ tag: text(64).min(1), value: text(255) }).strict()).max(100).default([]),
    groups: z.array(z.object({ id: z.number().int(), name: text(128) }).strict()).max(100).default([]),
    hardware: z.array(z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]))).max(200).default([]),
    interfaces: z.array(interfaceInputSchema).max(32).default([]),
    bmc: bmcInputSchema.optional(),
    console: consoleInputSchema.optional(),
    /** How deploys boot this host unless a request says otherwise: virtual_media and http need a Redfish BMC. */
    boot_via: z.enum(BOOT_VIA).default('pxe'),
    /** Billing facts central keeps here for eq update_servers (the seed's billing_servers). */
    recurring: z.number().nonnegative().max(1e12).nullable().optional(),
    nextduedate: z.iso.date().nullable().optional(),
    billingcycle: text(32).nullable().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const seen = new Set<string>();
    s.interfaces.forEach((i, n) => {
      if (seen.has(i.mac)) ctx.addIssue({ code: 'custom', path: ['interfaces', n, 'mac'], message: 'duplicate MAC' });
      seen.add(i.mac);
    });
  });

export type ServerInput = z.infer<typeof serverInputSchema>;
export type ServerStatus = (typeof SERVER_STATUSES)[number];

export interface ServerInterface {
  id: number;
  name: string;
  mac: string;
  ip: string | null;
  switch: string | null;
  switchPort: string | null;
}

export type LastPower = 'on' | 'off' | 'unknown';

/** A server as the rest of rackhand sees it. Secrets appear only as "set or not". */
export interface ServerRecord {
  id: number;
  name: string;
  status: ServerStatus;
  type: string;
  location: string;
  locationId: number | null;
  datacenter: string;
  rack: string;
  rackPosition: number | null;
  configuration: string;
  preset: string;
  os: { id: number; name: string } | null;
  ownerId: number | null;
  tags: { tag: string; value: string }[];
  groups: { id: number; name: string }[];
  hardware: Record<string, string | number | boolean>[];
  interfaces: ServerInterface[];
  bmc: {
    driver: BmcDriverName;
    host: string;
    port: number;
    username: string;
    passwordSet: boolean;
    model: string;
    mac: string | null;
    cipherSuite: number;
    privilege: 'user' | 'operator' | 'administrator';
    scheme: 'https' | 'http';
    legacyTls: boolean;
  } | null;
  console: { type: 'vnc'; host: string; port: number; passwordSet: boolean } | null;
  bootVia: BootVia;
  /** bmcError: the code of the last failed BMC call (BMC_AUTH_FAILED, BMC_UNREACHABLE…), null once one succeeds. */
  power: { state: LastPower; readAt: string | null; bmcReachable: boolean | null; bmcError: string | null };
  /** Switch ports down (DCImanager suspend); survives restarts. */
  suspended: boolean;
  /** What central's billing keeps here (eq update_servers); null when not given. */
  billing: { recurring: number | null; nextDueDate: string | null; billingCycle: string | null };
  createdAt: string;
  updatedAt: string;
}

export interface ServerFilter {
  id?: number;
  location?: string; // a location id (digits) or name
  type?: string;
  group?: string; // group id or name
  status?: string;
  ip?: string;
  ownerId?: number; // clients see only their own
  owned?: boolean; // only servers that have an owner (update_servers for a token without one)
  search?: string; // name, rack, MAC, IP substring (the tech page)
  limit?: number;
  offset?: number;
}
