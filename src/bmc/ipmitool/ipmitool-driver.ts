// BmcDriver over the Debian `ipmitool` binary (-I lanplus): the shared IPMI operations (ipmi-commands/) sent as
// `ipmitool raw` commands, several in one session through `exec`; repositories read with `sdr dump` / `sel writeraw`.
//
// The password travels only in the child's environment (IPMI_PASSWORD with -E); commands that carry a user
// password go through an `exec /dev/stdin` script on a pipe, so no secret is ever on a command line.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RackhandError } from '../../errors.js';
import type {
  BmcCallOptions, BmcDeviceInfo, BmcDriver, BmcEventLogEntry, BmcOperation, BmcPowerReading, BmcPrivilege, BmcTarget,
  BmcUser, BootDeviceSetting, NewBmcUser, PowerAction, PowerState, SensorReading,
} from '../bmc-driver.js';
import { bmcAddress } from '../bmc-driver.js';
import type { IpmiCommand, IpmiCommandRunner, IpmiReply } from '../ipmi-commands/ipmi-command.js';
import { IPMI_READ_ONLY_OPERATIONS, ipmiOperations as ops, type IpmiTargetState } from '../ipmi-commands/ipmi-operations.js';
import { SdrCache } from '../ipmi-commands/sdr-cache.js';
import { classifyFailure, failureToError, parseRawBytes } from './ipmitool-output.js';

/** pino-compatible subset; the driver logs argv and outcomes, never output or secrets. */
export interface IpmitoolLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface IpmitoolDriverOptions {
  /** Path of the ipmitool binary. */
  binary?: string;
  /** Hard limit for one ipmitool process; it is SIGKILLed after this (→ BMC_TIMEOUT). */
  timeoutMs?: number;
  /** Limit for the long runs (repository dumps, the user table). */
  longTimeoutMs?: number;
  /** ipmitool -N: seconds to wait for each reply before retransmitting; ipmitool's own default (1 s) when unset. */
  retransmitSeconds?: number;
  /** ipmitool -R: attempts per request; ipmitool's own default (4) when unset. */
  retries?: number;
  logger?: IpmitoolLogger;
}

// No -N/-R by default: ipmitool's own timing (1 s, growing by 1 s per retry, 4 tries; the whole handshake
// restarted up to 4 times) rides out lossy links and a BMC stalled for several seconds better than any shorter one.
export const DEFAULT_IPMITOOL_DRIVER_OPTIONS = {
  binary: 'ipmitool',
  timeoutMs: 30_000,
  longTimeoutMs: 60_000,
} as const;

const PRIVILEGE_FLAG: Record<BmcPrivilege, string> = {
  callback: 'CALLBACK',
  user: 'USER',
  operator: 'OPERATOR',
  administrator: 'ADMINISTRATOR',
};

const MAX_OUTPUT = 1 << 20;

interface RunResult {
  exitCode: number | null;
  /** Set when ipmitool died of a signal it did not get from us (a crash). */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

interface RunOptions {
  /** Script for `exec /dev/stdin`; undefined runs `args` directly. */
  script?: string[];
  /** -v makes ipmitool say why a session failed; off for scripts that carry password bytes. */
  verbose: boolean;
  timeoutMs: number;
  /** ipmitool -l: responder LUN of raw commands. */
  lun?: number;
  /**
   * Reads only: the session asks for User privilege at most, so ipmitool skips Set Session Privilege Level (one
   * exchange fewer), and a run that crashed ipmitool may simply run again.
   */
  readOnly?: boolean;
  signal?: AbortSignal;
}

const hex = (b: number): string => `0x${b.toString(16).padStart(2, '0')}`;

/** One command as `ipmitool raw` arguments (an `exec` script line joins them with spaces). */
function rawArgs(c: IpmiCommand<unknown>): string[] {
  return ['raw', hex(c.netFn), hex(c.cmd), ...[...c.data].map(hex)];
}

const UNABLE = /^Unable to send RAW command .*?rsp=0x([0-9a-fA-F]{1,2})\)/;

