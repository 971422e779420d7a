// The composition root: createAgent(config) wires every part; start() and stop() run them in order.
import type { FastifyInstance } from 'fastify';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { ResolvedConfig } from './config.js';
import { createLogger, type Logger } from './log.js';
import { VERSION } from './version.js';
import { SecretBox } from './store/secret-box.js';
import { databaseFile, openDatabase, type Db } from './store/sqlite-store.js';
import { ServersRepo } from './store/repos/servers-repo.js';
import { TokensRepo } from './store/repos/tokens-repo.js';
import { UsersRepo } from './store/repos/users-repo.js';
import { TasksRepo } from './store/repos/tasks-repo.js';
import { ConsoleRepo } from './store/repos/console-repo.js';
import { NetbootRepo } from './store/repos/netboot-repo.js';
import { DiscoveredRepo } from './store/repos/discovered-repo.js';
import { InventoryService } from './core/inventory-service.js';
import { BmcOperations } from './core/bmc-operations.js';
import { NetbootOperations } from './core/netboot-operations.js';
import { TaskRunner } from './tasks/task-runner.js';
import { bmcWorkflows } from './tasks/workflows/bmc-workflows.js';
import { netbootWorkflows } from './tasks/workflows/netboot-workflows.js';
import { BmcScheduler } from './bmc/bmc-scheduler.js';
import { BmcDrivers } from './bmc/bmc-drivers.js';
import { IpmiDriver } from './bmc/ipmi/ipmi-driver.js';
import { IpmitoolDriver } from './bmc/ipmitool/ipmitool-driver.js';
import { RedfishDriver } from './bmc/redfish/redfish-driver.js';
import { MemoryCertificatePins } from './bmc/redfish/certificate-pins.js';
import { SimulatedDriver } from './bmc/simulated/simulated-driver.js';
import { PowerSync } from './bmc/power-sync.js';
import { ConsoleSessions } from './console/console-sessions.js';
import { VncProxy } from './console/vnc-proxy.js';
import { registerConsolePage } from './console/console-page.js';
import { NetbootService } from './boot/netboot-service.js';
import { DhcpServer } from './boot/dhcp/dhcp-server.js';
import { TftpServer } from './boot/tftp/tftp-server.js';
import { registerBootRoutes } from './boot/http/boot-routes.js';
import { TemplateDir, DEFAULT_TEMPLATE_ROOT, defaultOsCatalogue, osCatalogueSchema } from './boot/templates/index.js';
import { IpamRepo } from './ipam/ipam-repo.js';
import { IpamService } from './ipam/ipam-service.js';
import { ipamWorkflows } from './ipam/ipam-workflows.js';
import { SwitchesRepo } from './switch/switches-repo.js';
import { SwitchPortService } from './switch/switch-port-service.js';
import { switchOperations, switchWorkflows } from './switch/switch-workflows.js';
import { authenticate } from './api/authenticate.js';
import { createHttpServer } from './api/http-server.js';
import { v1Routes } from './api/v1/v1-routes.js';
import { v1BmcRoutes } from './api/v1/v1-bmc-routes.js';
import { v1SwitchRoutes } from './api/v1/v1-switch-routes.js';
import { dciRoutes } from './api/dci/dci-routes.js';
import { dciIpamRoutes } from './api/dci/dci-ipam-routes.js';
import { eqBmcHandlers } from './api/eq/eq-bmc-handlers.js';
import { eqConsoleHandlers, registerConsoleTicketRoute, v1ConsoleRoutes } from './api/console-routes.js';
import { dciNetbootOperations, eqNetbootHandlers, netbootView, v1NetbootRoutes } from './api/netboot-routes.js';
import { registerTaskEvents } from './api/v1/v1-events.js';
import { SensorHistoryRepo, SensorSampler, sensorHistoryRoutes } from './sensors/index.js';
import { createMetrics, registerMetricsRoute } from './metrics/metrics.js';
import { instrumentBmcDriver } from './metrics/instrument-bmc-driver.js';
import { registerWebPage } from './web/web-page.js';
import { can, type Principal } from './auth/tokens.js';

