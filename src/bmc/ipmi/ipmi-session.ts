// One RMCP+ session to one BMC over a UDP link: handshake, authenticated+encrypted requests with
// retransmits, inbound verification (session id, HMAC, sequence window), keepalive and Close Session.
import { RackhandError, type ErrorCode } from '../../errors.js';
import type { BmcPrivilege, BmcTarget } from '../bmc-driver.js';
import {
  AUTH_TYPE_NONE, BMC_SLAVE_ADDR, IpmiDecodeError, PAYLOAD_IPMI, PAYLOAD_OPEN_SESSION_REQ, PAYLOAD_OPEN_SESSION_RESP,
  PAYLOAD_RAKP1, PAYLOAD_RAKP2, PAYLOAD_RAKP3, PAYLOAD_RAKP4, REMOTE_SWID, decodeAuthCapabilities, decodeIpmiResponse,
  decodeOpenSessionResponse, decodePacket, decodeRakp2, decodeRakp4, encodeIpmi15Session, encodeIpmi20Session, getU32, putU32,
  encodeIpmiRequest, encodeOpenSessionRequest, encodeRakp1, encodeRakp3, type AuthCapabilities, type IpmiResponse,
  type OpenSessionResponse, type Rakp2, type Rakp4,
} from './ipmi-codec.js';
import {
  additionalKey, cipherSuite, decryptPayload, encryptPayload, integrityCode, randomBlock, rakp2AuthCode, rakp3AuthCode, rakp4Icv,
  sameBytes, sessionIntegrityKey, userKey, type CipherSuite, type RakpContext,
} from './ipmi-crypto.js';
import { completionCodeError } from '../ipmi-commands/completion-codes.js';
import { NETFN_APP } from '../ipmi-commands/device-commands.js';
import { PRIVILEGE_LEVEL } from '../ipmi-commands/user-commands.js';
import { rmcpStatusError } from './rmcp-status.js';
import { DeadlineClock, UdpTransport, type IpmiLink, type IpmiTransport } from './ipmi-transport.js';


/** Minimal pino-compatible logger. */
export interface IpmiLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface IpmiSessionOptions {
  /** Wait for one answer before retransmitting (ms). */
  timeoutMs?: number;
  /** Retransmits after the first attempt of every message. */
  retries?: number;
  /** BMC key (Kg) when the BMC has one set; defaults to the user's password (Kuid). */
  kg?: Buffer;
  logger?: IpmiLogger;
  /** Shared UDP sockets (the driver passes one); without it the session uses a private socket. */
  transport?: IpmiTransport;
  /** Told about every inbound datagram the session drops (the driver counts them for metrics). */
  onReject?: (reason: RejectReason) => void;
  /** Counted into by every session that has it (the driver's totals, for metrics). */
  counters?: IpmiCounters;
}

/** Handshakes started and datagrams sent again, over many sessions. */
export interface IpmiCounters {
  handshakes: number;
  retransmits: number;
}

/** Why an inbound datagram was dropped; counted per reason for tests and metrics. */
export type RejectReason =
  | 'decode' | 'session-id' | 'unauthenticated' | 'integrity' | 'sequence' | 'decrypt' | 'unencrypted'
  | 'payload-type' | 'unexpected';

type Incoming =
  | { kind: 'ipmi15'; msg: IpmiResponse }
  | { kind: 'setup'; payloadType: number; payload: Buffer }
  | { kind: 'ipmi'; msg: IpmiResponse };

