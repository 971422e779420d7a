// A real rackhand HTTP server in-process for the page, CLI and SSE tests: the spine's v1 routes, BMC routes
// over an in-memory `simulated` driver, sensor history, events, metrics, the page; the routes the lead has
// not wired yet (os, reinstall, console, discovered, adopt) as stand-ins with the agreed shapes.
import { setTimeout as sleep } from 'node:timers/promises';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { z } from 'zod';
import { openDatabase, type Db } from '../../src/store/sqlite-store.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { ServersRepo } from '../../src/store/repos/servers-repo.js';
import { TokensRepo } from '../../src/store/repos/tokens-repo.js';
import { UsersRepo } from '../../src/store/repos/users-repo.js';
import { TasksRepo } from '../../src/store/repos/tasks-repo.js';
import { DiscoveredRepo } from '../../src/store/repos/discovered-repo.js';
import { InventoryService } from '../../src/core/inventory-service.js';
import { BmcOperations } from '../../src/core/bmc-operations.js';
import { TaskRunner, type Workflow } from '../../src/tasks/task-runner.js';
import { bmcWorkflows } from '../../src/tasks/workflows/bmc-workflows.js';
import { BmcDrivers } from '../../src/bmc/bmc-drivers.js';
import { authenticate } from '../../src/api/authenticate.js';
import { createHttpServer } from '../../src/api/http-server.js';
import { v1Routes } from '../../src/api/v1/v1-routes.js';
import { v1BmcRoutes } from '../../src/api/v1/v1-bmc-routes.js';
import { route, type RouteSpec } from '../../src/api/route-table.js';
import { idParams } from '../../src/api/params.js';
import { registerTaskEvents } from '../../src/api/v1/v1-events.js';
import { can, describePrincipal, type Principal } from '../../src/auth/tokens.js';
import { registerConsolePage } from '../../src/console/console-page.js';
import { SENSOR_MIGRATION, SensorHistoryRepo, SensorSampler, sensorHistoryRoutes } from '../../src/sensors/index.js';
import { createMetrics, registerMetricsRoute, type Metrics } from '../../src/metrics/metrics.js';
import { registerWebPage } from '../../src/web/web-page.js';
import { demoDiscovered, demoServers } from '../../src/demo/demo-site.js';
import { macSchema } from '../../src/inventory/server-schema.js';
import { RackhandError } from '../../src/errors.js';
import { SimulatedDriver } from '../../src/bmc/simulated/simulated-driver.js';
import { BmcScheduler } from '../../src/bmc/bmc-scheduler.js';
import { instrumentBmcDriver } from '../../src/metrics/instrument-bmc-driver.js';
import type { BmcDriver } from '../../src/bmc/bmc-driver.js';

export interface TestSite {
  url: string;
  app: FastifyInstance;
  db: Db;
  tasks: TaskRunner;
  driver: SimulatedDriver;
  history: SensorHistoryRepo;
  sampler: SensorSampler;
  metrics: Metrics;
  discovered: DiscoveredRepo;
  tokens: { admin: string; tech: string; client: string };
  /** Event streams open now. */
  eventClients(): number;
  /** The user the client token belongs to. */
  ownerId: number;
  /** Bodies the stand-in routes received (root_pass replaced by its length). */
  requests: { url: string; body: unknown }[];
  /** Lets the stand-in reinstall workflow go past its "wait for the installer" step. */
  releaseReinstall(): void;
  close(): Promise<void>;
}

export const OS_LIST = [
  { id: 1, os_id: 'debian-12', name: 'Debian 12', family: 'debian' },
  { id: 2, os_id: 'ubuntu-24.04', name: 'Ubuntu 24.04', family: 'ubuntu' },
];

