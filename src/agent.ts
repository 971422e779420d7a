// The composition root: createAgent(config) wires every part; start() and stop() run them in order.
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import type { ResolvedConfig } from './config.js';
import { createLogger, type Logger } from './log.js';
import { SecretBox } from './store/secret-box.js';
import { databaseFile, openDatabase, type Db } from './store/sqlite-store.js';
import { ServersRepo } from './store/repos/servers-repo.js';
import { TokensRepo } from './store/repos/tokens-repo.js';
import { UsersRepo } from './store/repos/users-repo.js';
import { TasksRepo } from './store/repos/tasks-repo.js';
import { InventoryService } from './core/inventory-service.js';
import { TaskRunner } from './tasks/task-runner.js';
import { authenticate } from './api/authenticate.js';
import { createHttpServer } from './api/http-server.js';
import { v1Routes } from './api/v1/v1-routes.js';
import { dciRoutes } from './api/dci/dci-routes.js';
import { VERSION } from './version.js';
import { ConsoleRepo } from './store/repos/console-repo.js';
import { ConsoleSessions } from './console/console-sessions.js';
import { VncProxy } from './console/vnc-proxy.js';
import { registerConsolePage } from './console/console-page.js';
import { eqConsoleHandlers, registerConsoleTicketRoute, v1ConsoleRoutes } from './api/console-routes.js';

export interface Agent {
  config: ResolvedConfig;
  log: Logger;
  db: Db;
  repos: ReturnType<typeof openState>['repos'];
  inventory: InventoryService;
  tasks: TaskRunner;
  http: FastifyInstance;
  start(): Promise<{ url: string }>;
  stop(): Promise<void>;
}

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
  };
  return { secrets, db, repos };
}

export async function createAgent(config: ResolvedConfig, opts: { log?: Logger } = {}): Promise<Agent> {
  const log = opts.log ?? createLogger({ level: config.log.level });
  const { db, repos } = openState(config);
  const inventory = new InventoryService(repos.servers, repos.users);
  const tasks = new TaskRunner(repos.tasks, log);
  let ready = false;
  let boundUrl = '';
  const publicUrl = () => config.http.publicUrl?.replace(/\/$/, '') ?? boundUrl;

  const CONSOLE_BASE = '/console';
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

  const http = await createHttpServer({
    log,
    version: VERSION,
    bodyLimit: config.http.bodyLimitBytes,
    authenticate: (req) => authenticate(req, repos.tokens),
    eq: { inventory, operations: { ...eqConsoleHandlers(consoles) } },
    routes: [
      ...v1Routes({ inventory, tasks, tokens: repos.tokens, importBodyLimit: config.http.importBodyLimitBytes }),
      ...v1ConsoleRoutes(consoles),
      ...dciRoutes({ inventory, operations: {} }),
    ],
    ready: () => ready,
  });
  registerConsolePage(http, { basePath: CONSOLE_BASE });
  registerConsoleTicketRoute(http, consoles, CONSOLE_BASE);
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
    async start() {
      const settled = await tasks.recover();
      if (settled) log.warn({ settled }, 'settled tasks interrupted by the last stop');
      const { host, port } = splitListen(config.http.listen);
      await http.listen({ host, port });
      const addr = http.server.address() as AddressInfo;
      const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      boundUrl = `http://${shownHost}:${addr.port}`;
      timers.push(setInterval(() => consoles.expire(), 30_000).unref());
      ready = true;
      return { url: boundUrl };
    },
    async stop() {
      ready = false;
      for (const t of timers) clearInterval(t);
      await vncProxy.close();
      await http.close();
      await tasks.stop();
      db.close();
    },
  };
}

export function splitListen(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(listen);
  if (!m) throw new Error(`bad listen address ${listen}`);
  return { host: m[1], port: Number(m[2]) };
}