/** The one exchange in flight (requests are serialised): what to send again, and what answers it. */
interface Pending {
  build: () => Buffer;
  /** The value an answer resolves to, or undefined when the packet is not the answer. */
  match: (p: Incoming) => unknown;
  /** Recognises the answer before any verification (Close Session's, whose content nothing uses). */
  matchUnverified?: (buf: Buffer) => boolean;
  what: string | (() => string);
  attempts: number;
  attempt: number;
  /** How long attempt n (1-based) waits for its answer. */
  waitMs: (attempt: number) => number;
  /** What a run without an answer is reported as. */
  silence: () => ErrorCode;
  /** Stops listening to the caller's abort signal. */
  unlisten?: () => void;
  rxBefore: number;
  done: boolean;
  /** When the current attempt times out (performance.now() ms); the pending exchange sits on the clock. */
  deadline: number;
  expire: () => void;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

type SessionState = 'new' | 'opening' | 'active' | 'broken' | 'closed';

/** Shared empty request data / placeholder: Buffer.alloc(0) would make an ArrayBuffer per call. */
const EMPTY = Buffer.alloc(0);

/** How far behind the newest accepted inbound sequence number a late packet may be (and how far ahead). */
const SEQ_WINDOW = 32;

/**
 * Handshakes (Open Session .. RAKP 4) tried before an open fails, as ipmitool does. A lost or corrupt reply restarts
 * the sequence with a new Open Session: the session state on the BMC has moved on, and BMCs ignore a repeated
 * RAKP 3 (some a repeated RAKP 1), so retransmitting the step alone does not recover it.
 */
const HANDSHAKE_ATTEMPTS = 4;

/** One handshake that did not complete, and why; `signature` is equal when the same fault happened again. */
class HandshakeFailure extends Error {
  constructor(readonly error: RackhandError, readonly signature: string) {
    super(error.message);
  }
}

export class IpmiSession {
  readonly stats = {
    sent: 0, received: 0, retransmits: 0, handshakes: 0, rejected: {} as Partial<Record<RejectReason, number>>,
  };
  state: SessionState = 'new';
  /** Last time a verified packet arrived (ms since epoch); 0 = never. */
  lastRxAt = 0;
  /** Last time a caller used the session. */
  lastUseAt = Date.now();
  authCapabilities?: AuthCapabilities;

  private readonly cs: CipherSuite;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly log?: IpmiLogger;
  private link?: IpmiLink;
  private ownTransport?: UdpTransport;
  private readonly clock: DeadlineClock;
  private consoleSessionId = 0;
  private bmcSessionId = 0;
  private k1: Buffer = EMPTY;
  private k2: Buffer = EMPTY;
  private outSeq = 0;
  private inHighest = -1;
  private readonly inSeen = new Set<number>();
  // Random starts: a late answer meant for an earlier session on this endpoint is unlikely to match.
  private rqSeq = randomBlock(1)[0] % 63;
  private tag = randomBlock(1)[0];
  private pending?: Pending;
  private queue: Promise<unknown> = Promise.resolve();
  private keepaliveTimer?: NodeJS.Timeout;
  /** The caller's signal while open() runs: every handshake exchange stops when it aborts. */
  private openSignal?: AbortSignal;
  private sessionPrivilege = 0;
  /** Outbound auth code; one bound function per session rather than a closure per packet. */
  private readonly integrity = (covered: Buffer): Buffer => integrityCode(this.cs, this.k1, covered);

  constructor(readonly target: BmcTarget, private readonly opts: IpmiSessionOptions = {}) {
    const cs = cipherSuite(target.cipherSuite);
    if (!cs) {
      throw new RackhandError('BMC_UNSUPPORTED', `cipher suite ${target.cipherSuite} is not implemented (use 3 or 17)`, {
        cipherSuite: target.cipherSuite,
      });
    }
    this.cs = cs;
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.retries = opts.retries ?? 3;
    this.log = opts.logger;
    this.clock = opts.transport?.clock ?? new DeadlineClock();
  }

  get isActive(): boolean {
    return this.state === 'active';
  }

  get idBmc(): number {
    return this.bmcSessionId;
  }

  // ------------------------------------------------------------------------------------------- socket

  private async openLink(): Promise<void> {
    let transport = this.opts.transport;
    if (!transport) {
      this.ownTransport = new UdpTransport({ endpointsPerSocket: 1, receiveBufferBytes: 256 * 1024 });
      transport = this.ownTransport;
    }
    // The transport hands us only datagrams whose source is the BMC's address:port.
    this.link = await transport.open(this.target.host, this.target.port, (buf) => this.onDatagram(buf));
  }

  private send(buf: Buffer): void {
    if (!this.link) return;
    this.stats.sent++;
    this.link.send(buf);
  }

  private reject(reason: RejectReason): void {
    this.stats.rejected[reason] = (this.stats.rejected[reason] ?? 0) + 1;
    this.opts.onReject?.(reason);
  }

  /**
   * Runs in the socket's message handler: nothing may throw out of it. A datagram that does not decode, at any
   * depth (the session wrapper here or a handshake payload in the pending exchange's matcher), is dropped and
   * counted; the exchange keeps waiting and retransmits or restarts as if it had been lost.
   */
  private onDatagram(buf: Buffer): void {
    this.stats.received++;
    try {
      const p = this.pending;
      if (p && !p.done && p.matchUnverified?.(buf)) {
        this.finish(p);
        p.resolve(true);
        return;
      }
      const incoming = this.verify(buf);
      if (!incoming) return;
      const v = p && !p.done ? p.match(incoming) : undefined;
      if (v === undefined || !p) return this.reject('unexpected');
      this.finish(p);
      p.resolve(v);
    } catch {
      // Decoders throw only IpmiDecodeError; anything else is still a bad datagram, never a crash.
      this.reject('decode');
    }
  }