export class IpmitoolDriver implements BmcDriver {
  readonly name = 'ipmitool';
  private readonly opts: Omit<IpmitoolDriverOptions, 'logger'> & Required<Pick<IpmitoolDriverOptions, 'binary' | 'timeoutMs' | 'longTimeoutMs'>>;
  private readonly logger: IpmitoolLogger | undefined;
  private readonly children = new Set<ChildProcess>();
  private readonly states = new Map<string, IpmiTargetState>();
  /** Each BMC's SDR between sensor reads: `sdr dump` (every record, two exchanges or more each) only when it changed. */
  private readonly sdrCache = new SdrCache();
  private closed = false;

  constructor(options: IpmitoolDriverOptions = {}) {
    const { logger, ...rest } = options;
    this.opts = { ...DEFAULT_IPMITOOL_DRIVER_OPTIONS, ...stripUndefined(rest) };
    this.logger = logger;
  }

  // ------------------------------------------------------------ operations

  powerStatus(t: BmcTarget, o?: BmcCallOptions): Promise<PowerState> {
    return ops.powerStatus(this.runner(t, 'powerStatus', o));
  }

  power(t: BmcTarget, action: PowerAction, o?: BmcCallOptions): Promise<void> {
    return ops.power(this.runner(t, 'power', o), action);
  }

  getBootDevice(t: BmcTarget, o?: BmcCallOptions): Promise<BootDeviceSetting> {
    return ops.getBootDevice(this.runner(t, 'getBootDevice', o));
  }

  setBootDevice(t: BmcTarget, setting: BootDeviceSetting, o?: BmcCallOptions): Promise<void> {
    return ops.setBootDevice(this.runner(t, 'setBootDevice', o), setting);
  }

  sensors(t: BmcTarget, o?: BmcCallOptions): Promise<SensorReading[]> {
    return ops.sensors(this.runner(t, 'sensors', o), this.sdrCache.slot(bmcAddress(t)));
  }

  listUsers(t: BmcTarget, o?: BmcCallOptions): Promise<BmcUser[]> {
    return ops.listUsers(this.runner(t, 'listUsers', o), this.state(t));
  }

  addUser(t: BmcTarget, user: NewBmcUser, o?: BmcCallOptions): Promise<{ id: number }> {
    return ops.addUser(this.runner(t, 'addUser', o), this.state(t), user);
  }

  setUserPassword(t: BmcTarget, name: string, password: string, o?: BmcCallOptions): Promise<void> {
    return ops.setUserPassword(this.runner(t, 'setUserPassword', o), this.state(t), t, name, password);
  }

  setUserEnabled(t: BmcTarget, name: string, enabled: boolean, o?: BmcCallOptions): Promise<void> {
    return ops.setUserEnabled(this.runner(t, 'setUserEnabled', o), this.state(t), t, name, enabled);
  }

  removeUser(t: BmcTarget, name: string, o?: BmcCallOptions): Promise<void> {
    return ops.removeUser(this.runner(t, 'removeUser', o), this.state(t), t, name);
  }

  resetBmc(t: BmcTarget, kind: 'cold' | 'warm', o?: BmcCallOptions): Promise<void> {
    return ops.resetBmc(this.runner(t, 'resetBmc', o), kind);
  }

  deviceInfo(t: BmcTarget, o?: BmcCallOptions): Promise<BmcDeviceInfo> {
    return ops.deviceInfo(this.runner(t, 'deviceInfo', o));
  }

  readEventLog(t: BmcTarget, o?: BmcCallOptions): Promise<BmcEventLogEntry[]> {
    return ops.readEventLog(this.runner(t, 'readEventLog', o));
  }

  clearEventLog(t: BmcTarget, o?: BmcCallOptions): Promise<void> {
    return ops.clearEventLog(this.runner(t, 'clearEventLog', o), o?.signal);
  }

