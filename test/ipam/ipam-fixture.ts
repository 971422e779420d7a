// Test fixture: an in-memory store with the core and IPAM migrations, servers, and principals of every role.
import { randomBytes } from 'node:crypto';
import type { Principal } from '../../src/auth/tokens.js';
import { Servers } from '../../src/core/servers.js';
import { Ipam } from '../../src/core/ipam.js';
import { IpamRepo } from '../../src/store/repos/ipam-repo.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { TasksRepo } from '../../src/store/repos/tasks-repo.js';
import { TaskRunner } from '../../src/tasks/task-runner.js';
import { ipamWorkflows } from '../../src/tasks/workflows/ipam-workflows.js';
import { createLogger } from '../../src/log.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { openDatabase, type Db } from '../../src/store/sqlite-store.js';
import { ServersRepo } from '../../src/store/repos/servers-repo.js';
import { UsersRepo } from '../../src/store/repos/users-repo.js';
import { makeServers } from '../harness/fixtures.js';

export const ADMIN: Principal = { tokenId: 1, name: 'admin', role: 'admin', ownerId: null };
export const TECH: Principal = { tokenId: 2, name: 'tech', role: 'tech', ownerId: null };

export function ipamFixture(file = ':memory:', servers = 10) {
  const db: Db = openDatabase(file, MIGRATIONS);
  const secrets = SecretBox.fromKey(randomBytes(32));
  const serversRepo = new ServersRepo(db, secrets);
  const users = new UsersRepo(db);
  const inventory = new Servers(serversRepo, users, true);
  const owner = users.create({ email: `owner-${process.pid}@example.com`, password: 'correct-horse-9' });
  inventory.import(ADMIN, makeServers(servers, 1, { ownerId: (id) => (id === 1 ? owner.id : undefined) }));
  const client: Principal = { tokenId: 3, name: 'client', role: 'client', ownerId: owner.id };
  const tasks = new TaskRunner(new TasksRepo(db), createLogger({ level: 'silent' }));
  for (const wf of ipamWorkflows()) tasks.register(wf);
  const ipam = new Ipam(new IpamRepo(db), serversRepo, tasks);
  return { db, secrets, serversRepo, users, inventory, ipam, owner, client };
}
