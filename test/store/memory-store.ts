// An in-memory store for unit tests: the real migrations, the real repos, a fixed key, and a server input builder.
import { openDatabase, type Db } from '../../src/store/sqlite-store.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { ServersRepo } from '../../src/store/repos/servers-repo.js';
import { UsersRepo } from '../../src/store/repos/users-repo.js';
import { TasksRepo } from '../../src/store/repos/tasks-repo.js';
import { TokensRepo } from '../../src/store/repos/tokens-repo.js';
import { serverInputSchema, type ServerInput } from '../../src/domain/server.js';

export interface MemoryStore {
  db: Db;
  secrets: SecretBox;
  servers: ServersRepo;
  users: UsersRepo;
  tasks: TasksRepo;
  tokens: TokensRepo;
  /** Every value of every row of a table, as one string (to look for a secret in it). */
  dump(table: string): string;
}

export function memoryStore(): MemoryStore {
  const db = openDatabase(':memory:', MIGRATIONS);
  const secrets = SecretBox.fromKey(Buffer.alloc(32, 5));
  return {
    db,
    secrets,
    servers: new ServersRepo(db, secrets),
    users: new UsersRepo(db),
    tasks: new TasksRepo(db),
    tokens: new TokensRepo(db),
    dump: (table) => JSON.stringify(db.prepare(`SELECT * FROM ${table}`).all()),
  };
}

/** A valid server input (defaults filled in by the real schema), with `extra` over a minimal server. */
export function serverInput(id: number, extra: Record<string, unknown> = {}): ServerInput {
  return serverInputSchema.parse({ id, name: `srv-${id}`, ...extra });
}
