// Configuration: embedded defaults, an optional YAML file, RACKHAND_* environment overrides, validated at start.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const listen = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[0-9.]+|localhost):\d{1,5}$/, 'host:port');

export const configSchema = z
  .object({
    stateDir: z.string().min(1).default('./var'),
    site: z.object({ name: z.string().min(1).default('site-1') }).strict().prefault({}),
    http: z
      .object({
        listen: listen.default('127.0.0.1:8080'),
        /** URL central control and browsers use to reach this daemon; derived from listen when empty. */
        publicUrl: z.string().url().optional(),
        bodyLimitBytes: z.number().int().positive().default(1024 * 1024),
        importBodyLimitBytes: z.number().int().positive().default(64 * 1024 * 1024),
      })
      .strict()
      .prefault({}),
    secrets: z
      .object({ keyFile: z.string().min(1).optional() })
      .strict()
      .prefault({}),
    log: z
      .object({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
      .strict()
      .prefault({}),
    bmc: z
      .object({
        powerPollMs: z.number().int().min(50).default(1000),
        powerTimeoutMs: z.number().int().min(1000).default(60_000),
        softOffTimeoutMs: z.number().int().min(1000).default(300_000),
        bmcResetTimeoutMs: z.number().int().min(1000).default(180_000),
        /** How long `eq sensors` waits for the read before answering BMC_TIMEOUT with the task id. */
        sensorsWaitMs: z.number().int().min(100).default(30_000),
        sync: z
          .object({
            enabled: z.boolean().default(true),
            intervalMs: z.number().int().min(1000).default(60_000),
            jitter: z.number().min(0).max(0.9).default(0.2),
            concurrency: z.number().int().min(1).max(10_000).default(64),
          })
          .strict()
          .prefault({}),
        ipmitoolPath: z.string().min(1).default('ipmitool'),
        /** Per-BMC scheduling: see src/bmc/bmc-scheduler.ts for each setting's meaning. */
        scheduler: z
          .object({
            maxParallel: z.number().int().min(1).max(10_000).optional(),
            minSpacingMs: z.number().int().min(0).optional(),
            operationTimeoutMs: z.number().int().min(100).optional(),
            busyRetries: z.number().int().min(0).max(20).optional(),
            busyBackoffMs: z.number().int().min(0).optional(),
            busyBackoffMaxMs: z.number().int().min(0).optional(),
            breakerThreshold: z.number().int().min(1).optional(),
            breakerCooldownMs: z.number().int().min(0).optional(),
          })
          .strict()
          .prefault({}),
        /** Latency of the in-process `simulated` driver (demo and tests). */
        simulatedDelayMs: z.number().int().min(0).default(50),
      })
      .strict()
      .prefault({}),
    console: z
      .object({
        ticketTtlMs: z.number().int().min(1000).default(60_000),
        sessionTtlMs: z.number().int().min(10_000).default(4 * 3600_000),
        /** Origins (scheme://host[:port]) besides rackhand's own that may open consoles, e.g. the control panel. */
        allowedOrigins: z.array(z.string().url()).default([]),
        connectTimeoutMs: z.number().int().min(100).default(5000),
        handshakeTimeoutMs: z.number().int().min(100).default(5000),
        idleTimeoutMs: z.number().int().min(1000).default(30 * 60_000),
        maxConnectionsPerServer: z.number().int().min(1).default(4),
        maxConnectionsTotal: z.number().int().min(1).default(200),
      })
      .strict()
      .prefault({}),
    boot: z
      .object({
        /** rackhand's address on the hosts' network: DHCP next-server / option 54, TFTP, boot URLs. */
        serverIp: z.ipv4().optional(),
        /** Base URL booting hosts fetch scripts and images from; default http://<serverIp>:<http port>. */
        httpUrl: z.string().url().optional(),
        dhcp: z
          .object({
            mode: z.enum(['off', 'reservation', 'proxy']).default('off'),
            listenAddress: z.ipv4().default('0.0.0.0'),
            port: z.number().int().min(0).max(65535).default(67),
            proxyPort: z.number().int().min(0).max(65535).default(4011),
            reuseAddr: z.boolean().default(false),
            broadcastAddress: z.ipv4().default('255.255.255.255'),
            leaseSeconds: z.number().int().min(60).default(3600),
          })
          .strict()
          .prefault({}),
        tftp: z
          .object({
            enabled: z.boolean().default(false),
            /** Default: boot.serverIp, port 69. */
            listen: listen.optional(),
            roots: z.array(z.string().min(1)).default(['/usr/lib/ipxe']),
            maxBlksize: z.number().int().min(512).max(65464).default(1468),
            maxWindowsize: z.number().int().min(1).max(65535).default(64),
            maxTransfers: z.number().int().min(1).default(256),
            maxTransfersPerClient: z.number().int().min(1).default(8),
            /** 'auto': the native engine when `npm run build` built it, else JavaScript (with a warning). */
            engine: z.enum(['auto', 'native', 'js']).default('auto'),
          })
          .strict()
          .prefault({}),
        bootFiles: z
          .object({ bios: z.string().default('undionly.kpxe'), uefiX64: z.string().default('ipxe.efi'), arm64: z.string().optional() })
          .strict()
          .prefault({}),
        /** Site defaults for reservations (IPAM's per-network values win). */
        network: z
          .object({
            netmask: z.ipv4().optional(),
            gateway: z.ipv4().optional(),
            dns: z.array(z.union([z.ipv4(), z.ipv6()])).max(8).optional(),
            domain: z.string().max(253).optional(),
          })
          .strict()
          .prefault({}),
        /** Kernels, initrds and images served at /boot/images/ (default <stateDir>/images). */
        imagesDir: z.string().min(1).optional(),
        /** pxe-templates directory (default: the one shipped with rackhand). */
        templatesDir: z.string().min(1).optional(),
        /** 'reservation': a host's boot script is served only to the address reserved for its MAC. */
        verifyClient: z.enum(['reservation', 'off']).default('reservation'),
        /** How long a deploy waits for the installer's callback. */
        installTimeoutMs: z.number().int().min(1000).default(3 * 3600_000),
        /** After the callback, time the installer gets to finish (unmount, sync) before rackhand reboots the host. */
        rebootGraceMs: z.number().int().min(0).default(30_000),
        /** Extra or replacement OS catalogue entries (see src/boot/templates/os-catalogue.ts). */
        osCatalogue: z.record(z.string(), z.unknown()).optional(),
      })
      .strict()
      .prefault({}),
    sensors: z
      .object({
        /** Periodic sensor reads of every BMC, kept as history for the page and /metrics. */
        enabled: z.boolean().default(true),
        intervalMs: z.number().int().min(10_000).default(5 * 60_000),
        retentionDays: z.number().int().min(1).default(7),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({
        /** Require an API token to scrape /metrics (off: monitoring on the management network scrapes freely). */
        requireToken: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    tasks: z
      .object({
        /** How long a finished task stays in the store. */
        retentionDays: z.number().int().positive().default(90),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {}

/** Resolve derived paths so every part receives absolute ones. */
export function finishConfig(c: Config): Config & { secrets: { keyFile: string } } {
  const stateDir = path.resolve(c.stateDir);
  return {
    ...c,
    stateDir,
    secrets: { ...c.secrets, keyFile: path.resolve(stateDir, c.secrets.keyFile ?? 'secret.key') },
  };
}

export type ResolvedConfig = ReturnType<typeof finishConfig>;

/**
 * RACKHAND_HTTP_LISTEN=… sets http.listen; nested keys are joined with `_` and matched case-insensitively
 * against the schema, so RACKHAND_STATE_DIR sets stateDir. Values are parsed as YAML scalars (numbers, booleans).
 */
export function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('RACKHAND_') || raw === undefined) continue;
    if (name === 'RACKHAND_CONFIG' || name === 'RACKHAND_URL' || name === 'RACKHAND_TOKEN') continue;
    const keyPath = resolveEnvKey(name.slice('RACKHAND_'.length));
    if (!keyPath) throw new ConfigError(`unknown configuration variable ${name}`);
    let target = out;
    for (const k of keyPath.slice(0, -1)) target = (target[k] ??= {}) as Record<string, unknown>;
    target[keyPath[keyPath.length - 1]] = parseYaml(raw);
  }
  return out;
}

function resolveEnvKey(envKey: string): string[] | undefined {
  const want = envKey.toLowerCase().replace(/_/g, '');
  const walk = (shape: z.ZodRawShape, prefix: string[]): string[] | undefined => {
    for (const [key, schema] of Object.entries(shape)) {
      const keyPath = [...prefix, key];
      if (keyPath.join('').toLowerCase() === want) return keyPath;
      const inner = unwrapObject(schema as z.ZodType);
      if (inner) {
        const found = walk(inner.shape, keyPath);
        if (found) return found;
      }
    }
    return undefined;
  };
  return walk(configSchema.shape, []);
}

function unwrapObject(schema: z.ZodType): z.ZodObject | undefined {
  let s: unknown = schema;
  for (let i = 0; i < 5 && s; i++) {
    if (s instanceof z.ZodObject) return s;
    const def = (s as { def?: { innerType?: unknown } }).def;
    s = def?.innerType;
  }
  return undefined;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev)
        ? deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

export function parseConfig(raw: unknown): ResolvedConfig {
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue.path.join('.') || '(root)';
    const keys = issue.code === 'unrecognized_keys' ? ` ${issue.keys.join(', ')}` : '';
    throw new ConfigError(`invalid configuration at ${where}:${keys} ${issue.message}`);
  }
  return finishConfig(result.data);
}

export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv } = {}): ResolvedConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.RACKHAND_CONFIG;
  let fromFile: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read configuration file ${file}: ${(e as Error).message}`);
    }
    const doc = parseYaml(text) ?? {};
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${file}: expected a YAML mapping`);
    fromFile = doc as Record<string, unknown>;
  }
  return parseConfig(deepMerge(fromFile, envOverrides(env)));
}