  /** Decodes and authenticates one datagram; undefined (with a counted reason) when it must be dropped. */
  private verify(buf: Buffer): Incoming | undefined {
    const active = this.state === 'active';
    const p = decodePacket(buf, this.cs.integrityLength);
    if (p.kind === 'asf') return void this.reject('payload-type');
    if (p.kind === 'ipmi15') {
      // Only Get Channel Authentication Capabilities travels outside RMCP+.
      if (active || p.session.sessionId !== 0) return void this.reject('session-id');
      return { kind: 'ipmi15', msg: decodeIpmiResponse(p.session.message) };
    }
    const pkt = p.packet;
    if (!active) {
      const setup = pkt.payloadType === PAYLOAD_OPEN_SESSION_RESP || pkt.payloadType === PAYLOAD_RAKP2 || pkt.payloadType === PAYLOAD_RAKP4;
      if (!setup) return void this.reject('payload-type');
      if (pkt.authenticated || pkt.encrypted) return void this.reject('unauthenticated');
      return { kind: 'setup', payloadType: pkt.payloadType, payload: pkt.payload };
    }
    if (pkt.sessionId !== this.consoleSessionId) return void this.reject('session-id');
    if (!pkt.authenticated || !pkt.integrity) return void this.reject('unauthenticated');
    if (!sameBytes(integrityCode(this.cs, this.k1, pkt.integrity.covered), pkt.integrity.authCode)) return void this.reject('integrity');
    if (!this.sequenceAcceptable(pkt.sequence)) return void this.reject('sequence');
    if (pkt.payloadType !== PAYLOAD_IPMI) return void this.reject('payload-type');
    if (!pkt.encrypted) return void this.reject('unencrypted');
    let plain: Buffer;
    try {
      plain = decryptPayload(this.k2, pkt.payload);
    } catch (e) {
      if (!(e instanceof IpmiDecodeError)) throw e;
      return void this.reject('decrypt');
    }
    const msg = decodeIpmiResponse(plain);
    // Only a fully verified packet moves the window, so forged packets cannot poison it.
    this.recordSequence(pkt.sequence);
    this.lastRxAt = Date.now();
    return { kind: 'ipmi', msg };
  }

  private sequenceAcceptable(seq: number): boolean {
    if (this.inHighest < 0) return true;
    if (seq > this.inHighest) return seq - this.inHighest <= SEQ_WINDOW;
    return this.inHighest - seq < SEQ_WINDOW && !this.inSeen.has(seq);
  }

  private recordSequence(seq: number): void {
    this.inSeen.add(seq);
    if (seq > this.inHighest) {
      this.inHighest = seq;
      for (const s of this.inSeen) if (this.inHighest - s >= SEQ_WINDOW) this.inSeen.delete(s);
    }
  }

  /**
   * Sends build() and waits for a packet that match() turns into a value, retransmitting (build() is called
   * again, so a fresh sequence number goes out) until retries run out. Deadlines go on the transport's clock
   * (one timer for all sessions), not a setTimeout per packet: a fan-out runs thousands of these.
   */
  private exchange<T>(
    build: () => Buffer, match: (p: Incoming) => T | undefined, what: string | (() => string),
    o: { attempts?: number; waitMs?: (attempt: number) => number; silence?: () => ErrorCode; signal?: AbortSignal; matchUnverified?: (buf: Buffer) => boolean } = {},
  ): Promise<T> {
    const signal = o.signal ?? this.openSignal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const p: Pending = {
        build, match, matchUnverified: o.matchUnverified, what, attempts: o.attempts ?? this.retries + 1, attempt: 0, rxBefore: this.stats.received, done: false,
        deadline: 0, waitMs: o.waitMs ?? this.backoff, silence: o.silence ?? (() => this.silence(p)),
        expire: () => this.fire(p), resolve: resolve as (v: unknown) => void, reject,
      };
      if (signal) {
        // Cancelled: drop the exchange now (no more retransmits); a late answer is then just unexpected.
        const onAbort = (): void => {
          if (p.done) return;
          this.finish(p);
          p.reject(signal.reason);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        p.unlisten = () => signal.removeEventListener('abort', onAbort);
      }
      this.pending = p;
      this.fire(p);
    });
  }

