// The composition root: createAgent(config) builds the store, the protocol planes, the core capabilities and
// the faces, in that order; start() and stop() run them. The only module that knows every part.
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { ResolvedConfig } from './config.js';
import { createLogger, type Logger } from './log.js';
import { VERSION } from './version.js';
// store
import { SecretBox } from './store/secret-box.js';
import { databaseFile, openDatabase, type Db } from './store/sqlite-store.js';
import { MIGRATIONS } from './store/migrations.js';
import { ServersRepo } from './store/repos/servers-repo.js';
import { TokensRepo } from './store/repos/tokens-repo.js';
import { UsersRepo } from './store/repos/users-repo.js';
import { TasksRepo } from './store/repos/tasks-repo.js';
import { ConsoleRepo } from './store/repos/console-repo.js';
import { NetbootRepo } from './store/repos/netboot-repo.js';
import { DiscoveredRepo } from './store/repos/discovered-repo.js';
import { IpamRepo } from './store/repos/ipam-repo.js';
import { SwitchesRepo } from './store/repos/switches-repo.js';
import { SensorHistoryRepo } from './store/repos/sensor-history-repo.js';
import { BmcAccountsRepo } from './store/repos/bmc-accounts-repo.js';
import { ImagesRepo } from './store/repos/images-repo.js';
import { ImageStore } from './images/image-store.js';
import { Catalogue } from './core/catalogue.js';
import { AuditRepo } from './store/repos/audit-repo.js';
import { BootHistoryRepo } from './store/repos/boot-history-repo.js';
import { CertificatePinsRepo } from './store/repos/certificate-pins-repo.js';
import { EventLogRepo } from './store/repos/event-log-repo.js';
// planes
import { BmcScheduler } from './bmc/bmc-scheduler.js';
import { BmcDrivers } from './bmc/bmc-drivers.js';
import type { BmcDriver } from './bmc/bmc-driver.js';
import { IpmiThreadDriver } from './bmc/ipmi/ipmi-thread.js';
import { IpmitoolDriver } from './bmc/ipmitool/ipmitool-driver.js';
import { RedfishDriver } from './bmc/redfish/redfish-driver.js';
import { SimulatedDriver } from './bmc/simulated/simulated-driver.js';
import { PowerSync } from './bmc/power-sync.js';
import { SensorSampler } from './bmc/sensor-sampler.js';
import { DhcpServer } from './boot/dhcp/dhcp-server.js';
import { TftpServer } from './boot/tftp/tftp-server.js';
import { bootUrls } from './boot/boot-urls.js';
import { bootRoutes } from './boot/http/boot-routes.js';
import { TemplateDir, DEFAULT_TEMPLATE_ROOT, defaultOsCatalogue, osCatalogueSchema } from './boot/templates/index.js';
import { VncProxy } from './console/vnc-proxy.js';
import { consoleRoutes } from './console/console-routes.js';
import { SwitchPortService } from './switch/switch-port-service.js';
import { createMetrics, metricsRoutes } from './metrics/metrics.js';
import { instrumentBmcDriver } from './metrics/instrument-bmc-driver.js';
// tasks and core
import { TaskRunner } from './tasks/task-runner.js';
import { bmcWorkflows } from './tasks/workflows/bmc-workflows.js';
import { netbootWorkflows } from './tasks/workflows/netboot-workflows.js';
import { ipamWorkflows } from './tasks/workflows/ipam-workflows.js';
import { switchWorkflows } from './tasks/workflows/switch-workflows.js';
import { imageWorkflows } from './tasks/workflows/image-workflows.js';
import { noopWorkflow } from './tasks/workflows/noop-workflow.js';
import { installCallbackWorkflow } from './tasks/workflows/install-callback-workflow.js';
import type { Core } from './core/core.js';
import { Servers } from './core/servers.js';
import { ServerViews } from './core/server-views.js';
import { Power } from './core/power.js';
import { Deploys } from './core/deploys.js';
import { Netboot } from './core/netboot.js';
import { InstallPlans } from './core/install-plans.js';
import { NetbootContent } from './core/boot-content.js';
import { BootIsos } from './core/boot-isos.js';
import { Discovered } from './core/discovered.js';
import { Consoles } from './core/consoles.js';
import { Ipam } from './core/ipam.js';
import { SwitchPorts } from './core/switch-ports.js';
import { SensorHistory } from './core/history.js';
import { Tasks } from './core/tasks.js';
import { Tokens } from './core/tokens.js';
import { Images } from './core/images.js';
import { Audit } from './core/audit.js';
import { BootHistory } from './core/boot-history.js';
import { BmcTrust } from './core/bmc-trust.js';
import { EventLogs } from './core/event-logs.js';
import { CALLBACK_KEY_LABEL, PostInstallNotifier } from './core/post-install-notifier.js';
// faces
import { authenticate } from './api/authenticate.js';
import { createHttpServer } from './api/http-server.js';
import { eqFace } from './api/eq/eq-face.js';
import { dciFace } from './api/dci/dci-face.js';
import { v1Face } from './api/v1/v1-face.js';
import { closeTaskEvents } from './api/v1/v1-events.js';
import { webPageRouter } from './web/web-page.js';
import { tcpCongestionControlProblem } from './native/file-sender.js';