  powerReading(t: BmcTarget, o?: BmcCallOptions): Promise<BmcPowerReading> {
    return ops.powerReading(this.runner(t, 'powerReading', o));
  }

  readonly insertMedia: BmcDriver['insertMedia'] = ops.noVirtualMedia;
  readonly ejectMedia: BmcDriver['ejectMedia'] = ops.noVirtualMedia;
  readonly mediaStatus: BmcDriver['mediaStatus'] = ops.noVirtualMedia;

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.children) killTree(c);
    this.children.clear();
  }

  // ------------------------------------------------------------ runner

  private state(t: BmcTarget): IpmiTargetState {
    const key = bmcAddress(t);
    let s = this.states.get(key);
    if (!s) {
      s = {};
      this.states.set(key, s);
    }
    return s;
  }

  /** Commands for one call; every `send` is one ipmitool session (one process, or one per responder LUN). */
  private runner(t: BmcTarget, op: BmcOperation, o: BmcCallOptions = {}): IpmiCommandRunner {
    const base = { readOnly: IPMI_READ_ONLY_OPERATIONS.has(op), signal: o.signal };
    return {
      send: async (cmds) => {
        const replies: IpmiReply[] = [];
        for (let i = 0; i < cmds.length; ) {
          let j = i + 1;
          while (j < cmds.length && (cmds[j]!.lun ?? 0) === (cmds[i]!.lun ?? 0)) j++;
          replies.push(...(await this.sendSession(t, cmds.slice(i, j), base)));
          i = j;
        }
        return replies;
      },
      dump: (repository) => this.dump(t, repository, base),
    };
  }

  /**
   * One session for the commands. A read runs at User privilege; a BMC that answers "insufficient privilege" to it
   * (some check privilege before the command exists) gets it once more at the target's privilege.
   */
  private async sendSession(t: BmcTarget, cmds: readonly IpmiCommand<unknown>[], base: Pick<RunOptions, 'readOnly' | 'signal'>): Promise<IpmiReply[]> {
    const replies = await this.sendOnce(t, cmds, base);
    const reduced = base.readOnly && t.privilege !== 'user' && t.privilege !== 'callback';
    if (reduced && replies.some((r) => r.completionCode === 0xd4)) return this.sendOnce(t, cmds, { ...base, readOnly: false });
    return replies;
  }

  private async sendOnce(t: BmcTarget, cmds: readonly IpmiCommand<unknown>[], base: Pick<RunOptions, 'readOnly' | 'signal'>): Promise<IpmiReply[]> {
    const lun = cmds[0]?.lun ?? 0;
    if (cmds.some((c) => c.secret)) {
      // Without -v: verbose output would echo the password bytes. Only the whole script's outcome is known.
      const res = await this.run(t, ['exec', '/dev/stdin'], { ...base, script: cmds.map((c) => rawArgs(c).join(' ')), verbose: false, timeoutMs: this.opts.timeoutMs, lun });
      if (res.exitCode !== 0 || res.timedOut) throw this.failure(t, res, 'exec');
      return cmds.map(() => ({ completionCode: 0, data: Buffer.alloc(0) }));
    }
    if (cmds.length === 1) {
      const res = await this.run(t, rawArgs(cmds[0]!), { ...base, verbose: true, timeoutMs: this.opts.timeoutMs, lun });
      if (res.exitCode === 0 && !res.timedOut) return [{ completionCode: 0, data: Buffer.from(parseRawBytes(res.stdout)) }];
      const cc = !res.timedOut && res.stderr.split('\n').map((l) => UNABLE.exec(l)).find((m) => m);
      if (cc) return [{ completionCode: parseInt(cc[1]!, 16), data: Buffer.alloc(0) }];
      throw this.failure(t, res, `raw ${hex(cmds[0]!.netFn)} ${hex(cmds[0]!.cmd)}`);
    }
    // With -v, ipmitool's stderr brackets every command ("RAW RSP (n bytes)" or "Unable to send RAW command"),
    // which tells which stdout lines (16 bytes a line, an empty reply as an empty line) belong to which command.
    const res = await this.run(t, ['exec', '/dev/stdin'], { ...base, script: cmds.map((c) => rawArgs(c).join(' ')), verbose: true, timeoutMs: this.opts.longTimeoutMs, lun });
    const replies: IpmiReply[] = [];
    const lines = res.stdout.split('\n');
    let at = 0;
    for (const line of res.stderr.split('\n')) {
      const rsp = /^RAW RSP \((\d+) bytes?\)/.exec(line);
      if (rsp) {
        const n = Math.max(1, Math.ceil(Number(rsp[1]) / 16));
        replies.push({ completionCode: 0, data: Buffer.from(parseRawBytes(lines.slice(at, at + n).join('\n'))) });
        at += n;
        continue;
      }
      if (!/^Unable to send RAW command/.test(line)) continue;
      const cc = UNABLE.exec(line);
      // No completion code: the BMC did not answer in the session; what follows did not run either.
      if (!cc) throw failureToError(classifyFailure(line), { host: t.host, port: t.port, command: 'exec' });
      replies.push({ completionCode: parseInt(cc[1]!, 16), data: Buffer.alloc(0) });
    }
    if (replies.length < cmds.length) throw res.exitCode === 0 && !res.timedOut ? new RackhandError('BMC_ERROR', 'ipmitool returned fewer responses than commands') : this.failure(t, res, 'exec');
    return replies;
  }

  /** `sdr dump` / `sel writeraw` into a private temp file: every record in one session, raw, for the shared decoders. */
  private async dump(t: BmcTarget, repository: 'sdr' | 'sel', base: Pick<RunOptions, 'readOnly' | 'signal'>): Promise<Buffer> {
    const dir = mkdtempSync(join(tmpdir(), 'rackhand-ipmitool-'));
    const file = join(dir, repository);
    try {
      const args = repository === 'sdr' ? ['sdr', 'dump', file] : ['sel', 'writeraw', file];
      const res = await this.run(t, args, { ...base, verbose: false, timeoutMs: this.opts.longTimeoutMs });
      if (res.exitCode !== 0 || res.timedOut) throw this.failure(t, res, `${args[0]} ${args[1]}`);
      try {
        return readFileSync(file);
      } catch {
        return Buffer.alloc(0); // "SEL has no entries": ipmitool writes no file
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private failure(t: BmcTarget, res: RunResult, what: string): RackhandError {
    const base = { host: t.host, port: t.port, command: what };
    if (res.timedOut) return new RackhandError('BMC_TIMEOUT', `ipmitool did not finish within its time limit`, base);
    const err = failureToError(classifyFailure(`${res.stderr}\n${res.stdout}`), base);
    this.logger?.debug({ ...base, code: err.code, completionCode: err.details?.completionCode }, 'ipmitool failed');
    return err;
  }

  // ------------------------------------------------------------ processes

  /**
   * Runs ipmitool once more when its failure may be the network's rather than the BMC's answer: an authentication
   * failure (a bit flipped in RAKP 2 or 4 reads exactly like a wrong password to ipmitool, which never restarts
   * on it) or, for a read, a crash of ipmitool itself (a corrupt reply can crash it). No command runs before a
   * session authenticates, so the retry cannot repeat one. A wrong password fails twice and is reported.
   */
  private async run(t: BmcTarget, args: string[], o: RunOptions): Promise<RunResult> {
    const first = await this.spawnIpmitool(t, args, o);
    if (first.timedOut || first.exitCode === 0) return first;
    const crashed = first.signal !== null && o.readOnly === true;
    if (!crashed && classifyFailure(`${first.stderr}\n${first.stdout}`).code !== 'BMC_AUTH_FAILED') return first;
    this.logger?.debug({ host: t.host, port: t.port, signal: first.signal }, 'ipmitool failed in a way a corrupt packet can cause; running it again');
    return this.spawnIpmitool(t, args, o);
  }

  private spawnIpmitool(t: BmcTarget, args: string[], o: RunOptions): Promise<RunResult> {
    if (this.closed) return Promise.reject(new RackhandError('BMC_ERROR', 'ipmitool driver is closed'));
    if (o.signal?.aborted) return Promise.reject(o.signal.reason);
    const privilege: BmcPrivilege = o.readOnly && t.privilege !== 'callback' ? 'user' : t.privilege;
    const argv = [
      ...(o.verbose ? ['-v'] : []),
      '-I', 'lanplus',
      '-C', String(t.cipherSuite),
      '-L', PRIVILEGE_FLAG[privilege],
      ...(this.opts.retransmitSeconds !== undefined ? ['-N', String(this.opts.retransmitSeconds)] : []),
      ...(this.opts.retries !== undefined ? ['-R', String(this.opts.retries)] : []),
      ...(o.lun ? ['-l', String(o.lun)] : []),
      '-H', t.host,
      '-p', String(t.port),
      '-U', t.username,
      '-E',
      ...args,
    ];
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin',
      LC_ALL: 'C',
      IPMI_PASSWORD: t.password,
    };
    const started = Date.now();
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        // Node's stdin "pipe" is a socketpair, which ipmitool cannot open as /dev/stdin: a script goes through
        // `cat` into a real pipe. Own process group, so a timeout kills the shell, cat and ipmitool together.
        child = o.script
          ? spawn('/bin/sh', ['-c', 'cat | "$0" "$@"', this.opts.binary, ...argv], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true })
          : spawn(this.opts.binary, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (e) {
        resolve({ exitCode: -1, signal: null, stdout: '', stderr: `Unable to start ipmitool: ${(e as Error).message}`, timedOut: false });
        return;
      }
      this.children.add(child);
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      let aborted = false;
      let settled = false;
      child.stdout?.setEncoding('latin1').on('data', (d: string) => {
        if (stdout.length < MAX_OUTPUT) stdout += d;
      });
      child.stderr?.setEncoding('latin1').on('data', (d: string) => {
        if (stderr.length < MAX_OUTPUT) stderr += d;
      });
      const timer = setTimeout(() => {
        timedOut = true;
        killTree(child);
      }, o.timeoutMs);
      // Cancelled: the child dies now, and the call rejects with the signal's reason.
      const onAbort = (): void => {
        aborted = true;
        killTree(child);
        this.children.delete(child); // SIGKILLed: no more work, whenever the exit is reaped
      };
      o.signal?.addEventListener('abort', onAbort, { once: true });
      const finish = (exitCode: number | null, signal: NodeJS.Signals | null, spawnError?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        o.signal?.removeEventListener('abort', onAbort);
        this.children.delete(child);
        if (spawnError) stderr += `\nUnable to start ipmitool: ${spawnError.message}`;
        this.logger?.debug(
          { host: t.host, port: t.port, args: args[0] === 'exec' ? ['exec', `${o.script?.length ?? 0} commands`] : args, exitCode, timedOut, aborted, ms: Date.now() - started },
          'ipmitool',
        );
        if (aborted) reject(o.signal!.reason);
        else resolve({ exitCode: spawnError ? -1 : exitCode, signal: timedOut ? null : signal, stdout, stderr, timedOut });
      };
      child.once('error', (e) => finish(-1, null, e));
      child.once('close', (code, signal) => finish(code, signal));
      if (o.script && child.stdin) {
        child.stdin.on('error', () => undefined); // ipmitool may exit before reading everything
        child.stdin.end(o.script.join('\n') + '\n');
      }
    });
  }

  /** ipmitool processes running right now (tests check a cancelled call leaves none). */
  get runningProcesses(): number {
    return this.children.size;
  }
}

function killTree(c: ChildProcess): void {
  if (c.pid === undefined) return;
  try {
    process.kill(-c.pid, 'SIGKILL'); // the group, when the child leads one (scripts)
  } catch {
    c.kill('SIGKILL');
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
