// Configuration: embedded defaults, an optional YAML file, RACKHAND_* environment overrides, validated at start.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parse as parseYaml, parseDocument } from 'yaml';
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
            /**
             * Reads in flight at once: half the scheduler's maxParallel, so a sweep leaves room for tasks and API
             * calls. Measured at 1,000 BMCs on 2 cores: 32 sweeps as fast as 64 (the CPUs are the limit either way),
             * and the API's p99 during back-to-back sweeps fell from 12-39 ms to 7-14 ms (bench/site-sweep.ts).
             */
            concurrency: z.number().int().min(1).max(10_000).default(32),
          })
          .strict()
          .prefault({}),
        /** The native `ipmi` driver (src/bmc/ipmi/ipmi-driver.ts). */
        ipmi: z
          .object({
            /**
             * Keep one RMCP+ session per BMC open between calls (keepalive, closed after idling): a sweep then costs
             * one round trip per BMC. false: a session per call, closed after it, for BMCs with too few session slots.
             */
            keepSessions: z.boolean().default(true),
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
        /** Accept the in-process `simulated` BMC driver (demo and tests only: it answers for BMCs that do not exist). */
        allowSimulated: z.boolean().default(false),
        /** Latency of the in-process `simulated` driver. */
        simulatedDelayMs: z.number().int().min(0).default(50),
        /** BMC accounts rackhand creates per server at most (add_ipmi_user): a BMC has few user slots. */
        maxAddedUsers: z.number().int().min(0).max(16).default(4),
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
        /**
         * TCP congestion control for image bodies ('' keeps the system's). cubic, not a system default of bbr: without
         * the fq qdisc the kernel paces bbr with a timer per socket, which cost the sender twice the CPU per GiB and
         * 0.93x nginx's speed on loopback (bench/deploy.ts); a provisioning LAN gains nothing from bbr's pacing.
         */
        imageCongestionControl: z.string().regex(/^[a-z0-9_]{0,15}$/, 'a kernel congestion control name such as cubic, or empty').default('cubic'),
        /** pxe-templates directory (default: the one shipped with rackhand). */
        templatesDir: z.string().min(1).optional(),
        /** 'reservation': a host's boot script is served only to the address reserved for its MAC. */
        verifyClient: z.enum(['reservation', 'off']).default('reservation'),
        /** How long a deploy waits for the installer's callback. */
        installTimeoutMs: z.number().int().min(1000).default(3 * 3600_000),
        /** After the callback, time the installer gets to finish (unmount, sync) before rackhand reboots the host. */
        rebootGraceMs: z.number().int().min(0).default(30_000),
        /** How long an inspection (operation_diag) listens for the switch port's LLDP announcement; 0 skips it. */
        lldpWaitSeconds: z.number().int().min(0).max(300).default(35),
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
        /** Each BMC's event log is read this often (new critical entries counted in /metrics); 0: only when asked. */
        eventLogIntervalMs: z.number().int().min(0).default(3600_000),
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
    central: z
      .object({
        /** Hosts (name or address, optional :port; `*` any) a post_install_callback may point at; admins may use others. */
        callbackHosts: z.array(z.string().min(1).max(270)).default([]),
        /** Delivery attempts of a post_install_callback, the first retry after callbackBackoffMs, doubling. */
        callbackAttempts: z.number().int().min(1).max(20).default(5),
        callbackBackoffMs: z.number().int().min(0).default(2000),
      })
      .strict()
      .prefault({}),
    audit: z
      .object({
        /** How long an audit entry (a mutating API request) is kept. */
        retentionDays: z.number().int().min(1).default(365),
        /** Entries kept at most; the oldest go first. */
        maxEntries: z.number().int().min(1000).default(1_000_000),
      })
      .strict()
      .prefault({}),
    bootHistory: z
      .object({
        /** Boot events (DHCP, TFTP, HTTP boot, installer reports) kept per host, newest first. */
        perHost: z.number().int().min(10).default(500),
        /** Boot events kept in all (a flood of unknown MACs cannot grow the store past this). */
        maxEvents: z.number().int().min(1000).default(200_000),
        retentionDays: z.number().int().min(1).default(30),
      })
      .strict()
      .prefault({}),
    tasks: z
      .object({
        /** How long a finished task stays in the store. */
        retentionDays: z.number().int().positive().default(90),
        /** On stop, how long running tasks get to finish their BMC work before they are interrupted. */
        stopGraceMs: z.number().int().min(0).default(20_000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    // DHCP and TFTP answer on the servers' network: without rackhand's address there they cannot start.
    for (const [on, key] of [
      [c.boot.dhcp.mode !== 'off', 'boot.dhcp.mode'],
      [c.boot.tftp.enabled && !c.boot.tftp.listen, 'boot.tftp.enabled'],
    ] as const) {
      if (on && !c.boot.serverIp) ctx.addIssue({ code: 'custom', path: key.split('.'), message: `needs boot.serverIp (rackhand's IPv4 address on the servers' network)` });
    }
  });

export type Config = z.infer<typeof configSchema>;

/** Every problem with the configuration, each one line naming where it is (file:line or the variable). */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

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

/** Environment variables that are not configuration keys. */
const NOT_CONFIG_ENV = new Set(['RACKHAND_CONFIG', 'RACKHAND_URL', 'RACKHAND_TOKEN']);

/** Values parsed from RACKHAND_* variables, and which variable set which key path (for messages). */
interface EnvValues {
  values: Record<string, unknown>;
  names: Map<string, string>;
}

/**
 * RACKHAND_HTTP_LISTEN=… sets http.listen; nested keys are joined with `_` and matched case-insensitively
 * against the schema, so RACKHAND_STATE_DIR sets stateDir. Values are parsed as YAML scalars (numbers, booleans,
 * `[a, b]` lists); anything else stays a string. Unknown variables are added to `problems`.
 */
export function envOverrides(env: NodeJS.ProcessEnv, problems: string[] = []): EnvValues {
  const values: Record<string, unknown> = {};
  const names = new Map<string, string>();
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('RACKHAND_') || raw === undefined || NOT_CONFIG_ENV.has(name)) continue;
    const keyPath = resolveEnvKey(name.slice('RACKHAND_'.length));
    if (!keyPath) {
      const near = closestName(name, envNames());
      problems.push(`${name}: unknown configuration variable${near ? ` (did you mean ${near}?)` : ''}`);
      continue;
    }
    let target = values;
    for (const k of keyPath.slice(0, -1)) target = (target[k] ??= {}) as Record<string, unknown>;
    target[keyPath[keyPath.length - 1]] = envValue(raw);
    names.set(keyPath.join('.'), name);
  }
  return { values, names };
}

function envValue(raw: string): unknown {
  try {
    const v = parseYaml(raw);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? raw : (v ?? raw);
  } catch {
    return raw;
  }
}

function resolveEnvKey(envKey: string): string[] | undefined {
  const want = envKey.toLowerCase().replace(/_/g, '');
  return leafPaths().find((p) => p.join('').toLowerCase() === want) ?? objectPaths().find((p) => p.join('').toLowerCase() === want);
}

/** Every key path of the schema, leaves first; `RACKHAND_` + SNAKE_CASE of one is its variable. */
function leafPaths(): string[][] {
  const out: string[][] = [];
  const walk = (shape: z.ZodRawShape, prefix: string[]) => {
    for (const [key, schema] of Object.entries(shape)) {
      const inner = unwrapObject(schema as z.ZodType);
      if (inner) walk(inner.shape, [...prefix, key]);
      else out.push([...prefix, key]);
    }
  };
  walk(configSchema.shape, []);
  return out;
}

function objectPaths(): string[][] {
  const out: string[][] = [];
  const walk = (shape: z.ZodRawShape, prefix: string[]) => {
    for (const [key, schema] of Object.entries(shape)) {
      const inner = unwrapObject(schema as z.ZodType);
      if (inner) {
        out.push([...prefix, key]);
        walk(inner.shape, [...prefix, key]);
      }
    }
  };
  walk(configSchema.shape, []);
  return out;
}

/** The environment variable that sets a key path: http.bodyLimitBytes → RACKHAND_HTTP_BODY_LIMIT_BYTES. */
export function envName(keyPath: string[]): string {
  return 'RACKHAND_' + keyPath.map((k) => k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

function envNames(): string[] {
  return leafPaths().map(envName);
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

/** The keys an object of the schema allows at a path (for "did you mean"). */
function allowedKeys(keyPath: PropertyKey[]): string[] {
  let obj: z.ZodObject | undefined = configSchema;
  for (const k of keyPath) {
    const next: z.ZodType | undefined = obj?.shape[String(k)] as z.ZodType | undefined;
    obj = next ? unwrapObject(next) : undefined;
    if (!obj) return [];
  }
  return Object.keys(obj.shape);
}

/**
 * The candidate a misspelt name most likely meant: equal ignoring case, `_` and `-`, or within an edit distance
 * of a third of its length. undefined when nothing is close.
 */
export function closestName(word: string, candidates: string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const w = norm(word);
  let best: { name: string; d: number } | undefined;
  for (const c of candidates) {
    const d = editDistance(w, norm(c));
    if (d <= Math.max(1, Math.floor(w.length / 3)) && (!best || d < best.d)) best = { name: c, d };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
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

/** Names where a key path was set: the flag, the variable, or file:line. */
type Locate = (keyPath: PropertyKey[], unknownKey: boolean) => string | undefined;

function validate(raw: unknown, locate: Locate): { config?: ResolvedConfig; problems: string[] } {
  const result = configSchema.safeParse(raw ?? {});
  if (result.success) return { config: finishConfig(result.data), problems: [] };
  const problems: string[] = [];
  for (const issue of result.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const keyPath = [...issue.path, key];
        const near = closestName(key, allowedKeys(issue.path));
        problems.push(prefixed(locate(keyPath, true), `${keyPath.join('.')}: unknown key${near ? ` (did you mean ${near}?)` : ''}`));
      }
      continue;
    }
    const where = issue.path.join('.') || '(top level)';
    const value = valueAt(raw, issue.path);
    const shown = value === undefined ? '' : `, got ${JSON.stringify(value)?.slice(0, 80)}`;
    problems.push(prefixed(locate(issue.path, false), `${where}: ${issue.message.replace(/^Invalid (input|option): /, '')}${shown}`));
  }
  return { problems };
}

function prefixed(where: string | undefined, text: string): string {
  return where ? `${where}: ${text}` : text;
}

function valueAt(raw: unknown, keyPath: PropertyKey[]): unknown {
  let v = raw;
  for (const k of keyPath) {
    if (!v || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v !== null && typeof v === 'object' ? undefined : v;
}

/** Validates an already-assembled configuration object (tests, embedded use). */
export function parseConfig(raw: unknown): ResolvedConfig {
  const { config, problems } = validate(raw, () => undefined);
  if (!config) throw new ConfigError(problems);
  return config;
}

export interface LoadOptions {
  /** --config FILE; default RACKHAND_CONFIG; none: embedded defaults. */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** --state-dir DIR: wins over the file and RACKHAND_STATE_DIR. */
  stateDir?: string;
}

/**
 * Embedded defaults, then the YAML file, then RACKHAND_* variables, then flags. Every problem is collected
 * and thrown at once as a ConfigError, each naming its file and line or its variable.
 */
export function loadConfig(opts: LoadOptions = {}): ResolvedConfig {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.RACKHAND_CONFIG;
  const problems: string[] = [];
  let fromFile: Record<string, unknown> = {};
  let fileLine: (keyPath: PropertyKey[]) => number | undefined = () => undefined;
  if (file) {
    const read = readConfigFile(file, problems);
    if (read) ({ values: fromFile, lineOf: fileLine } = read);
  }
  const fromEnv = envOverrides(env, problems);
  const fromFlags: Record<string, unknown> = opts.stateDir !== undefined ? { stateDir: opts.stateDir } : {};
  const locate: Locate = (keyPath, unknownKey) => {
    const key = keyPath.join('.');
    if (!unknownKey && key === 'stateDir' && opts.stateDir !== undefined) return '--state-dir';
    for (let n = keyPath.length; n > 0 && !unknownKey; n--) {
      const name = fromEnv.names.get(keyPath.slice(0, n).join('.'));
      if (name) return name;
    }
    if (!file) return undefined;
    const line = fileLine(keyPath);
    return line ? `${file}:${line}` : file;
  };
  const { config, problems: invalid } = validate(deepMerge(deepMerge(fromFile, fromEnv.values), fromFlags), locate);
  problems.push(...invalid);
  if (problems.length || !config) throw new ConfigError(problems);
  return config;
}

/** The file's mapping and a key path → line lookup, or undefined with its problems recorded. */
function readConfigFile(file: string, problems: string[]): { values: Record<string, unknown>; lineOf: (keyPath: PropertyKey[]) => number | undefined } | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file (copy rackhand.example.yaml there, or leave out --config / RACKHAND_CONFIG to run on the embedded defaults)'
        : code === 'EACCES'
          ? `permission denied for uid ${process.getuid?.()} (make it readable by the user rackhand runs as)`
          : code === 'EISDIR'
            ? 'it is a directory, not a file'
            : (e as Error).message;
    problems.push(`${file}: cannot read the configuration file: ${why}`);
    return undefined;
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length) {
    for (const err of doc.errors) {
      let at = err.pos[0];
      let note = '';
      // An unclosed quote is reported where the file ends; the person needs the line where it opened.
      const quote = /Missing closing (["'])quote/.exec(err.message)?.[1];
      if (err.code === 'MISSING_CHAR' && quote && text.lastIndexOf(quote, at - 1) >= 0) {
        at = text.lastIndexOf(quote, at - 1);
        note = ` (it runs to the end of the file)`;
      }
      const pos = lines.linePos(at);
      problems.push(`${file}:${pos.line}:${pos.col}: YAML syntax error: ${err.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}${note}`);
    }
    return undefined;
  }
  const values = doc.toJS() ?? {};
  if (typeof values !== 'object' || Array.isArray(values)) {
    problems.push(`${file}:1: expected a YAML mapping of configuration keys (key: value), not a ${Array.isArray(values) ? 'list' : typeof values}`);
    return undefined;
  }
  const lineOf = (keyPath: PropertyKey[]) => {
    let node: unknown = doc.contents;
    let line: number | undefined;
    for (const seg of keyPath) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        const range = (pair.key as { range?: [number, number, number] }).range;
        if (range) line = lines.linePos(range[0]).line;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number' && node.items[seg]) {
        node = node.items[seg];
        const range = (node as { range?: [number, number, number] }).range;
        if (range) line = lines.linePos(range[0]).line;
      } else break;
    }
    return line;
  };
  return { values: withoutEmpty(values as Record<string, unknown>), lineOf };
}

/** `key:` with nothing after it (a section whose lines are all commented out) means "not set", not null. */
function withoutEmpty(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === null) continue;
    out[k] = v && typeof v === 'object' && !Array.isArray(v) ? withoutEmpty(v as Record<string, unknown>) : v;
  }
  return out;
}

/** A copy fit to print: credentials in URLs and secret-named keys hidden. The key file's path is not a secret. */
export function publicConfig(c: ResolvedConfig): Record<string, unknown> {
  const hide = (v: unknown, key: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => hide(x, key));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, hide(x, k)]));
    if (/(password|passphrase|token|secret|community)$/i.test(key) && v !== undefined) return '[hidden]';
    if (typeof v === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(v)) return v.replace(/\/\/([^/:@\s]*):[^/@\s]*@/, '//$1:[hidden]@');
    return v;
  };
  return hide(c, '') as Record<string, unknown>;
}

