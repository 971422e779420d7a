// BmcDriver over the Debian `ipmitool` binary (-I lanplus): raw IPMI commands in, parsed bytes and stable error codes out.
//
// The password travels only in the child's environment (IPMI_PASSWORD with -E); commands that carry a user
// password go through an `exec /dev/stdin` script on a pipe, so no secret is ever on a command line.

import { spawn, type ChildProcess } from 'node:child_process';
import { RackhandError } from '../../errors.js';
import type {
  BmcDeviceInfo,
  BmcDriver,
  BmcPrivilege,
  BmcTarget,
  BmcUser,
  BootDeviceSetting,
  NewBmcUser,
  PowerAction,
  PowerState,
  SensorReading,
} from '../bmc-driver.js';
import * as raw from './ipmi-raw.js';
import { classifyFailure, failureToError, parseRawBytes, parseSensorTable } from './ipmitool-output.js';

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
  /** Limit for the long multi-command runs (sensor walk, user table). */
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
  /**
   * Reads only: the session asks for User privilege at most, so ipmitool skips Set Session Privilege Level (one
   * exchange fewer), and a run that crashed ipmitool may simply run again.
   */
  readOnly?: boolean;
}

interface BatchResult {
  bytes?: number[];
  error?: RackhandError;
}

interface SlotInfo {
  id: number;
  name: string;
  access: raw.UserAccess | undefined;
}

export class IpmitoolDriver implements BmcDriver {
  readonly name = 'ipmitool';
  private readonly opts: Omit<IpmitoolDriverOptions, 'logger'> & Required<Pick<IpmitoolDriverOptions, 'binary' | 'timeoutMs' | 'longTimeoutMs'>>;
  private readonly logger: IpmitoolLogger | undefined;
  private readonly children = new Set<ChildProcess>();
  private readonly lanChannels = new Map<string, number>();
  private closed = false;

  constructor(options: IpmitoolDriverOptions = {}) {
    const { logger, ...rest } = options;
    this.opts = { ...DEFAULT_IPMITOOL_DRIVER_OPTIONS, ...stripUndefined(rest) };
    this.logger = logger;
  }

  // ------------------------------------------------------------ power

  async powerStatus(t: BmcTarget): Promise<PowerState> {
    return raw.decodePowerOn(await this.raw(t, raw.CHASSIS_STATUS, { readOnly: true })) ? 'on' : 'off';
  }

  async power(t: BmcTarget, action: PowerAction): Promise<void> {
    await this.raw(t, raw.chassisControl(action));
  }

  // ------------------------------------------------------------ boot device

  async getBootDevice(t: BmcTarget): Promise<BootDeviceSetting> {
    return raw.decodeBootFlags(await this.raw(t, raw.GET_BOOT_FLAGS));
  }

  async setBootDevice(t: BmcTarget, setting: BootDeviceSetting): Promise<void> {
    const r = await this.batch(t, [{ cmd: raw.DISABLE_BOOT_FLAG_TIMEOUT }, { cmd: raw.setBootFlags(setting) }]);
    const [timeout, flags] = r.results;
    if (flags?.bytes) {
      // Some BMCs reject parameter 3; the boot flags themselves are what matters.
      if (timeout?.error) this.logger?.warn({ host: t.host, port: t.port, completionCode: timeout.error.details?.completionCode }, 'BMC rejected boot flag timeout');
      return;
    }
    throw flags?.error ?? r.failure ?? new RackhandError('BMC_ERROR', 'boot flags not set');
  }

  // ------------------------------------------------------------ sensors

  async sensors(t: BmcTarget): Promise<SensorReading[]> {
    // Without -v: verbose turns the table into per-sensor blocks.
    const res = await this.run(t, ['sensor'], { verbose: false, timeoutMs: this.opts.longTimeoutMs, readOnly: true });
    const rows = parseSensorTable(res.stdout);
    if (res.exitCode === 0 || rows.length > 0) return rows;
    if (res.timedOut) throw this.failure(t, res, 'sensor');
    // Quiet ipmitool says only "unable to establish session": a verbose probe tells auth from reach.
    await this.raw(t, raw.GET_DEVICE_ID, { readOnly: true });
    throw this.failure(t, res, 'sensor');
  }

