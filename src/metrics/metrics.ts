// Prometheus metrics on rackhand's own registry: HTTP, tasks, BMCs, boot plane, consoles, sensors, host health.
import express, { type NextFunction, type Request, type Response } from 'express';
import { errorBody, toRackhandError } from '../errors.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { HostHealth } from './host-health.js';
import { writePerServerFamilies, type FamilyHead, type PerServerSample } from './per-server-families.js';

/** The latest stored sample of one sensor (SensorHistoryRepo.latest() has this shape). */
export interface SensorValueSource {
  serverId: number;
  name: string;
  type: string;
  value: number | null;
  at: string;
}

/**
 * Getter callbacks the composition root supplies; each is called on scrape. A missing one leaves its
 * families empty (declared, no samples) so dashboards do not break when a part is switched off.
 */
export interface MetricsSources {
  info?: { version: string; site: string };
  /** Tasks in the store by kind and state. */
  taskCounts?(): { kind: string; state: string; count: number }[];
  /** Last known BMC reachability per server (null: never checked, not exported). */
  bmcReachability?(): Iterable<{ serverId: number; reachable: boolean | null }>;
  /** DHCP server counters (DhcpCounters): every field is a monotonically increasing count. */
  dhcp?(): Record<string, number>;
  /** Inbound RMCP+ datagrams the native IPMI driver dropped, by reason (corrupt, forged, late, duplicate…). */
  bmcRejectedDatagrams?(): Record<string, number>;
  /** The native IPMI driver's sessions opened, handshakes and retransmits. */
  ipmi?(): Record<string, number>;
  /** TFTP server stats (TftpServerStats): counts, plus `activeTransfers` as a gauge. */
  tftp?(): Record<string, number>;
  /** Console proxy stats (VncProxyStats). */
  console?(): {
    activeConnections: number;
    activeSessions: number;
    connectionsTotal: number;
    bytesUp: number;
    bytesDown: number;
    closes?: Record<string, number>;
  };
  /** Latest sensor values (SensorHistoryRepo.latest(), which reads them a page at a time as they are taken). */
  sensors?(): Iterable<SensorValueSource>;
  /** Critical BMC event log entries seen appear per server (EventLogRepo.criticalTotals()), a counter. */
  eventLogCritical?(): Iterable<{ serverId: number; total: number }>;
  /** The state dir whose file system is reported as host disk. */
  stateDir?: string;
  /** How long a host health reading is reused between scrapes (ms, default 5000). */
  hostCacheMs?: number;
  /** Node process metrics (heap, event loop lag, fds); on by default. */
  processMetrics?: boolean;
}

export interface Metrics {
  registry: Registry;
  contentType: string;
  /** Called by the BMC layer after every command. */
  observeBmcCommand(driver: string, op: string, seconds: number, ok: boolean): void;
  /** Express middleware timing every request into the HTTP histogram (mount it first). */
  httpTimer(): express.RequestHandler;
  /** The scrape as the text format, in pieces to write in turn (a piece is at most a few hundred KiB). */
  chunks(): Promise<string[]>;
  /** The same as one string. */
  text(): Promise<string>;
}

const GAUGE_KEYS = new Set(['activeTransfers']);