  private finish(p: Pending): void {
    p.done = true;
    p.unlisten?.();
    this.clock.delete(p);
    if (this.pending === p) this.pending = undefined;
  }

  private fire(p: Pending): void {
    if (p.done) return;
    const what = (): string => (typeof p.what === 'string' ? p.what : p.what());
    if (this.state === 'closed') {
      this.finish(p);
      p.reject(new RackhandError('BMC_ERROR', `${what()}: session closed`));
      return;
    }
    if (p.attempt >= p.attempts) {
      this.finish(p);
      p.reject(new RackhandError(p.silence(), `${what()}: no answer from ${this.target.host}:${this.target.port} after ${p.attempts} attempt(s)`));
      return;
    }
    if (p.attempt > 0) {
      this.stats.retransmits++;
      if (this.opts.counters) this.opts.counters.retransmits++;
    }
    p.attempt++;
    let pkt: Buffer;
    try {
      pkt = p.build();
    } catch (e) {
      this.finish(p);
      p.reject(e);
      return;
    }
    this.send(pkt);
    p.deadline = performance.now() + p.waitMs(p.attempt);
    this.clock.add(p);
  }

  /**
   * Attempt n waits n × timeoutMs (1, 2, 3, 4 s by default, as ipmitool): a BMC that stalls for a few seconds
   * (a slow chassis command on a single-threaded BMC) still answers the first request in time, and fewer
   * retransmits pile up behind the stall, each of which the BMC would execute again.
   */
  private readonly backoff = (attempt: number): number => this.timeoutMs * attempt;

  /** No answer at all: unreachable unless the BMC has shown it is there. */
  private silence(p: Pending): ErrorCode {
    const heard = this.state === 'active' || this.stats.received > p.rxBefore || this.lastRxAt > 0;
    return heard ? 'BMC_TIMEOUT' : 'BMC_UNREACHABLE';
  }

  private nextRqSeq(): number {
    this.rqSeq = (this.rqSeq % 63) + 1;
    return this.rqSeq;
  }


  private nextTag(): number {
    this.tag = (this.tag + 1) & 0xff;
    return this.tag;
  }

  // ------------------------------------------------------------------------------------------ handshake

  /**
   * Get Channel Auth Caps → Open Session → RAKP 1–4 → Set Session Privilege Level (only above User: a new
   * RMCP+ session already runs at User, or at the requested maximum when that is lower).
   * `privilege` is the most this session may do (requested as the RAKP 1 role); default the target's. A caller
   * that only reads (power status, sensors) asks for 'user' and saves the Set Session Privilege round trip, and
   * the session cannot do more than read. `skipCapabilities`: the caller knows this BMC does RMCP+ (an earlier
   * handshake): Get Channel Auth Caps, which tells nothing else we use, is asked only if the handshake goes wrong.
   */
  async open(opts: { privilege?: BmcPrivilege; signal?: AbortSignal; skipCapabilities?: boolean } = {}): Promise<void> {
    if (this.state !== 'new') throw new RackhandError('BMC_ERROR', `session already ${this.state}`);
    opts.signal?.throwIfAborted();
    this.openSignal = opts.signal;
    const priv = PRIVILEGE_LEVEL[opts.privilege ?? this.target.privilege];
    if (!priv) throw new RackhandError('INVALID_INPUT', `unknown privilege ${String(opts.privilege ?? this.target.privilege)}`);
    this.state = 'opening';
    try {
      await this.openLink();
      await this.handshake(priv, !opts.skipCapabilities);
      this.state = 'active';
      this.sessionPrivilege = Math.min(priv, PRIVILEGE_LEVEL.user);
      if (priv > PRIVILEGE_LEVEL.user) {
        const r = await this.requestNow(NETFN_APP, 0x3b, Buffer.from([priv]), 0);
        if (r.completionCode !== 0) {
          const e = completionCodeError(r.completionCode, 'Set Session Privilege Level');
          throw r.completionCode === 0x80 || r.completionCode === 0x81
            ? new RackhandError('BMC_AUTH_FAILED', `privilege ${this.target.privilege} not available to this user`, e.details)
            : e;
        }
        this.sessionPrivilege = priv;
      }
    } catch (e) {
      await this.close();
      throw e;
    } finally {
      this.openSignal = undefined;
    }
  }

  /** The privilege level the open session runs at (1 callback … 4 administrator); 0 before open. */
  get privilegeLevel(): number {
    return this.sessionPrivilege;
  }

