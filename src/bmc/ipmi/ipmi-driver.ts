// The native `ipmi` BmcDriver: the shared IPMI operations (ipmi-commands/) sent in reused RMCP+ sessions, one per
// target (host:port:user), with keepalive and idle close; every call stops when its signal aborts.
import { RackhandError } from '../../errors.js';
import type {
  BmcCallOptions, BmcDeviceInfo, BmcDriver, BmcEventLogEntry, BmcOperation, BmcPowerReading, BmcPrivilege, BmcTarget,
  BmcUser, BootDeviceSetting, NewBmcUser, PowerAction, PowerState, SensorReading,
} from '../bmc-driver.js';
import { bmcAddress } from '../bmc-driver.js';
import type { IpmiCommandRunner } from '../ipmi-commands/ipmi-command.js';
import { IPMI_READ_ONLY_OPERATIONS, ipmiOperations as ops, type IpmiTargetState } from '../ipmi-commands/ipmi-operations.js';
import { PRIVILEGE_LEVEL } from '../ipmi-commands/user-commands.js';
import { SdrCache } from '../ipmi-commands/sdr-cache.js';
import { IpmiDecodeError } from './ipmi-codec.js';
import { IpmiSession, type IpmiCounters, type IpmiSessionOptions, type RejectReason } from './ipmi-session.js';
import { UdpTransport } from './ipmi-transport.js';

export interface IpmiDriverOptions extends IpmiSessionOptions {
  /** Keep a session per target open between calls (default true); false closes it after every call. */
  reuseSessions?: boolean;
  /** Send a keepalive on a reused session idle this long (ms); must be below the BMC's session timeout. */
  keepaliveMs?: number;
  /** Close a reused session nobody has used for this long (ms): BMCs have few session slots. */
  idleCloseMs?: number;
}

interface Entry {
  key: string;
  target: BmcTarget;
  session?: IpmiSession;
  /** Serialises whole operations (an SDR walk, a user add) on one target. */
  lock: Promise<unknown>;
  /** Operations queued or running on this entry; it is forgotten only when none are and it holds no session. */
  pending: number;
  state: IpmiTargetState;
  /** A one-shot session's Close Session waiting for the BMC's answer; the next session to the BMC waits for it. */
  closing?: Promise<void>;
}

function insufficientPrivilege(e: unknown): boolean {
  return e instanceof RackhandError && e.details?.completionCode === 0xd4;
}

function noAnswer(e: unknown): boolean {
  return e instanceof RackhandError && (e.code === 'BMC_TIMEOUT' || e.code === 'BMC_UNREACHABLE');
}

/**
 * A runner over an open session: each command one request, in order. `probe`: the session was reused, so its first
 * request is a quick probe (see IpmiSession.request) until one answer proves the session alive.
 */
export function sessionRunner(s: IpmiSession, signal?: AbortSignal, probe = false): IpmiCommandRunner {
  let proven = !probe;
  return {
    async send(cmds) {
      const replies = [];
      for (const c of cmds) {
        const r = await s.request(c.netFn, c.cmd, c.data, c.lun ?? 0, signal, !proven);
        proven = true;
        replies.push({ completionCode: r.completionCode, data: r.data });
      }
      return replies;
    },
  };
}

/** What the driver counts, for metrics: dropped datagrams by reason, sessions, handshakes, retransmits. */
export type IpmiDriverStats = ReturnType<IpmiDriver['stats']>;

export class IpmiDriver implements BmcDriver {
  readonly name = 'ipmi';
  private readonly entries = new Map<string, Entry>();
  private readonly reuse: boolean;
  private readonly keepaliveMs: number;
  private readonly idleCloseMs: number;
  private sweeper?: NodeJS.Timeout;
  private closed = false;
  /** Shared by every session of this driver, so a fan-out does not open one socket per BMC. */
  private readonly transport: UdpTransport;
  /** Inbound datagrams dropped by this driver's sessions, by reason (forged, corrupt, late, duplicate…). */
  private readonly rejected: Partial<Record<RejectReason, number>> = {};
  /**
   * BMCs (host:port) that completed an RMCP+ handshake with this driver: later handshakes skip Get Channel
   * Authentication Capabilities, a round trip that only tells RMCP+ support (a site's sweep opens thousands).
   */
  private readonly rmcpPlusKnown = new Set<string>();
  /** Each BMC's SDR between sensor reads (a sensor pass reads every BMC's). */
  private readonly sdrCache = new SdrCache();
  /** Sessions opened, handshakes started (a session may need several), datagrams sent again. */
  private readonly counters: IpmiCounters & { sessionsOpened: number } = { sessionsOpened: 0, handshakes: 0, retransmits: 0 };
  private readonly countReject = (reason: RejectReason): void => {
    this.rejected[reason] = (this.rejected[reason] ?? 0) + 1;
  };