/** Keys a running daemon applies on SIGHUP; every other change needs a restart. */
export const RELOADABLE_KEYS: readonly string[] = ['log.level'];

export interface ReloadPlan {
  /** Changed keys applied now, and changed keys that wait for a restart; each `key (old → new)` in `changes`. */
  applied: string[];
  needsRestart: string[];
  changes: Record<string, { from: unknown; to: unknown }>;
}

/** What differs between the running configuration and a newly loaded one, and what of it applies live. */
export function planReload(running: ResolvedConfig, next: ResolvedConfig): ReloadPlan {
  const changes: ReloadPlan['changes'] = {};
  const walk = (a: unknown, b: unknown, at: string[]) => {
    const isObj = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
    if (isObj(a) && isObj(b)) {
      const keys = new Set([...Object.keys(a as object), ...Object.keys(b as object)]);
      for (const k of keys) walk((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], [...at, k]);
    } else if (JSON.stringify(a) !== JSON.stringify(b)) changes[at.join('.')] = { from: a, to: b };
  };
  walk(running, next, []);
  const keys = Object.keys(changes);
  return { applied: keys.filter((k) => RELOADABLE_KEYS.includes(k)), needsRestart: keys.filter((k) => !RELOADABLE_KEYS.includes(k)), changes };
}