  private async handshake(priv: number, askCapabilities: boolean): Promise<void> {
    const t = this.target;
    let asked = false;
    // 1. Get Channel Authentication Capabilities, IPMI 1.5 wrapper, asking for the v2.0 extended data. Stateless on
    // the BMC, so it is retransmitted like any request; no answer here means the BMC is not there.
    const capabilities = async (): Promise<void> => {
      asked = true;
      const capsSeq = this.nextRqSeq();
      const capsReq = encodeIpmiRequest({ rsAddr: BMC_SLAVE_ADDR, netFn: NETFN_APP, rsLun: 0, rqAddr: REMOTE_SWID, rqSeq: capsSeq, rqLun: 0, cmd: 0x38, data: Buffer.from([0x8e, priv]) });
      const caps = await this.exchange(
        () => encodeIpmi15Session({ authType: AUTH_TYPE_NONE, sequence: 0, sessionId: 0, message: capsReq }),
        (p) => (p.kind === 'ipmi15' && p.msg.cmd === 0x38 && p.msg.rqSeq === capsSeq ? p.msg : undefined),
        'Get Channel Authentication Capabilities',
      );
      if (caps.completionCode !== 0) throw completionCodeError(caps.completionCode, 'Get Channel Authentication Capabilities');
      try {
        this.authCapabilities = decodeAuthCapabilities(caps.data);
      } catch (e) {
        if (e instanceof IpmiDecodeError) throw new RackhandError('BMC_ERROR', `Get Channel Authentication Capabilities: ${e.reason}`);
        throw e;
      }
      if (!this.authCapabilities.supportsIpmi20) throw new RackhandError('BMC_UNSUPPORTED', 'BMC does not support IPMI v2.0 / RMCP+');
    };
    if (askCapabilities) await capabilities();

    const username = Buffer.from(t.username, 'utf8');
    if (username.length > 16) throw new RackhandError('BMC_AUTH_FAILED', 'user name longer than 16 bytes');
    let kuid: Buffer;
    try {
      kuid = userKey(t.password);
    } catch {
      throw new RackhandError('BMC_AUTH_FAILED', 'password longer than 20 bytes');
    }

    // 2. Open Session and RAKP 1-4, restarted from a new Open Session when a reply is lost or corrupt. A fault seen
    // in two handshakes is the BMC's real answer (a wrong password fails the RAKP 2 check every time; a flipped
    // bit does not), and only then is it reported as such.
    const seen = new Set<string>();
    let last: HandshakeFailure | undefined;
    let silence: RackhandError | undefined;
    for (let attempt = 1; attempt <= HANDSHAKE_ATTEMPTS; attempt++) {
      if (this.state === 'closed') break;
      try {
        await this.authenticate(priv, username, kuid, attempt);
        return;
      } catch (e) {
        if (!(e instanceof HandshakeFailure)) throw e;
        this.log?.debug({ host: t.host, port: t.port, attempt, fault: e.signature }, 'ipmi handshake failed; restarting');
        // Skipped, and the handshake went wrong: ask now. A BMC that is gone is then told apart (unreachable, from
        // the capabilities' own retries), and one that wants the exchange before Open Session gets it.
        if (!asked) await capabilities();
        if (seen.has(e.signature)) throw e.error; // the same fault twice: the BMC's real answer
        last = e;
        if (e.signature === 'silence') silence = e.error;
        else seen.add(e.signature);
      }
    }
    // Out of tries without a fault seen twice: an auth-code mismatch seen once proves nothing about the password.
    if (last && last.error.code === 'BMC_AUTH_FAILED' && last.signature.endsWith('mismatch')) {
      throw silence ?? new RackhandError('BMC_ERROR', `RMCP+ handshake with ${t.host}:${t.port} did not complete in ${HANDSHAKE_ATTEMPTS} tries (damaged replies)`);
    }
    throw last?.error ?? new RackhandError('BMC_ERROR', 'session closed during the handshake');
  }