  // ------------------------------------------------------------ users

  async listUsers(t: BmcTarget): Promise<BmcUser[]> {
    const { slots } = await this.readSlots(t);
    return slots.filter((s) => s.name !== '').map(toUser);
  }

  async addUser(t: BmcTarget, user: NewBmcUser): Promise<{ id: number }> {
    checkName(user.name);
    raw.setUserPassword(1, user.password); // validates length before touching the BMC
    const { slots, channel: lan } = await this.readSlots(t);
    const channel = user.channel ?? lan;
    if (slots.some((s) => s.name === user.name)) throw new RackhandError('CONFLICT', `BMC user ${user.name} already exists`);
    // Slot 1 is the anonymous user on nearly every BMC and usually cannot be renamed.
    const free = slots.find((s) => s.id >= 2 && s.name === '');
    if (!free) throw new RackhandError('BMC_ERROR', 'no free user slot on the BMC', { reason: 'no-free-slot' });
    const id = free.id;
    const r = await this.batch(t, [
      { cmd: raw.setUserName(id, user.name)},
      { cmd: raw.setUserPassword(id, user.password)},
      { cmd: raw.setUserEnabled(id, true)},
      { cmd: raw.setUserAccess(channel, id, raw.PRIVILEGE_CODE[user.privilege], true)},
    ], { secret: true });
    if (r.failure) {
      await this.batch(t, [
        { cmd: raw.setUserEnabled(id, false)},
        { cmd: raw.setUserAccess(channel, id, raw.NO_ACCESS, false)},
        { cmd: raw.clearUserName(id)},
      ]).catch(() => undefined);
      throw r.failure;
    }
    return { id };
  }

  async setUserPassword(t: BmcTarget, name: string, password: string): Promise<void> {
    const cmd = raw.setUserPassword(1, password);
    const slot = await this.findUser(t, name);
    cmd[2] = (cmd[2]! & 0x80) | slot.id;
    await this.batchOrThrow(t, [{ cmd}], { secret: true });
  }

  async setUserEnabled(t: BmcTarget, name: string, enabled: boolean): Promise<void> {
    const slot = await this.findUser(t, name);
    const channel = await this.lanChannel(t);
    let priv = slot.access?.privilege ?? raw.PRIVILEGE_CODE.user;
    if (priv === 0 || priv === raw.NO_ACCESS) priv = raw.PRIVILEGE_CODE.user;
    // Messaging follows the enable bit so the state reads back the same on BMCs that do not report it.
    await this.batchOrThrow(t, [
      { cmd: raw.setUserEnabled(slot.id, enabled)},
      { cmd: raw.setUserAccess(channel, slot.id, priv, enabled)},
    ]);
  }

  async removeUser(t: BmcTarget, name: string): Promise<void> {
    const slot = await this.findUser(t, name);
    if (slot.id === 1) throw new RackhandError('BMC_UNSUPPORTED', 'the anonymous user slot cannot be removed');
    const channel = await this.lanChannel(t);
    // A slot is never deleted on IPMI: disable it, drop its access, scramble its password, blank its name.
    const scramble = Array.from({ length: 16 }, () => String.fromCharCode(0x21 + Math.floor(Math.random() * 94))).join('');
    await this.batchOrThrow(t, [
      { cmd: raw.setUserEnabled(slot.id, false)},
      { cmd: raw.setUserAccess(channel, slot.id, raw.NO_ACCESS, false)},
      { cmd: raw.setUserPassword(slot.id, scramble)},
      { cmd: raw.clearUserName(slot.id)},
    ], { secret: true });
  }

  // ------------------------------------------------------------ BMC itself

  async resetBmc(t: BmcTarget, kind: 'cold' | 'warm'): Promise<void> {
    try {
      await this.raw(t, kind === 'cold' ? raw.COLD_RESET : raw.WARM_RESET);
    } catch (e) {
      // A BMC that resets before answering looks like a lost reply: that is the reset working.
      if (e instanceof RackhandError && e.code === 'BMC_TIMEOUT') return;
      throw e;
    }
  }

