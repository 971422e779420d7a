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

export interface Agent {
  config: ResolvedConfig;
  log: Logger;
  db: Db;
  repos: { servers: ServersRepo; tokens: TokensRepo; users: UsersRepo; tasks: TasksRepo };
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
  };
  return { secrets, db, repos };
}

export async function createAgent(config: ResolvedConfig, opts: { log?: Logger } = {}): Promise<Agent> {
  const log = opts.log ?? createLogger({ level: config.log.level });
  const { db, repos } = openState(config);
  const inventory = new InventoryService(repos.servers, repos.users);
  const tasks = new TaskRunner(repos.tasks, log);
  let ready = false;

  const http = await createHttpServer({
    log,
    version: VERSION,
    bodyLimit: config.http.bodyLimitBytes,
    authenticate: (req) => authenticate(req, repos.tokens),
    eq: { inventory, operations: {} },
    routes: [
      ...v1Routes({ inventory, tasks, tokens: repos.tokens, importBodyLimit: config.http.importBodyLimitBytes }),
      ...dciRoutes({ inventory, operations: {} }),
    ],
    ready: () => ready,
  });

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
      ready = true;
      const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
      return { url: `http://${shownHost}:${addr.port}` };
    },
    async stop() {
      ready = false;
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
