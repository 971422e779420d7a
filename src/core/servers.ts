// The inventory capability: servers (list, show, import, change, adopt, remove), their owners and the users who own them.
import { z } from 'zod';
import { RackhandError } from '../errors.js';
import type { Principal } from '../auth/tokens.js';
import { serverInputSchema, type ServerFilter, type ServerInput, type ServerRecord } from '../domain/server.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { UsersRepo, UserRecord } from '../store/repos/users-repo.js';
import { can, requireAllowed, requireVisibleServer } from './access.js';
import { parseInput } from './validate.js';
import type { Page, Paged } from './page.js';

export const newUserSchema = z
  .object({
    email: z.email().max(254),
    fullName: z.string().max(255).optional(),
    phoneNumber: z.string().max(64).optional(),
    role: z.string().max(32).regex(/^[a-z_]*$/).optional(),
    password: z.string().min(8).max(256).optional(),
  })
  .strict();
export type NewUser = z.infer<typeof newUserSchema>;

export class Servers {
  constructor(
    private readonly servers: ServersRepo,
    private readonly users: UsersRepo,
    /** The `simulated` BMC driver is accepted only where the configuration allows it (demo, tests). */
    private readonly allowSimulatedBmc: boolean,
  ) {}

  list(p: Principal, filter: ServerFilter): { servers: ServerRecord[]; total: number } {
    return this.servers.list(can.seeAllServers(p) ? filter : { ...filter, ownerId: p.ownerId ?? -1 });
  }

  show(p: Principal, id: number): ServerRecord {
    return requireVisibleServer(p, this.servers.get(id), id);
  }

  /** Validate every item first, then write all in one transaction: a bad item writes nothing. */
  import(p: Principal, items: unknown): { created: number; updated: number } {
    requireAllowed(can.manageInventory(p), 'change the inventory');
    const list = parseInput(z.array(serverInputSchema).max(100_000), items, 'servers');
    const seen = new Set<number>();
    for (const [n, s] of list.entries()) {
      if (seen.has(s.id)) throw new RackhandError('INVALID_INPUT', `servers[${n}].id: id ${s.id} appears twice`, { field: `servers.${n}.id` });
      seen.add(s.id);
    }
    this.check(list);
    return this.servers.upsertMany(list);
  }

  upsert(p: Principal, input: unknown): { server: ServerRecord; created: boolean } {
    requireAllowed(can.manageInventory(p), 'change the inventory');
    const s = parseInput(serverInputSchema, input, 'server');
    this.check([s]);
    const r = this.servers.upsertMany([s]);
    return { server: this.servers.get(s.id)!, created: r.created === 1 };
  }

  /** A new server from a discovered MAC; never replaces an existing one. */
  adopt(p: Principal, input: Record<string, unknown>): ServerRecord {
    requireAllowed(can.adoptDiscovered(p), 'adopt discovered hosts');
    if (!can.manageInventory(p) && (input.bmc !== undefined || input.console !== undefined || input.owner_id !== undefined)) {
      throw new RackhandError('FORBIDDEN', 'this token may adopt hosts but not set their BMC, console or owner', { field: 'bmc' });
    }
    const s = parseInput(serverInputSchema, input, 'server');
    if (this.servers.exists(s.id)) throw new RackhandError('CONFLICT', `server ${s.id} exists already`, { field: 'id' });
    this.check([s]);
    this.servers.upsertMany([s]);
    return this.servers.get(s.id)!;
  }

  remove(p: Principal, id: number): void {
    requireAllowed(can.manageInventory(p), 'change the inventory');
    if (!this.servers.delete(id)) throw new RackhandError('NOT_FOUND', `server ${id} not found`, { id });
  }

  setOwner(p: Principal, serverId: number, ownerId: number | null): void {
    requireAllowed(can.manageUsers(p), 'assign owners');
    requireVisibleServer(p, this.servers.get(serverId), serverId);
    if (ownerId !== null && !this.users.get(ownerId)) {
      throw new RackhandError('NOT_FOUND', `user ${ownerId} not found`, { field: 'owner' });
    }
    this.servers.setOwner(serverId, ownerId);
  }

  freeByConfiguration(_p: Principal) {
    return this.servers.freeByConfiguration();
  }

  listUsers(p: Principal, page: Page): Paged<UserRecord> {
    requireAllowed(can.manageUsers(p), 'list users');
    return this.users.list(page);
  }

  createUser(p: Principal, u: NewUser): UserRecord {
    requireAllowed(can.manageUsers(p), 'create users');
    return this.users.create(u);
  }

  private check(list: ServerInput[]): void {
    for (const s of list) {
      if (s.owner_id && !this.users.get(s.owner_id)) {
        throw new RackhandError('INVALID_INPUT', `server ${s.id}: owner_id ${s.owner_id} is not a known user`, { field: 'owner_id' });
      }
      if (s.bmc?.driver === 'simulated' && !this.allowSimulatedBmc) {
        throw new RackhandError('INVALID_INPUT', `server ${s.id}: bmc.driver "simulated" is for demos and tests only (set bmc.allowSimulated)`, {
          field: 'bmc.driver',
        });
      }
    }
  }
}