  constructor(private readonly opts: IpmiDriverOptions = {}) {
    this.reuse = opts.reuseSessions ?? true;
    this.keepaliveMs = opts.keepaliveMs ?? 15_000;
    this.idleCloseMs = opts.idleCloseMs ?? 120_000;
    this.transport = new UdpTransport();
  }

  // ------------------------------------------------------------------------------------------- sessions

  private static keyOf(t: BmcTarget): string {
    return `${t.host}:${t.port}:${t.username}`;
  }

  private entry(t: BmcTarget): Entry {
    const key = IpmiDriver.keyOf(t);
    let e = this.entries.get(key);
    if (!e) {
      e = { key, target: t, lock: Promise.resolve(), pending: 0, state: {} };
      this.entries.set(key, e);
    }
    return e;
  }

  private startSweeper(): void {
    if (this.sweeper || !this.reuse) return;
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const e of this.entries.values()) {
        const s = e.session;
        if (s && now - s.lastUseAt > this.idleCloseMs) {
          // Take the entry's lock so an idle close never races a new operation.
          e.pending++;
          void this.locked(e, async () => {
            if (e.session === s && Date.now() - s.lastUseAt > this.idleCloseMs) await this.dropSession(e);
          }).finally(() => this.release(e));
        }
      }
    }, Math.min(5_000, this.idleCloseMs));
    this.sweeper.unref();
  }

  private release(e: Entry): void {
    e.pending--;
    if (e.pending === 0 && !e.session && this.entries.get(e.key) === e) this.entries.delete(e.key);
  }

  /** Runs fn after the entry's earlier operations; a caller whose signal aborts meanwhile leaves the queue at once. */
  private locked<T>(e: Entry, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const guarded = (): Promise<T> => (signal?.aborted ? Promise.reject(signal.reason) : fn());
    const run = e.lock.then(guarded, guarded);
    e.lock = run.catch(() => undefined);
    if (!signal) return run;
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      run.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private async dropSession(e: Entry): Promise<void> {
    const s = e.session;
    e.session = undefined;
    e.state = {};
    if (s) await s.close();
  }

  /**
   * A one-shot session's close, off the caller's path: the caller has its answer a round trip sooner, while the next
   * session to this BMC (acquire) waits until the BMC has answered Close Session — never two commands to it at once.
   */
  private closeLater(e: Entry, s: IpmiSession): void {
    e.session = undefined;
    e.state = {};
    e.pending++; // the entry, and so its `closing`, outlives the operation
    const closing: Promise<void> = s.close().finally(() => {
      if (e.closing === closing) e.closing = undefined;
      this.release(e);
    });
    e.closing = closing;
  }

  /**
   * The entry's session, or a new one. A session that lives for one operation only (no reuse) asks for just
   * the privilege that operation needs (`need`), capped by the target's: read-only work then skips Set Session
   * Privilege Level and cannot do more than read. A reused session always runs at the target's privilege.
   */
  private async acquire(e: Entry, t: BmcTarget, need: BmcPrivilege | undefined, signal: AbortSignal | undefined): Promise<{ s: IpmiSession; fresh: boolean }> {
    const cur = e.session;
    const same = cur && cur.isActive && cur.target.password === t.password && cur.target.privilege === t.privilege && cur.target.cipherSuite === t.cipherSuite
      && cur.privilegeLevel >= Math.min(PRIVILEGE_LEVEL[need ?? t.privilege], PRIVILEGE_LEVEL[t.privilege]);
    if (cur && same) return { s: cur, fresh: false };
    if (cur) await this.dropSession(e);
    if (e.closing) await e.closing;
    const s = new IpmiSession({ ...t }, { ...this.opts, transport: this.opts.transport ?? this.transport, onReject: this.countReject, counters: this.counters });
    const privilege = !this.reuse && need && PRIVILEGE_LEVEL[need] < PRIVILEGE_LEVEL[t.privilege] ? need : t.privilege;
    const bmc = bmcAddress(t);
    try {
      await s.open({ privilege, signal, skipCapabilities: this.rmcpPlusKnown.has(bmc) });
    } catch (err) {
      this.rmcpPlusKnown.delete(bmc);
      throw err;
    }
    if (this.rmcpPlusKnown.size >= 65_536) this.rmcpPlusKnown.clear(); // bounded; a site has far fewer BMCs
    this.rmcpPlusKnown.add(bmc);
    this.counters.sessionsOpened++;
    e.session = s;
    e.target = t;
    if (this.reuse) {
      s.startKeepalive(this.keepaliveMs);
      this.startSweeper();
    }
    return { s, fresh: true };
  }

  /**
   * Runs one operation on the target's session, opened on the operation's first command (so arguments are checked
   * before the BMC is touched). A reused session that got no answer at all is assumed stale (BMC rebooted or
   * expired it): the operation runs once more on a fresh session.
   */
  private run<T>(t: BmcTarget, op: BmcOperation, o: BmcCallOptions | undefined, fn: (r: IpmiCommandRunner, state: IpmiTargetState, e: Entry) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new RackhandError('BMC_ERROR', 'ipmi driver is closed'));
    const signal = o?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const readOnly = IPMI_READ_ONLY_OPERATIONS.has(op);
    const e = this.entry(t);
    e.pending++;
    return this.locked(e, async () => {
      const attempt = async (allowStale: boolean, need: BmcPrivilege | undefined): Promise<T> => {
        let used: { s: IpmiSession; fresh: boolean; rxBefore: number; runner: IpmiCommandRunner } | undefined;
        const runner: IpmiCommandRunner = {
          send: async (cmds) => {
            if (!used) {
              const a = await this.acquire(e, t, need, signal);
              used = { ...a, rxBefore: a.s.stats.received, runner: sessionRunner(a.s, signal, !a.fresh && allowStale) };
            }
            return used.runner.send(cmds);
          },
        };
        try {
          return await fn(runner, e.state, e);
        } catch (err) {
          if (signal?.aborted || !used) throw err;
          // A read run at User privilege that the BMC wants more for (some check privilege before the command
          // exists): once more at the target's privilege.
          if (need && insufficientPrivilege(err) && used.s.privilegeLevel < PRIVILEGE_LEVEL[t.privilege]) {
            await this.dropSession(e);
            return attempt(false, undefined);
          }
          if (!allowStale || used.fresh || !noAnswer(err) || used.s.stats.received !== used.rxBefore) throw err;
          await this.dropSession(e);
          return attempt(false, need);
        }
      };
      try {
        return await attempt(true, readOnly ? 'user' : undefined);
      } catch (err) {
        if (err instanceof IpmiDecodeError) throw new RackhandError('BMC_ERROR', err.message);
        throw err;
      } finally {
        const s = e.session;
        if (s && !this.reuse && s.isActive) this.closeLater(e, s);
        else if (s && (!this.reuse || !s.isActive)) await this.dropSession(e);
      }
    }, signal).finally(() => this.release(e));
  }

  /**
   * Counters for metrics: datagrams the sessions dropped (by reason, and in all), handler errors the transport
   * caught; and the exchanges waiting for an answer right now (0 once every call has ended or been cancelled).
   */
  stats(): {
    rejectedDatagrams: number; rejectedByReason: Partial<Record<RejectReason, number>>; handlerErrors: number; exchangesInFlight: number;
    sessionsOpened: number; handshakes: number; retransmits: number;
  } {
    const rejectedDatagrams = Object.values(this.rejected).reduce((a, b) => a + b, 0);
    return {
      rejectedDatagrams, rejectedByReason: { ...this.rejected }, handlerErrors: this.transport.handlerErrors, exchangesInFlight: this.transport.clock.size,
      ...this.counters,
    };
  }

  /** BMC-side ids of the sessions held open right now (for tests and metrics). */
  sessionIds(): number[] {
    return [...this.entries.values()].flatMap((e) => (e.session?.isActive ? [e.session.idBmc] : []));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    await Promise.all([...this.entries.values()].map((e) => this.locked(e, async () => {
      await e.closing;
      await this.dropSession(e);
    })));
    this.entries.clear();
    await this.transport.close();
  }

  // ---------------------------------------------------------------------------------------------- operations

  powerStatus(t: BmcTarget, o?: BmcCallOptions): Promise<PowerState> {
    return this.run(t, 'powerStatus', o, (r) => ops.powerStatus(r));
  }

  power(t: BmcTarget, action: PowerAction, o?: BmcCallOptions): Promise<void> {
    return this.run(t, 'power', o, (r) => ops.power(r, action));
  }

  getBootDevice(t: BmcTarget, o?: BmcCallOptions): Promise<BootDeviceSetting> {
    return this.run(t, 'getBootDevice', o, (r) => ops.getBootDevice(r));
  }

  setBootDevice(t: BmcTarget, setting: BootDeviceSetting, o?: BmcCallOptions): Promise<void> {
    return this.run(t, 'setBootDevice', o, (r) => ops.setBootDevice(r, setting));
  }

  sensors(t: BmcTarget, o?: BmcCallOptions): Promise<SensorReading[]> {
    return this.run(t, 'sensors', o, (r) => ops.sensors(r, this.sdrCache.slot(bmcAddress(t))));
  }

  listUsers(t: BmcTarget, o?: BmcCallOptions): Promise<BmcUser[]> {
    return this.run(t, 'listUsers', o, (r, state) => ops.listUsers(r, state));
  }

  addUser(t: BmcTarget, user: NewBmcUser, o?: BmcCallOptions): Promise<{ id: number }> {
    return this.run(t, 'addUser', o, (r, state) => ops.addUser(r, state, user));
  }

  async setUserPassword(t: BmcTarget, name: string, password: string, o?: BmcCallOptions): Promise<void> {
    await this.run(t, 'setUserPassword', o, (r, state) => ops.setUserPassword(r, state, t, name, password));
    await this.forgetSessionsOf(t, name);
  }

  async setUserEnabled(t: BmcTarget, name: string, enabled: boolean, o?: BmcCallOptions): Promise<void> {
    await this.run(t, 'setUserEnabled', o, (r, state) => ops.setUserEnabled(r, state, t, name, enabled));
    if (!enabled) await this.forgetSessionsOf(t, name);
  }

  async removeUser(t: BmcTarget, name: string, o?: BmcCallOptions): Promise<void> {
    await this.run(t, 'removeUser', o, (r, state) => ops.removeUser(r, state, t, name));
    await this.forgetSessionsOf(t, name);
  }

  /** After an account's password or access changed, a session of ours logged in with the old one must not live on. */
  private async forgetSessionsOf(t: BmcTarget, name: string): Promise<void> {
    const e = this.entries.get(IpmiDriver.keyOf({ ...t, username: name }));
    if (!e?.session) return;
    e.pending++;
    await this.locked(e, () => this.dropSession(e)).finally(() => this.release(e));
  }

  resetBmc(t: BmcTarget, kind: 'cold' | 'warm', o?: BmcCallOptions): Promise<void> {
    return this.run(t, 'resetBmc', o, async (r, _state, e) => {
      await ops.resetBmc(r, kind);
      await this.dropSession(e); // the session does not survive a BMC reset
    });
  }

  deviceInfo(t: BmcTarget, o?: BmcCallOptions): Promise<BmcDeviceInfo> {
    return this.run(t, 'deviceInfo', o, (r) => ops.deviceInfo(r));
  }

  readEventLog(t: BmcTarget, o?: BmcCallOptions): Promise<BmcEventLogEntry[]> {
    return this.run(t, 'readEventLog', o, (r) => ops.readEventLog(r));
  }

  clearEventLog(t: BmcTarget, o?: BmcCallOptions): Promise<void> {
    return this.run(t, 'clearEventLog', o, (r) => ops.clearEventLog(r, o?.signal));
  }

  powerReading(t: BmcTarget, o?: BmcCallOptions): Promise<BmcPowerReading> {
    return this.run(t, 'powerReading', o, (r) => ops.powerReading(r));
  }

  readonly insertMedia: BmcDriver['insertMedia'] = ops.noVirtualMedia;
  readonly ejectMedia: BmcDriver['ejectMedia'] = ops.noVirtualMedia;
  readonly mediaStatus: BmcDriver['mediaStatus'] = ops.noVirtualMedia;
}
