// The switch-port capability: the site's switches and their SNMP credentials, and suspending / resuming a
// server's ports (DCImanager suspend / resume), each change a task.
import { z } from 'zod';
import { RackhandError } from '../errors.js';
import { describePrincipal, type Principal } from '../auth/tokens.js';
import type { ServersRepo } from '../store/repos/servers-repo.js';
import type { SwitchesRepo, SwitchInfo } from '../store/repos/switches-repo.js';
import type { TaskRecord } from '../store/repos/tasks-repo.js';
import type { TaskRunner } from '../tasks/task-runner.js';
import { can, requireAllowed, requireVisibleServer } from './access.js';

const text = (max: number) => z.string().max(max).regex(/^[^\x00-\x1f\x7f]*$/, 'control characters are not allowed');
const secret = (min: number) => z.string().min(min).max(64).regex(/^[^\x00-\x1f\x7f]*$/, 'control characters are not allowed');

/** `host:port`, `[v6]:port`, a bare host name or address (port 161). */
export function parseSwitchAddress(address: string): { host: string; port: number } | undefined {
  const m = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(address) ?? /^([0-9A-Za-z.\-]+)(?::(\d{1,5}))?$/.exec(address);
  const bareV6 = /^[0-9a-fA-F:]+$/.test(address) && address.includes(':') && address.split(':').length > 2;
  if (bareV6) return { host: address, port: 161 };
  if (!m) return undefined;
  const port = m[2] === undefined ? 161 : Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1], port };
}

export const switchNameSchema = text(128).min(1);

export const switchInputSchema = z
  .object({
    name: switchNameSchema,
    address: z.string().max(270).transform((v, ctx) => {
      const a = parseSwitchAddress(v);
      if (!a) {
        ctx.addIssue({ code: 'custom', message: 'expected host, host:port or [ipv6]:port' });
        return z.NEVER;
      }
      return a;
    }),
    version: z.enum(['v2c', 'v3']).default('v2c'),
    community: secret(1).optional(),
    user: text(32).min(1).optional(),
    auth_protocol: z.literal('sha').optional(),
    auth_key: secret(8).optional(),
    priv_protocol: z.literal('aes').optional(),
    priv_key: secret(8).optional(),
    note: text(1024).optional(),
  })
  .strict();
export type SwitchInputBody = z.infer<typeof switchInputSchema>;

export class SwitchPorts {
  constructor(
    private readonly switches: SwitchesRepo,
    private readonly servers: ServersRepo,
    private readonly tasks: TaskRunner,
  ) {}

  list(p: Principal): SwitchInfo[] {
    requireAllowed(can.seeAllServers(p), 'list switches');
    return this.switches.list();
  }

  get(p: Principal, name: string): SwitchInfo {
    requireAllowed(can.seeAllServers(p), 'list switches');
    const s = this.switches.get(name);
    if (!s) throw new RackhandError('NOT_FOUND', `switch ${name} not found`, { name });
    return s;
  }

  upsert(p: Principal, body: SwitchInputBody): { info: SwitchInfo; created: boolean } {
    requireAllowed(can.manageInventory(p), 'change switches');
    return this.switches.upsert({
      name: body.name,
      host: body.address.host,
      port: body.address.port,
      version: body.version,
      community: body.community,
      v3User: body.user,
      authKey: body.auth_key,
      privKey: body.priv_key,
      note: body.note,
    });
  }

  remove(p: Principal, name: string): void {
    requireAllowed(can.manageInventory(p), 'change switches');
    if (!this.switches.delete(name)) throw new RackhandError('NOT_FOUND', `switch ${name} not found`, { name });
  }

  /** Ports down (suspend) or up (resume). Clients may not: a customer must not lift a billing suspension. */
  setSuspended(p: Principal, serverId: number, suspend: boolean): TaskRecord {
    requireVisibleServer(p, this.servers.get(serverId), serverId);
    requireAllowed(can.seeAllServers(p), `${suspend ? 'suspend' : 'resume'} servers`);
    return this.tasks.submit(suspend ? 'suspend' : 'resume', { serverId, params: {}, requestedBy: describePrincipal(p) });
  }
}