/** camelCase stat names to the snake_case Prometheus label values (transfersOk → transfers_ok). */
function snake(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

export function createMetrics(sources: MetricsSources = {}): Metrics {
  const registry = new Registry();
  const host = new HostHealth(sources.stateDir, sources.hostCacheMs ?? 5_000);
  if (sources.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const reg = [registry];

  if (sources.info) {
    const info = sources.info;
    new Gauge({
      name: 'rackhand_info',
      help: 'rackhand build and site (always 1)',
      labelNames: ['version', 'site'],
      registers: reg,
      collect() {
        this.set({ version: info.version, site: info.site }, 1);
      },
    });
  }

  const http = new Histogram({
    name: 'rackhand_http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: reg,
  });

  new Gauge({
    name: 'rackhand_tasks',
    help: 'Tasks in the store by kind and state',
    labelNames: ['kind', 'state'],
    registers: reg,
    collect() {
      this.reset();
      for (const t of sources.taskCounts?.() ?? []) this.set({ kind: t.kind, state: t.state }, t.count);
    },
  });

  const bmcLatency = new Histogram({
    name: 'rackhand_bmc_command_duration_seconds',
    help: 'BMC commands by driver, operation and result',
    labelNames: ['driver', 'op', 'result'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: reg,
  });

  // Counters whose truth lives in another part: on scrape, set to the source's current value.
  const mirroredCounter = (name: string, help: string, read: () => Record<string, number> | undefined) =>
    new Counter({
      name,
      help,
      labelNames: ['event'],
      registers: reg,
      collect() {
        this.reset();
        for (const [k, v] of Object.entries(read() ?? {})) {
          if (!GAUGE_KEYS.has(k) && typeof v === 'number' && Number.isFinite(v) && v >= 0) this.inc({ event: snake(k) }, v);
        }
      },
    });
  mirroredCounter('rackhand_dhcp_events_total', 'DHCP server counters (packets received, offers, acks, naks, refusals…)', () => sources.dhcp?.());
  mirroredCounter('rackhand_bmc_rejected_datagrams_total', 'RMCP+ datagrams from BMCs dropped by the native IPMI driver, by reason (decode, integrity, sequence, session-id, unexpected…)', () => sources.bmcRejectedDatagrams?.());
  mirroredCounter('rackhand_ipmi_events_total', 'Native IPMI driver: sessions opened, handshakes started, datagrams sent again', () => sources.ipmi?.());
  mirroredCounter('rackhand_tftp_events_total', 'TFTP server counters (requests, transfers, bytes sent, retransmits…)', () => sources.tftp?.());
  new Gauge({
    name: 'rackhand_tftp_active_transfers',
    help: 'TFTP transfers in progress',
    registers: reg,
    collect() {
      this.set(sources.tftp?.().activeTransfers ?? 0);
    },
  });

  new Gauge({
    name: 'rackhand_console_active_sessions',
    help: 'Console sessions open (one per ticket)',
    registers: reg,
    collect() {
      this.set(sources.console?.().activeSessions ?? 0);
    },
  });
  new Gauge({
    name: 'rackhand_console_active_connections',
    help: 'Console websocket connections open',
    registers: reg,
    collect() {
      this.set(sources.console?.().activeConnections ?? 0);
    },
  });
  new Counter({
    name: 'rackhand_console_connections_total',
    help: 'Console websocket connections accepted since start',
    registers: reg,
    collect() {
      this.reset();
      this.inc(sources.console?.().connectionsTotal ?? 0);
    },
  });
  new Counter({
    name: 'rackhand_console_bytes_total',
    help: 'Bytes relayed by the console proxy (up: browser to VNC server)',
    labelNames: ['direction'],
    registers: reg,
    collect() {
      this.reset();
      const c = sources.console?.();
      if (!c) return;
      this.inc({ direction: 'up' }, c.bytesUp);
      this.inc({ direction: 'down' }, c.bytesDown);
    },
  });
  new Counter({
    name: 'rackhand_console_closes_total',
    help: 'Console connections closed or refused, by close code or HTTP refusal',
    labelNames: ['reason'],
    registers: reg,
    collect() {
      this.reset();
      for (const [k, v] of Object.entries(sources.console?.().closes ?? {})) this.inc({ reason: k }, v);
    },
  });

  // The families with a sample per server: written by writePerServerFamilies, not prom-client (see there why).
  const perServer: FamilyHead[] = [
    { name: 'rackhand_bmc_reachable', help: 'Whether the server BMC answered its last status read (1) or not (0)', type: 'gauge' },
    // One gauge per sensor kind, so each family has one unit.
    { name: 'rackhand_sensor_temperature_celsius', help: 'Latest temperature reading per server and sensor', type: 'gauge' },
    { name: 'rackhand_sensor_fan_rpm', help: 'Latest fan speed per server and sensor', type: 'gauge' },
    { name: 'rackhand_sensor_voltage_volts', help: 'Latest voltage reading per server and sensor', type: 'gauge' },
    { name: 'rackhand_sensor_power_watts', help: 'Latest power reading per server and sensor (DCMI, Redfish PowerControl)', type: 'gauge' },
    { name: 'rackhand_sensor_sample_timestamp_seconds', help: 'When each server was last sampled (unix seconds)', type: 'gauge' },
    {
      name: 'rackhand_bmc_event_log_critical_total',
      help: "Critical entries that appeared in a server's BMC event log (SEL, Redfish LogService) since rackhand first read it",
      type: 'counter',
    },
  ];
  const family = (name: string) => perServer.findIndex((f) => f.name === name);
  const REACHABLE = family('rackhand_bmc_reachable');
  const SAMPLED_AT = family('rackhand_sensor_sample_timestamp_seconds');
  const CRITICAL = family('rackhand_bmc_event_log_critical_total');
  const SENSOR_FAMILY: Record<string, number> = {
    temperature: family('rackhand_sensor_temperature_celsius'),
    fan: family('rackhand_sensor_fan_rpm'),
    voltage: family('rackhand_sensor_voltage_volts'),
    power: family('rackhand_sensor_power_watts'),
  };
  function* reachability(): Generator<PerServerSample> {
    for (const b of sources.bmcReachability?.() ?? []) {
      if (b.reachable !== null) yield { family: REACHABLE, labels: [['server_id', b.serverId]], value: b.reachable ? 1 : 0 };
    }
  }
  // One pass over the latest sensor rows fills the four kinds and each server's newest sample time.
  function* sensorValues(): Generator<PerServerSample> {
    const newest = new Map<number, number>();
    for (const s of sources.sensors?.() ?? []) {
      const kind = SENSOR_FAMILY[s.type];
      if (kind !== undefined && s.value !== null) yield { family: kind, labels: [['server_id', s.serverId], ['sensor', s.name]], value: s.value };
      newest.set(s.serverId, Math.max(newest.get(s.serverId) ?? 0, Date.parse(s.at) / 1000));
    }
    for (const [id, t] of newest) yield { family: SAMPLED_AT, labels: [['server_id', id]], value: t };
  }
  function* criticalEvents(): Generator<PerServerSample> {
    for (const c of sources.eventLogCritical?.() ?? []) yield { family: CRITICAL, labels: [['server_id', c.serverId]], value: c.total };
  }

  new Gauge({
    name: 'rackhand_host_cpu_load_ratio',
    help: 'CPU busy fraction of the agent host over all cores (0..1)',
    registers: reg,
    async collect() {
      this.set((await host.snapshot()).cpuLoadRatio);
    },
  });
  new Gauge({
    name: 'rackhand_host_load1',
    help: 'One-minute load average of the agent host',
    registers: reg,
    async collect() {
      this.set((await host.snapshot()).load1);
    },
  });
  new Gauge({
    name: 'rackhand_host_memory_bytes',
    help: 'Memory of the agent host (total, used, available)',
    labelNames: ['kind'],
    registers: reg,
    async collect() {
      const m = (await host.snapshot()).memory;
      for (const kind of ['total', 'used', 'available'] as const) this.set({ kind }, m[kind]);
    },
  });
  new Gauge({
    name: 'rackhand_host_state_disk_bytes',
    help: 'File system holding the state dir (size, used, available)',
    labelNames: ['mount', 'kind'],
    registers: reg,
    async collect() {
      this.reset();
      const d = (await host.snapshot()).disk;
      if (d) for (const kind of ['size', 'used', 'available'] as const) this.set({ mount: d.mount, kind }, d[kind]);
    },
  });
  new Gauge({
    name: 'rackhand_host_network_up',
    help: 'Network interface of the agent host is up (1) or not (0)',
    labelNames: ['iface'],
    registers: reg,
    async collect() {
      this.reset();
      for (const n of (await host.snapshot()).interfaces) this.set({ iface: n.iface }, n.up ? 1 : 0);
    },
  });
  new Counter({
    name: 'rackhand_host_network_bytes_total',
    help: 'Bytes through the agent host network interfaces',
    labelNames: ['iface', 'direction'],
    registers: reg,
    async collect() {
      this.reset();
      for (const n of (await host.snapshot()).interfaces) {
        this.inc({ iface: n.iface, direction: 'rx' }, Math.max(0, n.rxBytes));
        this.inc({ iface: n.iface, direction: 'tx' }, Math.max(0, n.txBytes));
      }
    },
  });
  new Counter({
    name: 'rackhand_host_network_errors_total',
    help: 'Errors on the agent host network interfaces',
    labelNames: ['iface', 'direction'],
    registers: reg,
    async collect() {
      this.reset();
      for (const n of (await host.snapshot()).interfaces) {
        this.inc({ iface: n.iface, direction: 'rx' }, Math.max(0, n.rxErrors));
        this.inc({ iface: n.iface, direction: 'tx' }, Math.max(0, n.txErrors));
      }
    },
  });

  const metrics: Metrics = {
    registry,
    contentType: registry.contentType,
    observeBmcCommand(driver, op, seconds, ok) {
      if (Number.isFinite(seconds) && seconds >= 0) bmcLatency.observe({ driver, op, result: ok ? 'ok' : 'error' }, seconds);
    },
    httpTimer() {
      return (req: Request, res: Response, next: NextFunction) => {
        const t0 = process.hrtime.bigint();
        res.once('finish', () => {
          http.observe({ method: req.method, route: routeLabel(req), status: String(res.statusCode) }, Number(process.hrtime.bigint() - t0) / 1e9);
        });
        next();
      };
    },
    async chunks() {
      const out = [await registry.metrics()];
      await writePerServerFamilies(perServer, [reachability(), sensorValues(), criticalEvents()], out);
      return out;
    },
    async text() {
      return (await metrics.chunks()).join('');
    },
  };
  return metrics;
}

/** The route pattern, never the raw URL: ids and query strings would make unbounded label sets. */
function routeLabel(req: Request): string {
  const route = (req as { route?: { path?: unknown } }).route?.path;
  return typeof route === 'string' ? route : 'unmatched';
}

export interface MetricsRouteOptions {
  /**
   * Require a valid API token for scrapes (Prometheus `authorization: { credentials: … }`). Off by default:
   * the endpoint carries no secrets and monitoring on a management network scrapes without credentials.
   */
  authenticate?(req: Request): unknown;
  path?: string;
}

export function metricsRoutes(metrics: Metrics, opts: MetricsRouteOptions = {}): { name: string; router: express.Router } {
  const router = express.Router();
  router.get(opts.path ?? '/metrics', async (req, res) => {
    try {
      opts.authenticate?.(req);
      const chunks = await metrics.chunks();
      // Written piece by piece (chunked), yielding between pieces: no one 2 MiB string to build, hash (ETag) and send.
      res.set('cache-control', 'no-store').type(metrics.contentType);
      for (const c of chunks) {
        if (res.destroyed) return; // the scraper went away
        res.write(c);
        await new Promise((resolve) => setImmediate(resolve));
      }
      res.end();
    } catch (e) {
      const err = toRackhandError(e);
      res.status(err.status).json(errorBody(err));
    }
  });
  return { name: 'metrics', router };
}