  /** One handshake: Open Session, RAKP 1/2, RAKP 3/4. Throws HandshakeFailure for anything another try may fix. */
  private async authenticate(priv: number, username: Buffer, kuid: Buffer, attempt: number): Promise<void> {
    const t = this.target;
    this.stats.handshakes++;
    if (this.opts.counters) this.opts.counters.handshakes++;
    // Each step has timeoutMs × attempt to complete. Open Session goes out once: a repeat would make the BMC open a
    // second session when only the answer was lost. RAKP 1 and RAKP 3 go out a second time half-way through: if the
    // request was lost the repeat saves a restart, and a BMC that already has it ignores the repeat.
    const budget = this.timeoutMs * attempt;
    const silence = (): ErrorCode => 'BMC_TIMEOUT';
    const once = { attempts: 1, waitMs: () => budget, silence };
    const twice = { attempts: 2, waitMs: () => budget / 2, silence };
    const silent = (e: unknown): never => {
      if (e instanceof RackhandError && e.code === 'BMC_TIMEOUT') throw new HandshakeFailure(e, 'silence');
      throw e;
    };
    const status = (code: number, stage: string): HandshakeFailure => new HandshakeFailure(rmcpStatusError(code, stage), `${stage} status ${code}`);
    // RAKP 4 "invalid integrity check value" after a RAKP 2 that proved the password: our RAKP 3 was damaged on the
    // way (it is keyed like RAKP 2), so it is treated like a lost reply, never as the BMC's settled answer.
    const damagedRakp3 = (code: number): HandshakeFailure => new HandshakeFailure(
      new RackhandError('BMC_ERROR', 'RAKP 4: the BMC found our RAKP 3 damaged (invalid integrity check value), though its RAKP 2 proved the password', { rmcpStatus: code }),
      'silence',
    );

    // Open Session. New ids and tags every time, so a late reply to an earlier try cannot be taken for this one.
    this.consoleSessionId = getU32(randomBlock(4), 0) || 1;
    this.bmcSessionId = 0;
    const osTag = this.nextTag();
    const osReq = encodeOpenSessionRequest({ tag: osTag, privilege: priv, consoleSessionId: this.consoleSessionId, algorithms: this.cs.algorithms });
    const os: OpenSessionResponse = await this.exchange(
      () => encodeIpmi20Session({ payloadType: PAYLOAD_OPEN_SESSION_REQ, encrypted: false, sessionId: 0, sequence: 0, payload: osReq }),
      (p) => {
        if (p.kind !== 'setup' || p.payloadType !== PAYLOAD_OPEN_SESSION_RESP) return undefined;
        const r = decodeOpenSessionResponse(p.payload);
        return r.tag === osTag ? r : undefined;
      },
      'Open Session',
      once,
    ).catch(silent);
    if (os.status !== 0) throw status(os.status, 'Open Session');
    const a = os.algorithms!;
    if (a.auth !== this.cs.algorithms.auth || a.integrity !== this.cs.algorithms.integrity || a.confidentiality !== this.cs.algorithms.confidentiality) {
      throw new HandshakeFailure(new RackhandError('BMC_UNSUPPORTED', `BMC answered with other algorithms than cipher suite ${this.cs.id}`), 'algorithms');
    }
    this.bmcSessionId = os.bmcSessionId;

    // RAKP 1 / 2: prove the BMC knows the password.
    const ctx: RakpContext = {
      consoleSessionId: this.consoleSessionId,
      bmcSessionId: this.bmcSessionId,
      consoleRandom: randomBlock(16),
      bmcRandom: EMPTY, // both from RAKP 2
      bmcGuid: EMPTY,
      role: priv | 0x10, // name-only lookup
      username,
    };
    const r1Tag = this.nextTag();
    const r3Tag = this.nextTag();
    // Whatever goes wrong from here on, tell the BMC to drop the half-open session (it has few slots).
    const abort = (): void => this.send(encodeIpmi20Session({ payloadType: PAYLOAD_RAKP3, encrypted: false, sessionId: 0, sequence: 0,
      payload: encodeRakp3({ tag: r3Tag, status: 0x0f, bmcSessionId: this.bmcSessionId, authCode: EMPTY }) }));
    const rakp1 = encodeRakp1({ tag: r1Tag, bmcSessionId: this.bmcSessionId, consoleRandom: ctx.consoleRandom, role: ctx.role, username });
    const r2: Rakp2 = await this.exchange(
      () => encodeIpmi20Session({ payloadType: PAYLOAD_RAKP1, encrypted: false, sessionId: 0, sequence: 0, payload: rakp1 }),
      (p) => {
        if (p.kind !== 'setup' || p.payloadType !== PAYLOAD_RAKP2) return undefined;
        const r = decodeRakp2(p.payload);
        return r.tag === r1Tag ? r : undefined;
      },
      'RAKP 1',
      twice,
    ).catch((e: unknown) => {
      abort();
      return silent(e);
    });
    if (r2.status !== 0) throw status(r2.status, 'RAKP 2');
    ctx.bmcRandom = r2.bmcRandom;
    ctx.bmcGuid = r2.bmcGuid;
    // The auth code covers our session id as the BMC received it. Normally ours; when our Open Session request was
    // damaged on the way, the one the BMC echoed. Only a candidate the HMAC confirms is adopted.
    const sidm = [this.consoleSessionId, os.consoleSessionId, r2.consoleSessionId].find((id, i, all) => {
      if (all.indexOf(id) !== i) return false;
      return sameBytes(rakp2AuthCode(this.cs, kuid, { ...ctx, consoleSessionId: id }), r2.authCode);
    });
    if (sidm === undefined) {
      abort();
      throw new HandshakeFailure(new RackhandError('BMC_AUTH_FAILED', `RAKP 2 auth code mismatch for user ${t.username} in two handshakes (wrong password?)`), 'rakp2 mismatch');
    }
    this.consoleSessionId = sidm;
    ctx.consoleSessionId = sidm;

    // RAKP 3 / 4: prove we know it, and check the BMC derived the same session key.
    const rakp3 = encodeRakp3({ tag: r3Tag, status: 0, bmcSessionId: this.bmcSessionId, authCode: rakp3AuthCode(this.cs, kuid, ctx) });
    const answer = this.exchange(
      () => encodeIpmi20Session({ payloadType: PAYLOAD_RAKP3, encrypted: false, sessionId: 0, sequence: 0, payload: rakp3 }),
      (p) => {
        if (p.kind !== 'setup' || p.payloadType !== PAYLOAD_RAKP4) return undefined;
        const r = decodeRakp4(p.payload);
        return r.tag === r3Tag ? r : undefined;
      },
      'RAKP 3',
      twice,
    );
    answer.catch(() => undefined); // awaited below; this only keeps a throw in between from leaving it unhandled
    // RAKP 3 is on the wire: derive the keys while the BMC works on RAKP 4, so only the ICV check stands
    // between its answer and our first request. Nothing uses them unless the ICV matches.
    const kg = this.opts.kg && this.opts.kg.some((b) => b !== 0) ? this.opts.kg : kuid;
    const sik = sessionIntegrityKey(this.cs, kg, ctx);
    this.k1 = additionalKey(this.cs, sik, 1);
    this.k2 = additionalKey(this.cs, sik, 2);
    let r4: Rakp4;
    try {
      r4 = await answer;
    } catch (e) {
      // The BMC may have activated the session and only its RAKP 4 got lost: close it with the keys it holds.
      this.closeAbandoned();
      return silent(e);
    }
    if (r4.status === 0x0f) throw damagedRakp3(r4.status);
    if (r4.status !== 0) throw status(r4.status, 'RAKP 4');
    if (!sameBytes(rakp4Icv(this.cs, sik, ctx), r4.icv)) {
      this.closeAbandoned();
      throw new HandshakeFailure(new RackhandError('BMC_AUTH_FAILED', 'RAKP 4 integrity check value mismatch in two handshakes (BMC key Kg?)'), 'rakp4 mismatch');
    }
  }