  async deviceInfo(t: BmcTarget): Promise<BmcDeviceInfo> {
    return raw.decodeDeviceId(await this.raw(t, raw.GET_DEVICE_ID, { readOnly: true }));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.children) killTree(c);
    this.children.clear();
  }

  // ------------------------------------------------------------ internals

  private async lanChannel(t: BmcTarget): Promise<number> {
    const key = `${t.host}:${t.port}`;
    const known = this.lanChannels.get(key);
    if (known !== undefined) return known;
    let channel = 1;
    try {
      const b = await this.raw(t, raw.GET_CURRENT_CHANNEL_INFO);
      if (b.length >= 1 && (b[0]! & 0x0f) <= 0x0b) channel = b[0]! & 0x0f;
    } catch (e) {
      // Old BMCs without "this channel" (0x0E) support: channel 1 is the LAN channel on most of them.
      if (!(e instanceof RackhandError) || e.details?.completionCode === undefined) throw e;
    }
    this.lanChannels.set(key, channel);
    return channel;
  }

  private async findUser(t: BmcTarget, name: string): Promise<SlotInfo> {
    const { slots } = await this.readSlots(t);
    const slot = name === '' ? undefined : slots.find((s) => s.name === name);
    if (!slot) throw new RackhandError('NOT_FOUND', `no BMC user named ${name}`);
    return slot;
  }

  /** Every user slot's name and access, read in one session. */
  private async readSlots(t: BmcTarget): Promise<{ slots: SlotInfo[]; channel: number }> {
    const channel = await this.lanChannel(t);
    const first = raw.decodeUserAccess(await this.raw(t, raw.getUserAccess(channel, 1)));
    const max = Math.max(1, Math.min(63, first.maxUsers));
    const cmds: { cmd: raw.RawCommand }[] = [];
    for (let id = 1; id <= max; id++) cmds.push({ cmd: raw.getUserName(id) }, { cmd: raw.getUserAccess(channel, id) });
    const r = await this.batch(t, cmds, { timeoutMs: this.opts.longTimeoutMs });
    // A slot the BMC refuses to name (ipmi_sim: the anonymous user, 0xCC) is just nameless.
    if (r.results.length < cmds.length) throw r.failure ?? new RackhandError('BMC_ERROR', 'user table read failed');
    const slots: SlotInfo[] = [];
    for (let id = 1; id <= max; id++) {
      const nameBytes = r.results[(id - 1) * 2]?.bytes;
      const accessBytes = r.results[(id - 1) * 2 + 1]?.bytes;
      slots.push({
        id,
        name: nameBytes ? raw.decodeUserName(nameBytes) : '',
        access: accessBytes && accessBytes.length >= 4 ? raw.decodeUserAccess(accessBytes) : undefined,
      });
    }
    return { slots, channel };
  }

  private async raw(t: BmcTarget, cmd: raw.RawCommand, o: { readOnly?: boolean } = {}): Promise<number[]> {
    const res = await this.run(t, raw.rawArgs(cmd), { verbose: true, timeoutMs: this.opts.timeoutMs, readOnly: o.readOnly });
    if (res.exitCode !== 0 || res.timedOut) throw this.failure(t, res, `raw ${cmd[0]}/${cmd[1]}`);
    return parseRawBytes(res.stdout);
  }

  private async batchOrThrow(t: BmcTarget, cmds: { cmd: raw.RawCommand }[], o: { secret?: boolean } = {}): Promise<void> {
    const r = await this.batch(t, cmds, o);
    if (r.failure) throw r.failure;
  }

  /**
   * Runs raw commands in one session via `exec /dev/stdin`. ipmitool carries on past a failed command and exits
   * non-zero at the end; with -v its stderr brackets every command ("RAW REQ" … "RAW RSP (n bytes)" or "Unable to
   * send RAW command"), which tells which stdout lines belong to which command (16 bytes a line, an empty reply as
   * an empty line). Secret scripts run without -v, so only their overall outcome is known.
   */
  private async batch(
    t: BmcTarget,
    cmds: { cmd: raw.RawCommand }[],
    o: { secret?: boolean; timeoutMs?: number } = {},
  ): Promise<{ results: (BatchResult | undefined)[]; failure?: RackhandError }> {
    const res = await this.run(t, ['exec', '/dev/stdin'], {
      script: cmds.map((c) => raw.rawArgs(c.cmd).join(' ')),
      verbose: !o.secret,
      timeoutMs: o.timeoutMs ?? this.opts.timeoutMs,
    });
    const ok = res.exitCode === 0 && !res.timedOut;
    if (o.secret) return ok ? { results: [] } : { results: [], failure: this.failure(t, res, 'exec') };

    const results: BatchResult[] = [];
    const lines = res.stdout.split('\n');
    let at = 0;
    for (const line of res.stderr.split('\n')) {
      const rsp = /^RAW RSP \((\d+) bytes?\)/.exec(line);
      if (rsp) {
        const n = Math.max(1, Math.ceil(Number(rsp[1]) / 16));
        results.push({ bytes: parseRawBytes(lines.slice(at, at + n).join('\n')) });
        at += n;
      } else if (/^Unable to send RAW command/.test(line)) {
        const f = classifyFailure(line);
        results.push({ error: failureToError(f, { host: t.host, port: t.port, command: 'exec' }) });
      }
    }
    if (results.length < cmds.length) {
      // The session broke (or never opened) part-way: what did not run failed with the run's error.
      const failure = ok ? new RackhandError('BMC_ERROR', 'ipmitool returned fewer responses than commands') : this.failure(t, res, 'exec');
      return { results, failure };
    }
    const firstError = results.find((r) => r.error !== undefined)?.error;
    return firstError ? { results, failure: firstError } : { results };
  }

  private failure(t: BmcTarget, res: RunResult, what: string): RackhandError {
    const base = { host: t.host, port: t.port, command: what };
    if (res.timedOut) return new RackhandError('BMC_TIMEOUT', `ipmitool did not finish within its time limit`, base);
    const err = failureToError(classifyFailure(`${res.stderr}\n${res.stdout}`), base);
    this.logger?.debug({ ...base, code: err.code, completionCode: err.details?.completionCode }, 'ipmitool failed');
    return err;
  }

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
    const privilege: BmcPrivilege = o.readOnly && t.privilege !== 'callback' ? 'user' : t.privilege;
    const argv = [
      ...(o.verbose ? ['-v'] : []),
      '-I', 'lanplus',
      '-C', String(t.cipherSuite),
      '-L', PRIVILEGE_FLAG[privilege],
      ...(this.opts.retransmitSeconds !== undefined ? ['-N', String(this.opts.retransmitSeconds)] : []),
      ...(this.opts.retries !== undefined ? ['-R', String(this.opts.retries)] : []),
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
    return new Promise((resolve) => {
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
      const finish = (exitCode: number | null, signal: NodeJS.Signals | null, spawnError?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.children.delete(child);
        if (spawnError) stderr += `\nUnable to start ipmitool: ${spawnError.message}`;
        this.logger?.debug(
          { host: t.host, port: t.port, args: args[0] === 'exec' ? ['exec', `${o.script?.length ?? 0} commands`] : args, exitCode, timedOut, ms: Date.now() - started },
          'ipmitool',
        );
        resolve({ exitCode: spawnError ? -1 : exitCode, signal: timedOut ? null : signal, stdout, stderr, timedOut });
      };
      child.once('error', (e) => finish(-1, null, e));
      child.once('close', (code, signal) => finish(code, signal));
      if (o.script && child.stdin) {
        child.stdin.on('error', () => undefined); // ipmitool may exit before reading everything
        child.stdin.end(o.script.join('\n') + '\n');
      }
    });
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

function toUser(s: SlotInfo): BmcUser {
  const a = s.access;
  return {
    id: s.id,
    name: s.name,
    enabled: a ? (a.enabled ?? a.messaging) : false,
    privilege: a ? raw.privilegeName(a.privilege) : 'no-access',
  };
}

function checkName(name: string): void {
  if (!raw.validUserName(name)) throw new RackhandError('INVALID_INPUT', 'BMC user name must be 1..16 printable ASCII characters');
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