/** The store and its repositories alone: what the bootstrap CLI commands need, without servers. */
export function openState(config: ResolvedConfig) {
  const secrets = SecretBox.fromKeyFile(config.secrets.keyFile);
  const db = openDatabase(databaseFile(config.stateDir), MIGRATIONS);
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
    bmcAccounts: new BmcAccountsRepo(db),
    images: new ImagesRepo(db),
    audit: new AuditRepo(db),
    bootHistory: new BootHistoryRepo(db),
    certificatePins: new CertificatePinsRepo(db),
    eventLogs: new EventLogRepo(db),
  };
  const images = new ImageStore(imagesDirOf(config), repos.images);
  return { secrets, db, repos, images };
}

export type Repos = ReturnType<typeof openState>['repos'];

/** Kernels, initrds and disk images: boot.imagesDir, by default <stateDir>/images. */
export function imagesDirOf(config: ResolvedConfig): string {
  return path.resolve(config.stateDir, config.boot.imagesDir ?? 'images');
}

export interface Agent {
  config: ResolvedConfig;
  log: Logger;
  db: Db;
  repos: Repos;
  core: Core;
  tasks: TaskRunner;
  /** Parts in-process tests and the demo reach into (the simulated BMCs, sensor history, netboot state). */
  parts: {
    bmc: BmcDrivers;
    simulated?: SimulatedDriver;
    content: NetbootContent;
    images: ImageStore;
    sampler: SensorSampler;
    powerSync: PowerSync;
    metrics: ReturnType<typeof createMetrics>;
  };
  start(): Promise<{ url: string }>;
  /** graceful: the SIGTERM stop (running BMC operations finish, deploys stay resumable). */
  stop(opts?: { graceful?: boolean }): Promise<void>;
  /** Applies the reloadable keys of a new configuration (see RELOADABLE_KEYS in config.ts). */
  reload(next: ResolvedConfig): void;
}

const CONSOLE_BASE = '/console';