  /** Close Session for a handshake given up after RAKP 3, sent once and not waited for. */
  private closeAbandoned(): void {
    const data = Buffer.allocUnsafe(4);
    putU32(data, 0, this.bmcSessionId);
    this.send(this.encodeRequest(NETFN_APP, 0x3c, data, 0, this.nextRqSeq()));
    this.k1 = EMPTY;
    this.k2 = EMPTY;
  }

  // ------------------------------------------------------------------------------------------ requests

  /**
   * Runs fn after everything queued before it. A caller whose signal aborts while it waits gets the reason at once;
   * its fn, when its turn comes, sees the aborted signal and sends nothing.
   */
  private serial<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    if (!signal) return run;
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      run.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private encodeRequest(netFn: number, cmd: number, data: Buffer, lun: number, rqSeq: number): Buffer {
    const msg = encodeIpmiRequest({ rsAddr: BMC_SLAVE_ADDR, netFn, rsLun: lun, rqAddr: REMOTE_SWID, rqSeq, rqLun: 0, cmd, data });
    this.outSeq = this.outSeq >= 0xffffffff ? 1 : this.outSeq + 1;
    return encodeIpmi20Session({
      payloadType: PAYLOAD_IPMI,
      encrypted: true,
      sessionId: this.bmcSessionId,
      sequence: this.outSeq,
      payload: encryptPayload(this.k2, msg),
      integrity: this.integrity,
      authCodeLength: this.cs.integrityLength,
    });
  }

