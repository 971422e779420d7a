// Switch-port suspend/resume: IF-MIB ifAdminStatus on every port of a server, read back, all or nothing.
import { setTimeout as sleep } from 'node:timers/promises';
import { RackhandError } from '../errors.js';
import type { Logger } from '../log.js';
import { SnmpFailure, SnmpSession, classify, type SnmpTarget, type SnmpTiming } from './snmp-session.js';
import type { ServerPort, SwitchesRepo } from '../store/repos/switches-repo.js';

export const IF_ADMIN_STATUS = '1.3.6.1.2.1.2.2.1.7';
export const IF_NAME = '1.3.6.1.2.1.31.1.1.1.1';
const ADMIN_VALUE = { up: 1, down: 2 } as const;

export type PortState = 'up' | 'down';

export interface PortChange {
  switch: string;
  port: string; // as recorded on the interface (ifIndex or ifName)
  ifIndex: number;
  interface: string;
  before: PortState | number;
  after: PortState;
  changed: boolean;
}

export interface SwitchPortTiming extends SnmpTiming {
  /** Read-back attempts after a SET before it counts as not applied, and the pause between them. */
  confirmAttempts: number;
  confirmIntervalMs: number;
}

export const DEFAULT_SWITCH_TIMING: SwitchPortTiming = { timeoutMs: 2000, retries: 1, confirmAttempts: 5, confirmIntervalMs: 200 };

export interface SetPortsOptions {
  signal?: AbortSignal;
  /** Progress lines for the task journal. */
  note?(message: string): void;
}

interface ResolvedPort extends ServerPort {
  ifIndex: number;
  before: number;
}

const stateOf = (v: number): PortState | number => (v === 1 ? 'up' : v === 2 ? 'down' : v);

export class SwitchPortService {
  private readonly timing: SwitchPortTiming;

  constructor(
    private readonly switches: SwitchesRepo,
    timing: Partial<SwitchPortTiming> = {},
    private readonly log?: Pick<Logger, 'info' | 'warn'>,
  ) {
    this.timing = { ...DEFAULT_SWITCH_TIMING, ...timing };
  }

  /**
   * Set every switch port of the server to `state`. First every port is resolved and read (so an
   * unreachable switch, bad credentials or a missing port change nothing); then each is set and read back.
   * If one fails, the ports already changed are put back as they were and SWITCH_ERROR names the failure.
   */
  async setServerPorts(serverId: number, state: PortState, opts: SetPortsOptions = {}): Promise<PortChange[]> {
    if (!this.switches.serverExists(serverId)) throw new RackhandError('NOT_FOUND', `server ${serverId} not found`, { id: serverId });
    const ports = this.switches.serverPorts(serverId);
    if (ports.length === 0) {
      throw new RackhandError('SWITCH_ERROR', `server ${serverId} has no interface with a switch and port recorded`, { server: serverId });
    }
    const sessions = new Map<string, SnmpSession>();
    try {
      const resolved: ResolvedPort[] = [];
      for (const [name, group] of groupBy(ports, (p) => p.switchName)) {
        const target = this.switches.target(name);
        if (!target) throw new RackhandError('SWITCH_ERROR', `switch ${name} (interface ${group[0].interfaceName}) is not registered`, { switch: name });
        const session = this.open(name, target);
        sessions.set(name, session);
        resolved.push(...(await this.resolve(name, session, group)));
      }
      opts.signal?.throwIfAborted();

      const want = ADMIN_VALUE[state];
      const done: ResolvedPort[] = [];
      const changes: PortChange[] = [];
      for (const p of resolved) {
        const session = sessions.get(p.switchName)!;
        try {
          opts.signal?.throwIfAborted();
          // SET even when the read says it is already so: agents cache ifTable (snmpd for seconds), and a
          // SET is idempotent. Only a port that read differently is put back on failure.
          await session.setInt(`${IF_ADMIN_STATUS}.${p.ifIndex}`, want);
          if (p.before !== want) done.push(p);
          await this.confirm(session, p.ifIndex, want);
          opts.note?.(`${p.switchName} port ${p.port} (ifIndex ${p.ifIndex}): ${p.before === want ? `already ${state}` : `${stateOf(p.before)} -> ${state}`}`);
          changes.push({ switch: p.switchName, port: p.port, ifIndex: p.ifIndex, interface: p.interfaceName, before: stateOf(p.before), after: state, changed: p.before !== want });
        } catch (e) {
          const restore = await this.restore(sessions, done, opts);
          throw this.portError(p, e, restore);
        }
      }
      this.log?.info({ server: serverId, state, ports: changes.length }, 'switch ports set');
      return changes;
    } finally {
      for (const s of sessions.values()) s.close();
    }
  }