/** The store and its repositories alone: what the bootstrap CLI commands need, without servers. */
export function openState(config: ResolvedConfig) {
  const secrets = SecretBox.fromKeyFile(config.secrets.keyFile);
  const db = openDatabase(databaseFile(config.stateDir));
  const repos = {
    servers: new ServersRepo(db, secrets),
    tokens: new TokensRepo(db),
    users: new UsersRepo(db),
    tasks: new TasksRepo(db),
    console: new ConsoleRepo(db),
    netboot: new NetbootRepo(db, secrets),
    discovered: new DiscoveredRepo(db),
    ipam: new IpamRepo(db),
    switches: new SwitchesRepo(db, secrets),
    sensors: new SensorHistoryRepo(db),
  };
  return { secrets, db, repos };
}

export type Repos = ReturnType<typeof openState>['repos'];

export interface Agent {
  config: ResolvedConfig;
  log: Logger;
  db: Db;
  repos: Repos;
  inventory: InventoryService;
  tasks: TaskRunner;
  http: FastifyInstance;
  /** Parts in-process tests and the demo reach into (the simulated BMCs, sensor history, netboot state). */
  parts: {
    bmc: BmcDrivers;
    simulated: SimulatedDriver;
    netboot: NetbootService;
    sampler: SensorSampler;
    powerSync: PowerSync;
    metrics: ReturnType<typeof createMetrics>;
    ipam: IpamService;
  };
  start(): Promise<{ url: string }>;
  stop(): Promise<void>;
}

const CONSOLE_BASE = '/console';