  private requestNow(netFn: number, cmd: number, data: Buffer, lun: number, attempts?: number, signal?: AbortSignal, waitMs?: (attempt: number) => number): Promise<IpmiResponse> {
    if (this.state !== 'active') return Promise.reject(new RackhandError('BMC_ERROR', `session is ${this.state}`));
    const rqSeq = this.nextRqSeq();
    return this.exchange(
      () => this.encodeRequest(netFn, cmd, data, lun, rqSeq),
      (p) => (p.kind === 'ipmi' && p.msg.rqSeq === rqSeq && p.msg.cmd === cmd && p.msg.netFn === (netFn | 1) ? p.msg : undefined),
      () => `IPMI netFn 0x${netFn.toString(16)} cmd 0x${cmd.toString(16)}`,
      { attempts, signal, waitMs },
    ).catch((e: unknown) => {
      // A request that went unanswered leaves the session in doubt (BMC rebooted, session expired).
      if (e instanceof RackhandError && (e.code === 'BMC_TIMEOUT' || e.code === 'BMC_UNREACHABLE')) this.state = 'broken';
      throw e;
    });
  }

  /** One request in this session (queued behind any other); resolves with the response whatever its completion code. */
  /**
   * One request in this session (queued behind any other); resolves with the response whatever its completion code.
   * `probe`: two tries at the plain timeout instead of the growing waits, for the first request on a session that
   * sat idle, which may have died with a BMC reboot: better a quick new session than ten seconds of retransmits.
   */
  request(netFn: number, cmd: number, data: Buffer = EMPTY, lun = 0, signal?: AbortSignal, probe = false): Promise<IpmiResponse> {
    this.lastUseAt = Date.now();
    return this.serial(() => this.requestNow(netFn, cmd, data, lun, probe ? 2 : undefined, signal, probe ? () => this.timeoutMs : undefined), signal);
  }

  /** Like request(), but a non-zero completion code becomes the mapped RackhandError. */
  async command(netFn: number, cmd: number, data: Buffer = EMPTY, what = `cmd 0x${cmd.toString(16)}`, lun = 0): Promise<Buffer> {
    const r = await this.request(netFn, cmd, data, lun);
    if (r.completionCode !== 0) throw completionCodeError(r.completionCode, what);
    return r.data;
  }

  /** Sends Get Device ID every intervalMs while the session sits idle, so the BMC does not expire it. */
  startKeepalive(intervalMs: number): void {
    this.stopKeepalive();
    this.keepaliveTimer = setInterval(() => {
      if (this.state !== 'active' || Date.now() - this.lastUseAt < intervalMs) return;
      this.lastUseAt = Date.now();
      this.serial(() => this.requestNow(NETFN_APP, 0x01, EMPTY, 0)).catch(() => {
        this.log?.debug({ host: this.target.host, port: this.target.port }, 'ipmi keepalive failed');
      });
    }, Math.max(50, Math.floor(intervalMs / 2)));
    this.keepaliveTimer.unref();
  }

  private stopKeepalive(): void {
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }

  /**
   * Close Session, then the socket. Never throws. One short exchange (two tries) when the session is healthy. Its
   * answer is recognised by our session id in the clear header alone, not verified nor decrypted: it carries nothing
   * rackhand uses, and a forged one could only end the wait early. The wait itself stays, so the BMC has freed the
   * session before the next command to it goes out.
   */
  async close(): Promise<void> {
    this.stopKeepalive();
    if (this.state === 'closed') return;
    if (this.state === 'active') {
      const data = Buffer.allocUnsafe(4);
      putU32(data, 0, this.bmcSessionId);
      const ours = (buf: Buffer): boolean => {
        const p = decodePacket(buf, this.cs.integrityLength);
        return p.kind === 'ipmi20' && p.packet.sessionId === this.consoleSessionId && p.packet.payloadType === PAYLOAD_IPMI;
      };
      await this.serial(() => {
        if (this.state !== 'active') return Promise.resolve();
        const rqSeq = this.nextRqSeq();
        return this.exchange(() => this.encodeRequest(NETFN_APP, 0x3c, data, 0, rqSeq), () => undefined, 'Close Session', { attempts: 2, matchUnverified: ours });
      }).catch(() => undefined);
    }
    this.state = 'closed';
    this.link?.close();
    this.link = undefined;
    await this.ownTransport?.close();
    this.ownTransport = undefined;
  }
}