export async function startTestSite(opts: { stepDelayMs?: number } = {}): Promise<TestSite> {
  const log = pino({ level: 'silent' });
  const db = openDatabase(':memory:', [...MIGRATIONS, SENSOR_MIGRATION]);
  const secrets = SecretBox.fromKey(Buffer.alloc(32, 7));
  const servers = new ServersRepo(db, secrets);
  const tokensRepo = new TokensRepo(db);
  const users = new UsersRepo(db);
  const discovered = new DiscoveredRepo(db);
  const inventory = new InventoryService(servers, users);
  const tasks = new TaskRunner(new TasksRepo(db), log);
  const driver = new SimulatedDriver({ delayMs: 2, faultTimeoutMs: 200 });
  // The simulated BMC has no sensor in warning: add one, so the page has a threshold to highlight.
  const withWarning = new Proxy(driver, {
    get(target, prop) {
      if (prop === 'sensors') {
        return async (t: Parameters<BmcDriver['sensors']>[0]) => [
          ...(await target.sensors(t)),
          { name: 'Inlet Temp', type: 'temperature', value: 83, unit: 'degrees C', status: 'warning' as const, thresholds: { upperNonCritical: 80, upperCritical: 90 } },
        ];
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as BmcDriver;
  const metrics0: { m?: Metrics } = {};
  const scheduler = new BmcScheduler({ minSpacingMs: 5, operationTimeoutMs: 5_000, breakerThreshold: 1000 });
  const bmc = new BmcDrivers([scheduler.wrap(instrumentBmcDriver(withWarning, { observeBmcCommand: (...a) => metrics0.m?.observeBmcCommand(...a) }))], servers);
  for (const wf of bmcWorkflows({ bmc, servers, timing: { powerPollMs: 30, powerTimeoutMs: 5000, softOffTimeoutMs: 5000, bmcResetTimeoutMs: 5000 } })) {
    tasks.register(wf);
  }
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  const stepDelay = opts.stepDelayMs ?? 150;
  const reinstall: Workflow<{ os_id: number; hostname?: string }, { rootPass: string }> = {
    kind: 'reinstall',
    mutating: true,
    async run(ctx) {
      await ctx.step('arm network boot', () => sleep(stepDelay));
      await ctx.step('set boot device pxe', () => sleep(stepDelay));
      await ctx.step('power cycle', () => sleep(stepDelay));
      await ctx.step('wait for the installer', () => Promise.race([gate, new Promise((_, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason)))]));
      return { os_id: ctx.params.os_id };
    },
  };
  tasks.register(reinstall);
  const ops = new BmcOperations(inventory, tasks, 10_000);
  const history = new SensorHistoryRepo(db);
  const sampler = new SensorSampler({ history, serverIds: () => servers.idsWithBmc(), readSensors: (id) => bmc.call(id, (d, t) => d.sensors(t)) }, { enabled: false });

  inventory.import({ tokenId: 0, name: 'test', role: 'admin', ownerId: null }, demoServers({ vnc: { host: '127.0.0.1', port: 5999 } }));
  for (const c of demoDiscovered()) discovered.record(c);

  const requests: { url: string; body: unknown }[] = [];
  const seen = (url: string, body: unknown) => {
    const b = body && typeof body === 'object' ? { ...(body as Record<string, unknown>) } : body;
    if (b && typeof b === 'object' && 'root_pass' in b) (b as Record<string, unknown>).root_pass = `<${String((b as { root_pass: string }).root_pass).length} chars>`;
    requests.push({ url, body: b });
  };
  const standIns: RouteSpec[] = [
    route({ method: 'GET', url: '/api/v1/os', summary: 'OS catalogue', tag: 'os', handler: () => ({ list: OS_LIST }) }),
    route({
      method: 'POST',
      url: '/api/v1/servers/:id/reinstall',
      summary: 'Reinstall',
      tag: 'boot',
      params: idParams,
      body: z
        .object({ os_id: z.number().int(), root_pass: z.string().min(8).max(128), hostname: z.string().max(63).optional(), ssh_key: z.string().max(4096).optional() })
        .strict(),
      status: 202,
      handler: ({ principal, params, body }) => {
        inventory.show(principal, params.id);
        if (!OS_LIST.some((o) => o.id === body.os_id)) throw new RackhandError('INVALID_INPUT', 'os_id: unknown OS', { field: 'os_id' });
        seen(`/api/v1/servers/${params.id}/reinstall`, body);
        return tasks.submit('reinstall', { serverId: params.id, params: { os_id: body.os_id, hostname: body.hostname }, secrets: { rootPass: body.root_pass }, requestedBy: describePrincipal(principal) });
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/servers/:id/console',
      summary: 'Console session',
      tag: 'console',
      params: idParams,
      handler: ({ principal, params }) => {
        const s = inventory.show(principal, params.id);
        if (!s.console) throw new RackhandError('CONSOLE_ERROR', `server ${params.id} has no console target configured`);
        seen(`/api/v1/servers/${params.id}/console`, {});
        const key = `k${params.id}x${requests.length}`;
        const q = new URLSearchParams({ name: s.name, ticketUrl: `/api/v1/console/${key}/ticket` });
        return { key, url: `/console/?${q}#ticket=t-${key}` };
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/discovered',
      summary: 'Discovered MACs',
      tag: 'boot',
      handler: ({ principal }) => {
        if (!can.seeAllServers(principal)) throw new RackhandError('FORBIDDEN', 'this token may not list discovered machines');
        return { list: discovered.list() };
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/discovered/:mac/adopt',
      summary: 'Adopt a discovered MAC',
      tag: 'boot',
      params: z.object({ mac: macSchema }).strict(),
      body: z.record(z.string(), z.unknown()),
      status: 201,
      handler: ({ principal, params, body }) => {
        seen(`/api/v1/discovered/${params.mac}/adopt`, body);
        const { server } = inventory.upsert(principal, { ...body, interfaces: [{ name: 'eth0', mac: params.mac }] });
        discovered.remove(params.mac);
        return server;
      },
    }),
  ];

  const metrics = createMetrics({
    info: { version: 'test', site: 'test-site' },
    taskCounts: () => db.prepare('SELECT kind, state, count(*) AS count FROM tasks GROUP BY kind, state').all() as { kind: string; state: string; count: number }[],
    bmcReachability: () =>
      (db.prepare('SELECT id, bmc_reachable FROM servers WHERE bmc_driver IS NOT NULL').all() as { id: number; bmc_reachable: number | null }[]).map((r) => ({
        serverId: r.id,
        reachable: r.bmc_reachable === null ? null : r.bmc_reachable === 1,
      })),
    dhcp: () => ({ received: 10, offers: 4, acks: 3, naks: 0 }),
    tftp: () => ({ requests: 7, transfersOk: 5, activeTransfers: 1, bytesSent: 123456 }),
    console: () => ({ activeConnections: 0, activeSessions: 0, connectionsTotal: 2, bytesUp: 100, bytesDown: 5000, closes: { '4001': 1 } }),
    sensors: () => history.latest(),
    stateDir: process.cwd(),
  });
  metrics0.m = metrics;

  const auth = (req: Parameters<typeof authenticate>[0]) => authenticate(req, tokensRepo);
  const app = await createHttpServer({
    log,
    version: 'test',
    bodyLimit: 1 << 20,
    authenticate: auth,
    eq: { inventory, operations: {} },
    routes: [
      ...v1Routes({ inventory, tasks, tokens: tokensRepo, importBodyLimit: 8 << 20 }),
      ...v1BmcRoutes(ops),
      ...sensorHistoryRoutes({ history, inventory }),
      ...standIns,
    ],
    ready: () => true,
  });
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
  const events = registerTaskEvents(app, { tasks, authenticate: auth, canSee, heartbeatMs: 1000 });
  registerWebPage(app);
  registerConsolePage(app);
  metrics.instrumentFastify(app);
  registerMetricsRoute(app, metrics);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;

  const owner = users.create({ email: `owner-${process.pid}@example.com` });
  return {
    url: `http://127.0.0.1:${port}`,
    app,
    db,
    tasks,
    driver,
    history,
    sampler,
    metrics,
    discovered,
    tokens: {
      admin: tokensRepo.create({ name: 'admin', role: 'admin' }).token,
      tech: tokensRepo.create({ name: 'tech', role: 'tech' }).token,
      client: tokensRepo.create({ name: 'client', role: 'client', ownerId: owner.id }).token,
    },
    ownerId: owner.id,
    eventClients: () => events.clients(),
    requests,
    releaseReinstall() {
      release();
      gate = new Promise<void>((r) => (release = r));
    },
    async close() {
      await sampler.stop();
      await app.close();
      await tasks.stop();
      db.close();
    },
  };
}
