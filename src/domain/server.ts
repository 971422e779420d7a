// The inventory's input schema (API, bulk import, CLI) and the domain record the rest of rackhand reads.
import { z } from 'zod';

export const SERVER_STATUSES = ['free', 'rent', 'reserved', 'deploying', 'maintenance', 'broken', 'suspended'] as const;
export const BMC_DRIVERS = ['ipmi', 'ipmitool', 'simulated'] as const;

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
    port: z.number().int().min(1).max(65535).default(623),
    username: text(32).min(1),
    /** Write-only: stored encrypted, never returned. Omit on update to keep the stored one. */
    password: z.string().max(64).optional(),
    model: text(128).default(''),
    mac: macSchema.optional(),
    cipher_suite: z.union([z.literal(3), z.literal(17)]).default(3),
    privilege: z.enum(['user', 'operator', 'administrator']).default('administrator'),
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
    driver: (typeof BMC_DRIVERS)[number];
    host: string;
    port: number;
    username: string;
    passwordSet: boolean;
    model: string;
    mac: string | null;
    cipherSuite: number;
    privilege: 'user' | 'operator' | 'administrator';
  } | null;
  console: { type: 'vnc'; host: string; port: number; passwordSet: boolean } | null;
  power: { state: LastPower; readAt: string | null; bmcReachable: boolean | null };
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
