// A small rackhand for IPAM e2e tests: the agent's own pieces (store, TaskRunner, fastify server, real routes) on 127.0.0.1:0.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { authenticate } from '../../src/api/authenticate.js';
import { createHttpServer } from '../../src/api/http-server.js';
import { dciIpamRoutes } from '../../src/api/dci/dci-ipam-routes.js';
import { dciRoutes } from '../../src/api/dci/dci-routes.js';
import { v1Routes } from '../../src/api/v1/v1-routes.js';
import { InventoryService } from '../../src/core/inventory-service.js';
import { IpamRepo } from '../../src/ipam/ipam-repo.js';
import { IpamService } from '../../src/ipam/ipam-service.js';
import { ipamWorkflows } from '../../src/ipam/ipam-workflows.js';
import { createLogger } from '../../src/log.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { openDatabase } from '../../src/store/sqlite-store.js';
import { ServersRepo } from '../../src/store/repos/servers-repo.js';
import { TasksRepo } from '../../src/store/repos/tasks-repo.js';
import { TokensRepo } from '../../src/store/repos/tokens-repo.js';
import { UsersRepo } from '../../src/store/repos/users-repo.js';
import { TaskRunner } from '../../src/tasks/task-runner.js';

export async function startIpamServer() {
  const dir = mkdtempSync(path.join(tmpdir(), `rh-ipam-${process.pid}-`));
  const db = openDatabase(path.join(dir, 'rackhand.db'));
  const log = createLogger({ level: 'silent' });
  const servers = new ServersRepo(db, SecretBox.fromKey(randomBytes(32)));
  const users = new UsersRepo(db);
  const tokens = new TokensRepo(db);
  const inventory = new InventoryService(servers, users);
  const tasks = new TaskRunner(new TasksRepo(db), log);
  for (const wf of ipamWorkflows()) tasks.register(wf);
  const ipam = new IpamService(new IpamRepo(db), servers);
  const http = await createHttpServer({
    log,
    version: 'test',
    bodyLimit: 1 << 20,
    authenticate: (req) => authenticate(req, tokens),
    eq: { inventory, operations: {} },
    routes: [
      ...v1Routes({ inventory, tasks, tokens, importBodyLimit: 8 << 20 }),
      ...dciRoutes({ inventory, operations: {} }),
      ...dciIpamRoutes({ ipam, tasks }),
    ],
    ready: () => true,
  });
  await http.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(http.server.address() as AddressInfo).port}`;
  return {
    url,
    db,
    ipam,
    servers,
    users,
    tokens,
    async stop() {
      await http.close();
      await tasks.stop();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
