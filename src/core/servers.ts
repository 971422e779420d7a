// The inventory capability: servers (list, show, import, change, adopt, remove), their owners and the users who own them.
import { z } from 'zod';
import { RackhandError } from '../errors.js';
import type { Principal } from '../auth/tokens.js';
import { defaultBmcPort, serverInputSchema, type ServerFilter, type ServerInput, type ServerRecord } from '../domain/server.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { UsersRepo, UserRecord } from '../store/repos/users-repo.js';
import { can, requireAllowed, requireVisibleServer } from './access.js';
import { diffServer, mergeServerInput, recordToInput, type FieldChange } from './server-merge.js';
import { parseInput } from './validate.js';
import type { Page, Paged } from './page.js';

export const IMPORT_MODES = ['merge', 'replace'] as const;
export type ImportMode = (typeof IMPORT_MODES)[number];

export interface ImportOptions {
  /** merge (default): fields not given are kept; replace: they take their defaults. */
  mode?: ImportMode;
  /** Check everything and report the diff; write nothing. */
  dryRun?: boolean;
}

/** One thing wrong with one item of a write: its 1-based number, its id, the field and the value given. */
export interface ImportProblem {
  item: number;
  id?: unknown;
  field: string;
  message: string;
  value?: unknown;
}

/** What a dry run would do to one server. */
export interface ServerChange {
  id: number;
  name: string;
  action: 'create' | 'update' | 'unchanged';
  changes: FieldChange[];
}

/**
 * A write's outcome: servers created and updated (existing ones written). A dry run says instead what would happen:
 * updated counts the servers that would change, unchanged the others, and servers lists each with its changes.
 */
export interface ImportResult {
  created: number;
  updated: number;
  dry_run?: true;
  mode?: ImportMode;
  unchanged?: number;
  servers?: ServerChange[];
}

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

  /**
   * Bulk import: every item checked first (all problems reported at once, by item number, id, field and value),
   * then all written in one transaction — a bad item writes nothing. Merge (default): fields an item does not
   * give keep their stored value; replace: they take their defaults. A dry run checks and diffs without writing.
   */
  import(p: Principal, items: unknown, opts: ImportOptions = {}): ImportResult {
    requireAllowed(can.manageInventory(p), 'change the inventory');
    if (!Array.isArray(items)) throw new RackhandError('INVALID_INPUT', 'servers: expected an array of servers', { field: 'servers' });
    if (items.length > MAX_IMPORT) throw new RackhandError('INVALID_INPUT', `servers: at most ${MAX_IMPORT} per import, got ${items.length}`, { field: 'servers' });
    return this.write(items, opts, false);
  }

  /** One server: created, or changed as an import item is (merge by default). The answer is the stored server. */
  upsert(p: Principal, input: unknown, mode: ImportMode = 'merge'): { server: ServerRecord; created: boolean } {
    requireAllowed(can.manageInventory(p), 'change the inventory');
    const r = this.write([input], { mode }, true);
    return { server: this.servers.get((input as { id: number }).id)!, created: r.created === 1 };
  }

  private write(items: unknown[], opts: ImportOptions, single: boolean): ImportResult {
    const mode = opts.mode ?? 'merge';
    const plan = this.plan(items, mode, opts.dryRun === true);
    if (plan.problems.length) throw importError(plan.problems, single);
    const inputs = plan.items.map((i) => i.input);
    if (!opts.dryRun) return this.servers.upsertMany(inputs);
    this.servers.upsertMany(inputs, { dryRun: true });
    const servers = plan.items.map(({ input, before }): ServerChange => {
      const changes = diffServer(before, input, (which) => {
        const given = input[which]?.password;
        return given !== undefined && (!before || this.servers.secretDiffers(input.id, which, given));
      });
      return { id: input.id, name: input.name, action: !before ? 'create' : changes.length ? 'update' : 'unchanged', changes };
    });
    const count = (a: ServerChange['action']) => servers.filter((x) => x.action === a).length;
    return { dry_run: true, mode, created: count('create'), updated: count('update'), unchanged: count('unchanged'), servers };
  }

  /** Every item merged over its stored server and validated; what is wrong with any of them, all at once. */
  private plan(items: unknown[], mode: ImportMode, dryRun: boolean): { items: { input: ServerInput; before?: ServerInput }[]; problems: ImportProblem[] } {
    const problems: ImportProblem[] = [];
    const out: { input: ServerInput; before?: ServerInput }[] = [];
    const seen = new Map<number, number>();
    const ids = items.flatMap((raw) => {
      const id = serverInputSchema.shape.id.safeParse((raw as { id?: unknown } | null)?.id);
      return id.success ? [id.data] : [];
    });
    const storedById = this.servers.getMany(ids);
    items.forEach((raw, index) => {
      const item = index + 1;
      const problem = (field: string, message: string, value?: unknown, id = (raw as { id?: unknown } | null)?.id) =>
        problems.push({ item, ...(id !== undefined ? { id } : {}), field, message, ...shownValue(field, value) });
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return void problem('', 'expected a server (a JSON object)', undefined, undefined);
      const idParse = serverInputSchema.shape.id.safeParse((raw as { id?: unknown }).id);
      if (!idParse.success) return void problem('id', issueText(idParse.error.issues[0]), (raw as { id?: unknown }).id);
      const id = idParse.data;
      if (seen.has(id)) return void problem('id', `id ${id} appears twice (also item ${seen.get(id)})`, id);
      seen.set(id, item);
      // What is stored, in the input shape: the merge's base (a stored record that no longer passes today's schema
      // is kept too: validation names its field). A dry run's diff compares it with its defaults filled in.
      const record = storedById.get(id);
      const stored = record ? (recordToInput(record) as ServerInput) : undefined;
      const parsedBefore = stored && dryRun ? serverInputSchema.safeParse(stored) : undefined;
      const before = parsedBefore?.success ? parsedBefore.data : stored;
      let merged: Record<string, unknown>;
      try {
        merged = mergeServerInput(mode === 'merge' ? (before as Record<string, unknown> | undefined) : undefined, raw as Record<string, unknown>);
      } catch (e) {
        const err = e as RackhandError;
        return void problem(String(err.details?.field ?? ''), err.message.replace(/^[\w.]+: /, ''));
      }
      keepPortDefault(merged, before, raw as Record<string, unknown>);
      const parsed = serverInputSchema.safeParse(merged);
      if (parsed.success && parsed.data.bmc) parsed.data.bmc.port ??= defaultBmcPort(parsed.data.bmc.driver, parsed.data.bmc.scheme);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) {
          const path = issue.path.map(String);
          if (issue.code === 'unrecognized_keys') for (const k of issue.keys) problem([...path, k].join('.'), 'unknown field');
          else problem(path.join('.'), issueText(issue), valueAt(merged, path));
        }
        return;
      }
      for (const [field, message] of this.check(parsed.data)) problem(field, message, valueAt(parsed.data, field.split('.')));
      out.push({ input: parsed.data, before });
    });
    return { items: out, problems };
  }

  /** The last inspection's full inventory (GET …/hardware); NOT_FOUND when the server was never inspected. */
  inspection(p: Principal, id: number) {
    this.show(p, id);
    const r = this.servers.inspection(id);
    if (!r) throw new RackhandError('NOT_FOUND', `server ${id} was never inspected: run operation_diag (POST /api/v1/servers/${id}/inspect)`, { id });
    return r;
  }

  /** A new server from a discovered MAC; never replaces an existing one. */
  adopt(p: Principal, input: Record<string, unknown>): ServerRecord {
    requireAllowed(can.adoptDiscovered(p), 'adopt discovered hosts');
    if (!can.manageInventory(p) && (input.bmc !== undefined || input.console !== undefined || input.owner_id !== undefined)) {
      throw new RackhandError('FORBIDDEN', 'this token may adopt hosts but not set their BMC, console or owner', { field: 'bmc' });
    }
    const s = parseInput(serverInputSchema, input, 'server');
    if (this.servers.exists(s.id)) throw new RackhandError('CONFLICT', `server ${s.id} exists already`, { field: 'id' });
    const [problem] = this.check(s);
    if (problem) throw new RackhandError('INVALID_INPUT', `server ${s.id}: ${problem[0]}: ${problem[1]}`, { field: problem[0] });
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

  /** What the schema cannot know: the owner exists, the simulated driver is allowed here. */
  private check(s: ServerInput): [field: string, message: string][] {
    const out: [string, string][] = [];
    if (s.owner_id && !this.users.get(s.owner_id)) out.push(['owner_id', `user ${s.owner_id} does not exist`]);
    if (s.bmc?.driver === 'simulated' && !this.allowSimulatedBmc) out.push(['bmc.driver', 'the simulated driver is for demos and tests only (set bmc.allowSimulated)']);
    return out;
  }
}