export async function createAgent(config: ResolvedConfig, opts: { log?: Logger } = {}): Promise<Agent> {
  const log = opts.log ?? createLogger({ level: config.log.level });
  const { db, repos } = openState(config);
  const inventory = new InventoryService(repos.servers, repos.users);
  const tasks = new TaskRunner(repos.tasks, log);
  let ready = false;
  let boundUrl = '';
  const publicUrl = () => config.http.publicUrl?.replace(/\/$/, '') ?? boundUrl;

  // Metrics read every part through getters, so they are made first and filled as the parts appear.
  const parts: { dhcp?: DhcpServer; tftp?: TftpServer; vncProxy?: VncProxy } = {};
  const metrics = createMetrics({
    info: { version: VERSION, site: config.site.name },
    taskCounts: () => repos.tasks.countsByKindAndState(),
    bmcReachability: () => repos.servers.bmcReachability(),
    dhcp: () => ({ ...(parts.dhcp?.counters ?? {}) }),
    tftp: () => ({ ...(parts.tftp?.stats() ?? {}) }),
    console: () => parts.vncProxy!.stats(),
    sensors: () => repos.sensors.latest(),
    stateDir: config.stateDir,
  });

  // BMCs: every driver goes through one scheduler (one command per BMC, spacing, global cap, breaker).
  const scheduler = new BmcScheduler(config.bmc.scheduler);
  const simulated = new SimulatedDriver({ delayMs: config.bmc.simulatedDelayMs });
  const bmc = new BmcDrivers(
    [
      new IpmiDriver(),
      new IpmitoolDriver({ binary: config.bmc.ipmitoolPath, logger: log.child({ part: 'ipmitool' }) }),
      // Pins kept in memory until the SQLite pin store is wired: after a restart each BMC is trusted on first use again.
      new RedfishDriver({ trust: { mode: 'pin', pins: new MemoryCertificatePins() }, logger: log.child({ part: 'redfish' }) }),
      simulated,
    ].map((d) => scheduler.wrap(instrumentBmcDriver(d, metrics))),
    repos.servers,
  );
  const sampler = new SensorSampler(
    {
      history: repos.sensors,
      serverIds: () => repos.servers.idsWithBmc(),
      readSensors: (id) => bmc.call(id, (d, t) => d.sensors(t)),
      log: log.child({ part: 'sensors' }),
    },
    { enabled: config.sensors.enabled, intervalMs: config.sensors.intervalMs, retentionMs: config.sensors.retentionDays * 86400_000 },
  );
  const bmcOps = new BmcOperations(inventory, tasks, config.bmc.sensorsWaitMs);
  const powerSync = new PowerSync(repos.servers, bmc, config.bmc.sync, log.child({ part: 'power-sync' }));
  const timing = config.bmc;
  for (const wf of bmcWorkflows({ bmc, servers: repos.servers, timing })) tasks.register(wf);

  // IP addresses and switch ports.
  const ipam = new IpamService(repos.ipam, repos.servers);
  const switchPorts = new SwitchPortService(repos.switches, {}, log.child({ part: 'switch' }));
  for (const wf of ipamWorkflows()) tasks.register(wf);
  for (const wf of switchWorkflows({ ports: switchPorts, switches: repos.switches })) tasks.register(wf);

  // Network boot.
  const boot = config.boot;
  const catalogue = boot.osCatalogue ? osCatalogueSchema.parse({ ...defaultOsCatalogue, ...boot.osCatalogue }) : defaultOsCatalogue;
  const imagesDir = path.resolve(config.stateDir, boot.imagesDir ?? 'images');
  const httpBase = () => boot.httpUrl?.replace(/\/$/, '') ?? (boot.serverIp ? `http://${boot.serverIp}:${new URL(publicUrl()).port || 80}` : publicUrl());
  const netboot = new NetbootService(
    repos.servers,
    repos.netboot,
    repos.discovered,
    {
      httpBase,
      catalogue,
      templates: new TemplateDir(boot.templatesDir ?? DEFAULT_TEMPLATE_ROOT),
      network: boot.network,
      verifyClient: boot.verifyClient,
      hostNetwork: (id) => ipam.hostNetwork(id),
    },
    log.child({ part: 'netboot' }),
  );
  const netbootOps = new NetbootOperations(inventory, repos.servers, tasks, catalogue, config.site.name);
  for (const wf of netbootWorkflows({ bmc, servers: repos.servers, timing, netboot, installTimeoutMs: boot.installTimeoutMs, rebootGraceMs: boot.rebootGraceMs, log })) {
    tasks.register(wf);
  }
  const dhcp =
    boot.dhcp.mode === 'off'
      ? undefined
      : new DhcpServer({
          mode: boot.dhcp.mode,
          lookup: netboot,
          listenAddress: boot.dhcp.listenAddress,
          port: boot.dhcp.port,
          proxyPort: boot.dhcp.proxyPort,
          reuseAddr: boot.dhcp.reuseAddr,
          broadcastAddress: boot.dhcp.broadcastAddress,
          serverIp: requireServerIp(boot.serverIp, 'boot.dhcp.mode'),
          bootFiles: boot.bootFiles,
          scriptUrl: (mac) => `${httpBase()}/boot/ipxe/${mac}`,
          leaseSeconds: boot.dhcp.leaseSeconds,
          logger: log.child({ part: 'dhcp' }),
        });
  const tftpListen = boot.tftp.listen ?? `${boot.tftp.enabled ? requireServerIp(boot.serverIp, 'boot.tftp.enabled') : '127.0.0.1'}:69`;
  // The configured boot files are served by name even when the root holds them as symlinks out of it
  // (Debian's /usr/lib/ipxe/ipxe.efi → /boot/ipxe.efi), which the confined root lookup rightly refuses.
  const bootFileData = new Map<string, Buffer>();
  const loadBootFiles = async () => {
    for (const name of [boot.bootFiles.bios, boot.bootFiles.uefiX64, boot.bootFiles.arm64]) {
      if (!name) continue;
      for (const root of boot.tftp.roots) {
        const data = await readFile(path.join(root, name)).catch(() => undefined);
        if (data) {
          bootFileData.set(name, data);
          break;
        }
      }
      if (!bootFileData.has(name)) log.warn({ file: name, roots: boot.tftp.roots }, 'boot file not found in the TFTP roots');
    }
  };
  const tftp = boot.tftp.enabled
    ? new TftpServer({
        resolveDynamic: (p) => bootFileData.get(p),
        address: tftpListen.replace(/:\d+$/, ''),
        port: Number(tftpListen.split(':').pop()),
        roots: boot.tftp.roots,
        maxBlksize: boot.tftp.maxBlksize,
        maxWindowsize: boot.tftp.maxWindowsize,
        maxTransfers: boot.tftp.maxTransfers,
        logger: log.child({ part: 'tftp' }),
      })
    : undefined;

  // Consoles.
  const consoles = new ConsoleSessions(repos.console, repos.servers, inventory, { ...config.console, basePath: CONSOLE_BASE }, publicUrl);
  const vncProxy = new VncProxy({
    authority: consoles,
    path: `${CONSOLE_BASE}/ws`,
    allowedOrigins: config.console.allowedOrigins.map((o) => new URL(o).origin),
    connectTimeoutMs: config.console.connectTimeoutMs,
    handshakeTimeoutMs: config.console.handshakeTimeoutMs,
    idleTimeoutMs: config.console.idleTimeoutMs,
    maxConnectionsPerServer: config.console.maxConnectionsPerServer,
    maxConnectionsTotal: config.console.maxConnectionsTotal,
    logger: log.child({ part: 'console' }),
    onConnectionEnd: (rec) => consoles.recordConnection(rec),
  });
  consoles.onCloseLive((sessionId, reason) => vncProxy.closeSession(sessionId, reason));
  Object.assign(parts, { dhcp, tftp, vncProxy });
  const canSee = (p: Principal, serverId: number | null) => {
    if (can.seeAllServers(p)) return true;
    if (serverId === null) return false;
    try {
      inventory.show(p, serverId);
      return true;
    } catch {
      return false;
    }
  };

  // The faces: every route is a thin translation onto the services above.
  const http = await createHttpServer({
    log,
    version: VERSION,
    bodyLimit: config.http.bodyLimitBytes,
    authenticate: (req) => authenticate(req, repos.tokens),
    eq: {
      inventory,
      operations: { ...eqBmcHandlers(bmcOps), ...eqConsoleHandlers(consoles), ...eqNetbootHandlers(netbootOps) },
    },
    routes: [
      ...v1Routes({
        inventory,
        tasks,
        tokens: repos.tokens,
        importBodyLimit: config.http.importBodyLimitBytes,
        serverExtras: (id) => ({ netboot: netbootView(netboot, id) }),
      }),
      ...v1BmcRoutes(bmcOps, powerSync),
      ...v1ConsoleRoutes(consoles),
      ...v1NetbootRoutes({ ops: netbootOps, netboot, inventory, discovered: repos.discovered }),
      ...v1SwitchRoutes({ switches: repos.switches }),
      ...dciRoutes({
        inventory,
        operations: {
          power_on: (p, id) => ({ task: bmcOps.power(p, id, 'on').id }),
          power_off: (p, id) => ({ task: bmcOps.power(p, id, 'off').id }),
          power_reset: (p, id) => ({ task: bmcOps.power(p, id, 'reboot').id }),
          ...switchOperations(tasks),
          ...dciNetbootOperations(netbootOps),
        },
      }),
      ...dciIpamRoutes({ ipam, tasks }),
      ...sensorHistoryRoutes({ history: repos.sensors, inventory }),
    ],
    ready: () => ready,
  });
  registerConsolePage(http, { basePath: CONSOLE_BASE });
  registerConsoleTicketRoute(http, consoles, CONSOLE_BASE);
  registerBootRoutes(http, netboot, imagesDir);
  registerTaskEvents(http, { tasks, authenticate: (req) => authenticate(req, repos.tokens), canSee });
  registerWebPage(http);
  metrics.instrumentFastify(http);
  registerMetricsRoute(http, metrics, config.metrics.requireToken ? { authenticate: (req) => authenticate(req, repos.tokens) } : {});
  vncProxy.attach(http.server);
  const timers: NodeJS.Timeout[] = [];

  return {
    config,
    log,
    db,
    repos,
    inventory,
    tasks,
    http,
    parts: { bmc, simulated, netboot, sampler, powerSync, metrics, ipam },
    async start() {
      const settled = await tasks.recover();
      if (settled) log.warn({ settled }, 'settled tasks interrupted by the last stop');
      const { host, port } = splitListen(config.http.listen);
      await http.listen({ host, port });
      const addr = http.server.address() as AddressInfo;
      const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      boundUrl = `http://${shownHost}:${addr.port}`;
      if (tftp) {
        await loadBootFiles();
        const t = await tftp.start();
        log.info(t, 'TFTP listening');
      }
      if (dhcp) {
        await dhcp.start();
        log.info({ mode: boot.dhcp.mode, port: dhcp.port }, 'DHCP listening');
      }
      powerSync.start();
      sampler.start();
      timers.push(setInterval(() => consoles.expire(), 30_000).unref());
      timers.push(
        setInterval(() => repos.tasks.pruneFinishedBefore(new Date(Date.now() - config.tasks.retentionDays * 86400_000).toISOString()), 3600_000).unref(),
      );
      ready = true;
      return { url: boundUrl };
    },
    async stop() {
      ready = false;
      for (const t of timers) clearInterval(t);
      await powerSync.stop();
      await sampler.stop();
      await dhcp?.stop();
      await tftp?.stop();
      await vncProxy.close();
      await http.close();
      await tasks.stop();
      await bmc.close();
      db.close();
    },
  };
}

function requireServerIp(ip: string | undefined, what: string): string {
  if (!ip) throw new Error(`${what} needs boot.serverIp (rackhand's address on the hosts' network)`);
  return ip;
}

export function splitListen(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(listen);
  if (!m) throw new Error(`bad listen address ${listen}`);
  return { host: m[1], port: Number(m[2]) };
}