export async function createAgent(config: ResolvedConfig, opts: { log?: Logger } = {}): Promise<Agent> {
  const log = opts.log ?? createLogger({ level: config.log.level });
  const { db, repos, secrets, images } = openState(config);
  let ready = false;
  let boundUrl = '';
  const publicUrl = () => config.http.publicUrl?.replace(/\/$/, '') ?? boundUrl;

  // Metrics read every part through getters, so they are made first and filled as the parts appear.
  const parts: { dhcp?: DhcpServer; tftp?: TftpServer; vncProxy?: VncProxy; ipmi?: IpmiThreadDriver } = {};
  const metrics = createMetrics({
    info: { version: VERSION, site: config.site.name },
    taskCounts: () => repos.tasks.countsByKindAndState(),
    bmcReachability: () => repos.servers.bmcReachability(),
    bmcRejectedDatagrams: () => ({ ...(parts.ipmi?.stats().rejectedByReason ?? {}) }),
    ipmi: (): Record<string, number> => {
      const s = parts.ipmi?.stats();
      return s ? { sessionsOpened: s.sessionsOpened, handshakes: s.handshakes, retransmits: s.retransmits } : {};
    },
    dhcp: () => ({ ...(parts.dhcp?.counters ?? {}) }),
    tftp: () => ({ ...(parts.tftp?.stats() ?? {}) }),
    console: () => parts.vncProxy!.stats(),
    sensors: () => repos.sensors.latest(),
    eventLogCritical: () => repos.eventLogs.criticalTotals(),
    stateDir: config.stateDir,
  });
  const tasks = new TaskRunner(repos.tasks, log);

  // ---- BMC plane: every driver goes through one scheduler (one command per BMC, spacing, global cap, breaker).
  const scheduler = new BmcScheduler(config.bmc.scheduler);
  // The simulated driver answers for BMCs that do not exist: only demo and test configurations get it.
  const simulated = config.bmc.allowSimulated ? new SimulatedDriver({ delayMs: config.bmc.simulatedDelayMs }) : undefined;
  // Its own thread: a site sweep's handshakes and packet crypto do not queue the API's requests behind them.
  parts.ipmi = new IpmiThreadDriver({ reuseSessions: config.bmc.ipmi.keepSessions });
  const drivers: BmcDriver[] = [
    parts.ipmi,
    new IpmitoolDriver({ binary: config.bmc.ipmitoolPath, logger: log.child({ part: 'ipmitool' }) }),
    new RedfishDriver({ trust: { mode: 'pin', pins: repos.certificatePins }, logger: log.child({ part: 'redfish' }) }),
    ...(simulated ? [simulated] : []),
  ];
  const bmc = new BmcDrivers(
    drivers.map((d) => scheduler.wrap(instrumentBmcDriver(d, metrics))),
    repos.servers,
    (id, code) => repos.servers.recordBmcError(id, code),
  );
  const powerSync = new PowerSync(repos.servers, bmc, config.bmc.sync, log.child({ part: 'power-sync' }));
  const eventLogs = new EventLogs(repos.servers, repos.eventLogs, tasks, config.bmc.sensorsWaitMs);
  const sampler = new SensorSampler(
    {
      history: repos.sensors,
      serverIds: () => repos.servers.idsWithBmc(),
      readSensors: (id) => bmc.call(id, (d, t) => d.sensors(t)),
      readPower: (id) => bmc.call(id, (d, t) => d.powerReading(t)),
      readEventLog: (id) => bmc.call(id, (d, t) => d.readEventLog(t)),
      onEventLog: (id, entries) => eventLogs.observe(id, entries),
      log: log.child({ part: 'sensors' }),
    },
    {
      enabled: config.sensors.enabled,
      intervalMs: config.sensors.intervalMs,
      retentionMs: config.sensors.retentionDays * 86400_000,
      eventLogIntervalMs: config.sensors.eventLogIntervalMs,
    },
  );

  // ---- Boot plane.
  const boot = config.boot;
  const catalogue = new Catalogue(boot.osCatalogue ? osCatalogueSchema.parse({ ...defaultOsCatalogue, ...boot.osCatalogue }) : defaultOsCatalogue, images);
  const imagesDir = images.dir;
  const congestionProblem = tcpCongestionControlProblem(boot.imageCongestionControl);
  if (congestionProblem) log.warn(`boot.imageCongestionControl: ${congestionProblem}; image bodies go with the system's`);
  const imageCongestionControl = congestionProblem ? '' : boot.imageCongestionControl;
  const urls = () =>
    bootUrls(boot.httpUrl ?? (boot.serverIp ? `http://${boot.serverIp}:${new URL(publicUrl()).port || 80}` : publicUrl()));
  const ipam = new Ipam(repos.ipam, repos.servers, tasks);
  const plans = new InstallPlans({ catalogue, urls, network: boot.network, hostNetwork: (id) => ipam.hostNetwork(id) });
  // Every boot server reports what it did per host through this one sink (DHCP and TFTP as `onBootEvent`).
  const bootHistory = new BootHistory(repos.bootHistory, repos.servers, () => content, config.bootHistory, log.child({ part: 'boot-history' }));
  const onBootEvent = bootHistory.sink;
  const netboot = new Netboot(repos.servers, repos.netboot, plans, tasks, log.child({ part: 'netboot' }), onBootEvent);
  // Virtual-media deploys: each host's own boot ISO, kept while its install is armed.
  const isos = new BootIsos({ dir: path.join(config.stateDir, 'boot-iso'), plans, urls });
  const content = new NetbootContent(
    repos.servers,
    repos.netboot,
    repos.discovered,
    plans,
    catalogue,
    images,
    {
      templates: new TemplateDir(boot.templatesDir ?? DEFAULT_TEMPLATE_ROOT),
      verifyClient: boot.verifyClient,
      lldpWaitSeconds: boot.lldpWaitSeconds,
      onBootEvent,
      bootIsoFile: (token) => isos.file(token),
    },
    log.child({ part: 'netboot' }),
  );
  const dhcp =
    boot.dhcp.mode === 'off'
      ? undefined
      : new DhcpServer({
          mode: boot.dhcp.mode,
          lookup: content,
          listenAddress: boot.dhcp.listenAddress,
          port: boot.dhcp.port,
          proxyPort: boot.dhcp.proxyPort,
          reuseAddr: boot.dhcp.reuseAddr,
          broadcastAddress: boot.dhcp.broadcastAddress,
          serverIp: requireServerIp(boot.serverIp, 'boot.dhcp.mode'),
          bootFiles: boot.bootFiles,
          scriptUrl: (mac) => urls().script(mac),
          bootFileUrl: (file) => urls().file(file),
          leaseSeconds: boot.dhcp.leaseSeconds,
          onBootEvent,
          logger: log.child({ part: 'dhcp' }),
        });
  // The configured boot files are served by name even when the root holds them as symlinks out of it
  // (Debian's /usr/lib/ipxe/ipxe.efi → /boot/ipxe.efi), which the confined root lookup rightly refuses.
  const bootFileData = new Map<string, Buffer>();
  const loadBootFiles = async (warn: boolean) => {
    for (const name of [boot.bootFiles.bios, boot.bootFiles.uefiX64, boot.bootFiles.arm64]) {
      if (!name) continue;
      for (const root of boot.tftp.roots) {
        const data = await readFile(path.join(root, name)).catch(() => undefined);
        if (data) {
          bootFileData.set(name, data);
          break;
        }
      }
      if (!bootFileData.has(name) && warn) log.warn({ file: name, roots: boot.tftp.roots }, 'boot file not found in the TFTP roots');
    }
  };
  const tftpListen = boot.tftp.listen ?? `${boot.tftp.enabled ? requireServerIp(boot.serverIp, 'boot.tftp.enabled') : '127.0.0.1'}:69`;
  const tftp = boot.tftp.enabled
    ? new TftpServer({
        resolveDynamic: (p) => bootFileData.get(p),
        address: tftpListen.replace(/:\d+$/, ''),
        port: Number(tftpListen.split(':').pop()),
        roots: boot.tftp.roots,
        maxBlksize: boot.tftp.maxBlksize,
        maxWindowsize: boot.tftp.maxWindowsize,
        maxTransfers: boot.tftp.maxTransfers,
        maxTransfersPerClient: boot.tftp.maxTransfersPerClient,
        engine: boot.tftp.engine,
        onBootEvent,
        logger: log.child({ part: 'tftp' }),
      })
    : undefined;

  // ---- Switch ports (SNMP).
  const switchPortService = new SwitchPortService(repos.switches, {}, log.child({ part: 'switch' }));

  // ---- Core: the capabilities every face calls.
  const servers = new Servers(repos.servers, repos.users, config.bmc.allowSimulated);
  const notifier = new PostInstallNotifier(secrets.derive(CALLBACK_KEY_LABEL), {
    allowedHosts: config.central.callbackHosts,
    attempts: config.central.callbackAttempts,
    backoffMs: config.central.callbackBackoffMs,
  });
  const consoles = new Consoles(repos.console, repos.servers, { ...config.console, basePath: CONSOLE_BASE }, publicUrl);
  const deploys = new Deploys(repos.servers, repos.users, tasks, netboot, notifier, catalogue, config.site.name, isos);
  const core: Core = {
    servers,
    power: new Power(
      repos.servers,
      repos.bmcAccounts,
      tasks,
      { sensorsWaitMs: config.bmc.sensorsWaitMs, maxAddedBmcUsers: config.bmc.maxAddedUsers },
      { power: powerSync, sensors: sampler },
      repos.sensors,
    ),
    deploys,
    views: new ServerViews(servers, ipam, netboot, repos.tasks, repos.users),
    netboot,
    discovered: new Discovered(repos.discovered, servers, (p, id) => deploys.diagnostics(p, id, { manualPower: true })),
    consoles,
    ipam,
    switchPorts: new SwitchPorts(repos.switches, repos.servers, tasks),
    history: new SensorHistory(repos.servers, repos.sensors),
    tasks: new Tasks(tasks, repos.servers),
    tokens: new Tokens(repos.tokens, repos.users),
    images: new Images(images, catalogue, repos.netboot, tasks),
    audit: new Audit(repos.audit, config.audit),
    bootHistory,
    bmcTrust: new BmcTrust(repos.servers, repos.certificatePins),
    eventLogs,
  };

  // ---- Workflows: what each task kind does.
  const timing = config.bmc;
  for (const wf of [
    ...bmcWorkflows({ bmc, servers: repos.servers, timing, accounts: repos.bmcAccounts }),
    ...netbootWorkflows({
      bmc,
      servers: repos.servers,
      timing,
      netboot,
      notifier,
      installTimeoutMs: boot.installTimeoutMs,
      rebootGraceMs: boot.rebootGraceMs,
      isos,
      httpBootUri: () => (bootFileData.has(boot.bootFiles.uefiX64) ? urls().file(boot.bootFiles.uefiX64) : undefined),
    }),
    ...ipamWorkflows(),
    ...switchWorkflows({ ports: switchPortService, servers: repos.servers }),
    ...imageWorkflows(images),
    noopWorkflow(),
    installCallbackWorkflow({ notifier }),
  ]) {
    tasks.register(wf);
  }

  // ---- Console proxy.
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

  // ---- Faces: every route is a row of a face's table, mounted by one loop.
  const authenticateRequest = (req: Parameters<typeof authenticate>[0]) => authenticate(req, repos.tokens);
  const { server: httpServer } = createHttpServer({
    log,
    version: VERSION,
    ready: () => ready,
    core,
    authenticate: authenticateRequest,
    bodyLimit: config.http.bodyLimitBytes,
    importBodyLimit: config.http.importBodyLimitBytes,
    audit: (entry) => core.audit.record(entry),
    middleware: [metrics.httpTimer()],
    faces: [
      eqFace,
      dciFace,
      v1Face,
      bootRoutes({ content, reports: netboot, imagesDir, bootFile: (name) => bootFileData.get(name), log, imageCongestionControl }),
      consoleRoutes({ basePath: CONSOLE_BASE, refreshTicket: (key, remote) => consoles.refreshTicket(key, remote) }),
      metricsRoutes(metrics, config.metrics.requireToken ? { authenticate: authenticateRequest } : {}),
      webPageRouter(),
    ],
  });
  vncProxy.attach(httpServer);
  const timers: NodeJS.Timeout[] = [];

  return {
    config,
    log,
    db,
    repos,
    core,
    tasks,
    parts: { bmc, simulated, content, images, sampler, powerSync, metrics },
    async start() {
      const { resumed, settled } = await tasks.recover();
      if (resumed || settled) log.warn({ resumed, settled }, 'tasks interrupted by the last stop: resumed or settled');
      const { host, port } = splitListen(config.http.listen);
      await new Promise<void>((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen({ host, port }, () => {
          httpServer.off('error', reject);
          resolve();
        });
      });
      const addr = httpServer.address() as AddressInfo;
      const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      boundUrl = `http://${shownHost}:${addr.port}`;
      // TFTP serves the boot files, and so does HTTP for UEFI HTTP boot clients (DHCP, or a BMC's one-time UEFI HTTP
      // boot, hands them its URL).
      await loadBootFiles(!!(tftp || dhcp));
      const stale = isos.prune(repos.netboot.all().filter((n) => !n.callbackAt).map((n) => n.token));
      if (stale) log.info({ removed: stale }, 'removed boot ISOs of installs that are over');
      if (tftp) log.info(await tftp.start(), 'TFTP listening');
      if (dhcp) {
        await dhcp.start();
        log.info({ mode: boot.dhcp.mode, port: dhcp.port }, 'DHCP listening');
      }
      powerSync.start();
      sampler.start();
      timers.push(setInterval(() => consoles.expire(), 30_000).unref());
      const prune = () => {
        repos.tasks.pruneFinishedBefore(new Date(Date.now() - config.tasks.retentionDays * 86400_000).toISOString());
        core.audit.prune();
        bootHistory.prune();
      };
      prune();
      timers.push(setInterval(prune, 3600_000).unref());
      ready = true;
      return { url: boundUrl };
    },
    reload(next) {
      log.level = next.log.level;
    },
    async stop(o = {}) {
      ready = false;
      for (const t of timers) clearInterval(t);
      await powerSync.stop();
      await sampler.stop();
      await dhcp?.stop();
      await tftp?.stop();
      // Tasks waiting for an installer are left to resume at the next start; on a graceful stop (SIGTERM) the
      // others may finish their BMC work first.
      await tasks.stop({ graceMs: o.graceful ? config.tasks.stopGraceMs : 0 });
      closeTaskEvents(core);
      await vncProxy.close();
      await new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections();
      });
      await bmc.close();
      bootHistory.close();
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