/**
 * A BMC port that was its driver's default follows the driver: a write that switches ipmi to redfish (or https to
 * http) without naming a port gets the new driver's default, not the old one's 623.
 */
function keepPortDefault(merged: Record<string, unknown>, before: ServerInput | undefined, write: Record<string, unknown>): void {
  const given = write.bmc;
  const bmc = merged.bmc as Record<string, unknown> | undefined;
  if (!before?.bmc || !bmc || typeof given !== 'object' || given === null || 'port' in given) return;
  if (before.bmc.port === defaultBmcPort(before.bmc.driver, before.bmc.scheme)) delete bmc.port;
}

/** At most this many servers in one import. */
const MAX_IMPORT = 100_000;

function issueText(issue: z.core.$ZodIssue): string {
  if (/received undefined$/.test(issue.message)) return 'required';
  return issue.message.replace(/^Invalid (input|option): /, '');
}

/** A value worth echoing (scalars, shortened); never one of a password field. */
function shownValue(field: string, value: unknown): { value?: unknown } {
  if (/password/i.test(field) || value === undefined || (typeof value === 'object' && value !== null)) return {};
  return { value: typeof value === 'string' && value.length > 100 ? `${value.slice(0, 100)}…` : value };
}

function valueAt(o: unknown, path: string[]): unknown {
  let v = o;
  for (const k of path) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/** One INVALID_INPUT naming the first problem (item number, id, field, value); details.problems has them all. */
function importError(problems: ImportProblem[], single: boolean): RackhandError {
  const p = problems[0];
  const id = p.id !== undefined ? JSON.stringify(p.id) : undefined;
  const where = single ? `server${id ? ` ${id}` : ''}` : `servers item ${p.item}${id ? ` (id ${id})` : ''}`;
  const more = problems.length > 1 ? `; ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''} in details.problems` : '';
  const value = 'value' in p ? ` (got ${JSON.stringify(p.value)})` : '';
  return new RackhandError('INVALID_INPUT', `${where}: ${p.field || 'the record'}: ${p.message}${value}${more}; nothing was written`, {
    field: single ? p.field : `${p.item - 1}${p.field ? `.${p.field}` : ''}`,
    item: p.item,
    ...(p.id !== undefined ? { id: p.id } : {}),
    ...('value' in p ? { value: p.value } : {}),
    problems,
  });
}