  /** Read-only: the admin state of each port (for status pages and tests). */
  async readServerPorts(serverId: number): Promise<{ switch: string; port: string; ifIndex: number; state: PortState | number }[]> {
    const out: { switch: string; port: string; ifIndex: number; state: PortState | number }[] = [];
    for (const [name, group] of groupBy(this.switches.serverPorts(serverId), (p) => p.switchName)) {
      const target = this.switches.target(name);
      if (!target) throw new RackhandError('SWITCH_ERROR', `switch ${name} is not registered`, { switch: name });
      const session = this.open(name, target);
      try {
        for (const p of await this.resolve(name, session, group)) out.push({ switch: name, port: p.port, ifIndex: p.ifIndex, state: stateOf(p.before) });
      } finally {
        session.close();
      }
    }
    return out;
  }

  private open(name: string, target: SnmpTarget): SnmpSession {
    try {
      return SnmpSession.open(target, this.timing);
    } catch (e) {
      throw new RackhandError('SWITCH_ERROR', `switch ${name}: ${classify(e).message}`, { switch: name, cause: classify(e).kind });
    }
  }

  /** ifIndex for each port (numeric as is, names through an ifName walk) and its current ifAdminStatus. */
  private async resolve(name: string, session: SnmpSession, ports: ServerPort[]): Promise<ResolvedPort[]> {
    const fail = (p: ServerPort | undefined, e: unknown): RackhandError => {
      const f = classify(e);
      const where = p ? `switch ${name} port ${p.port}` : `switch ${name}`;
      return new RackhandError('SWITCH_ERROR', `${where}: ${f.message}; nothing was changed`, { switch: name, port: p?.port, cause: f.kind });
    };
    let names: Map<string, number> | undefined;
    const out: ResolvedPort[] = [];
    for (const p of ports) {
      let ifIndex: number;
      if (/^\d{1,10}$/.test(p.port)) ifIndex = Number(p.port);
      else {
        if (!names) {
          try {
            names = new Map([...(await session.walkStrings(IF_NAME))].map(([i, n]) => [n, i]));
          } catch (e) {
            throw fail(p, e);
          }
        }
        const found = names.get(p.port);
        if (found === undefined) throw fail(p, new SnmpFailure('no_such_port', `no interface named ${JSON.stringify(p.port)} in ifName`));
        ifIndex = found;
      }
      out.push({ ...p, ifIndex, before: 0 });
    }
    let states: number[];
    try {
      states = await session.getInts(out.map((p) => `${IF_ADMIN_STATUS}.${p.ifIndex}`));
    } catch (e) {
      const f = classify(e);
      const culprit = f.kind === 'no_such_port' ? out.find((p) => f.message.startsWith(`${IF_ADMIN_STATUS}.${p.ifIndex}:`)) : undefined;
      throw fail(culprit ?? (out.length === 1 ? out[0] : undefined), e);
    }
    states.forEach((s, i) => (out[i].before = s));
    return out;
  }

  private async confirm(session: SnmpSession, ifIndex: number, want: number): Promise<void> {
    let last: number | undefined;
    for (let i = 0; i < this.timing.confirmAttempts; i++) {
      [last] = await session.getInts([`${IF_ADMIN_STATUS}.${ifIndex}`]);
      if (last === want) return;
      await sleep(this.timing.confirmIntervalMs);
    }
    throw new SnmpFailure('agent_error', `ifAdminStatus reads ${last} after setting ${want}`);
  }

  /** Put changed ports back, last first; returns what could not be restored. */
  private async restore(sessions: Map<string, SnmpSession>, done: ResolvedPort[], opts: SetPortsOptions): Promise<string[]> {
    const failed: string[] = [];
    for (const p of [...done].reverse()) {
      try {
        await sessions.get(p.switchName)!.setInt(`${IF_ADMIN_STATUS}.${p.ifIndex}`, p.before);
        opts.note?.(`${p.switchName} port ${p.port}: restored to ${stateOf(p.before)}`);
      } catch (e) {
        failed.push(`${p.switchName} port ${p.port}: ${classify(e).message}`);
        this.log?.warn({ switch: p.switchName, port: p.port }, 'could not restore a switch port');
      }
    }
    return failed;
  }

  private portError(p: ResolvedPort, e: unknown, restoreFailed: string[]): RackhandError {
    if (e instanceof RackhandError && e.code !== 'SWITCH_ERROR') return e; // cancelled / interrupted
    const f = classify(e);
    const undo = restoreFailed.length ? `; could NOT restore: ${restoreFailed.join('; ')}` : '; ports already changed were restored';
    return new RackhandError('SWITCH_ERROR', `switch ${p.switchName} port ${p.port} (ifIndex ${p.ifIndex}): ${f.message}${undo}`, {
      switch: p.switchName,
      port: p.port,
      ifIndex: p.ifIndex,
      cause: f.kind,
      ...(restoreFailed.length ? { notRestored: restoreFailed } : {}),
    });
  }
}

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const t of items) m.set(key(t), [...(m.get(key(t)) ?? []), t]);
  return m;
}
