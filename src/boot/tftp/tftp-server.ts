// rackhand's read-only TFTP server: listen socket, request vetting, option negotiation, transfer bookkeeping.

import dgram from 'node:dgram';
import net from 'node:net';
import { RackhandError } from '../../errors.js';
import type { BootEventKind, BootEventSink } from '../boot-event.js';
import { BufferBlockSource, FileBlockSource, type BlockSource } from './tftp-block-source.js';
import { TftpFileCache } from './tftp-file-cache.js';
import { TFTP_ERROR, TftpDecodeError, parseTftpPacket, serializeError, type TftpRequest } from './tftp-packet.js';
import { normaliseTftpPath, openInRoots, realRoots } from './tftp-path.js';
import { NativeTransfer, nativeEngine, nativeEngineError } from './tftp-native-transfer.js';
import { TftpTransfer, type TftpTransferParams, type TftpTransferRun } from './tftp-transfer.js';

/** The subset of a pino logger this server calls. */
export interface TftpLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface TftpServerOptions {
  /** Listen address; transfer sockets bind to it too. Default 0.0.0.0. */
  address?: string;
  /** Default 69; tests use 0. */
  port?: number;
  /** Directories files are served from, searched in order. */
  roots: string[];
  /** Cap on negotiated blksize (RFC 2348); default 1468 so a block fits a 1500-byte MTU. */
  maxBlksize?: number;
  /** Cap on negotiated windowsize (RFC 7440); default 64. */
  maxWindowsize?: number;
  /** Retransmit timeout when the client does not ask for one (RFC 2349); default 1000 ms. */
  timeoutMs?: number;
  /** Retransmits of one window before the transfer is abandoned; default 5. */
  retries?: number;
  /**
   * Concurrent transfers. When all are taken, a new request evicts the oldest transfer whose client
   * never acknowledged anything (a flood of spoofed or abandoned requests cannot hold the slots);
   * only when every transfer is acknowledged does a request get error 0 "server busy". Default 256.
   */
  maxTransfers?: number;
  /** Concurrent transfers per client address; a booting host needs one or two. Default 8. */
  maxTransfersPerClient?: number;
  /** A transfer's whole lifetime, however steadily its client acknowledges; then error 0. Default 10 min. */
  maxTransferMs?: number;
  /**
   * Largest RFC 2349 `timeout` (seconds) the server acknowledges and uses; a larger one is left out of
   * the OACK (RFC 2347 lets a server ignore an option) and the server's own timeout applies. Default 5.
   */
  maxClientTimeoutS?: number;
  /**
   * Memory for whole files served from RAM (iPXE binaries are fetched by every booting host);
   * default 64 MiB, 0 turns the cache off. Every request is still confined, opened and stat'ed.
   */
  cacheBytes?: number;
  /** Largest file the cache keeps; bigger files are read from disk in chunks. Default 8 MiB. */
  cacheMaxFileBytes?: number;
  /**
   * Generated per-host files (e.g. grub.cfg-01-aa-bb-…): asked first with the normalised,
   * root-relative path; a Buffer is served as the file, undefined falls through to the roots.
   */
  resolveDynamic?: (path: string, clientAddress: string) => Buffer | undefined | Promise<Buffer | undefined>;
  /**
   * Who moves the blocks: 'native' (src/native/tftp_engine.c on epoll threads, built by `npm run build`),
   * 'js' (TftpTransfer, Node's dgram), or 'auto' (native when built, else js with a warning). Default auto.
   */
  engine?: 'auto' | 'native' | 'js';
  /** Each transfer's end and each logged refusal, for the per-host boot history (never per block). */
  onBootEvent?: BootEventSink;
  logger?: TftpLogger;
}

export interface TftpServerStats {
  requests: number; // RRQ/WRQ datagrams received on the listen port
  refused: number; // requests answered with an error (not found, access, busy, write, bad options)
  refusedClientLimit: number; // of those: the client address already had maxTransfersPerClient transfers
  evicted: number; // never-acknowledged transfers ended to make room for a new request
  expired: number; // transfers ended at maxTransferMs
  superseded: number; // transfers ended because their client sent another request from the same port
  handlerErrors: number; // exceptions caught in a datagram or transfer handler (a bug or a failing hook), never fatal
  duplicateRequests: number; // retransmitted RRQs for a transfer already running
  transfersStarted: number;
  transfersOk: number;
  transfersFailed: number; // timeouts, read errors, shutdown
  transfersAborted: number; // client sent ERROR (e.g. the tsize probe's error 8)
  activeTransfers: number;
  bytesSent: number; // DATA payload bytes, retransmits included
  retransmits: number;
  unknownTid: number; // datagrams from strangers that reached a transfer (the kernel normally drops them)
  badPackets: number; // undecodable or unexpected datagrams
  cacheHits: number; // requests served from the in-memory file cache
  cacheMisses: number; // cacheable files read from disk into the cache
}


const MIN_BLKSIZE = 8;
const MAX_BLKSIZE = 65464;
const MAX_WINDOWSIZE = 65535;
/** Longer than common clients' RRQ retransmit interval (tftp-hpa and atftp: 5 s). */
const DUPLICATE_RRQ_MEMORY_MS = 6000;
/** Refusals logged one by one per interval; beyond that they are summed in one line (a flood is one line). */
const REFUSALS_LOGGED_PER_INTERVAL = 20;
const REFUSAL_SUMMARY_MS = 10_000;

/** A transfer slot, taken from the moment a request is accepted (while its file is opened). */
interface Slot {
  transfer: TftpTransferRun | 'opening';
  client: string;
  startedAt: number;
  /** The request as received: the same bytes again are a retransmission, other bytes a new request. */
  request: Buffer;
}

type EndCause = 'evicted' | 'expired' | 'superseded';

export class TftpServer {
  private readonly address: string;
  private readonly family: 'udp4' | 'udp6';
  private readonly port: number;
  private readonly maxBlksize: number;
  private readonly maxWindowsize: number;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly maxTransfers: number;
  private readonly maxPerClient: number;
  private readonly maxTransferMs: number;
  private readonly maxClientTimeoutS: number;
  private socket: dgram.Socket | undefined;
  private engine: 'native' | 'js' = 'js';
  private roots: string[] = [];
  /** client "addr|port" → its slot; Map order is age, oldest first (eviction picks from the front). */
  private readonly transfers = new Map<string, Slot>();
  /** client address → transfers it holds. */
  private readonly perClient = new Map<string, number>();
  /** Transfers the server ended itself (counted when ended, not again when they settle). */
  private readonly endedBy = new WeakMap<TftpTransferRun, EndCause>();
  private readonly settling = new Set<Promise<unknown>>();
  /**
   * Clients that just completed a transfer, with their request bytes: a client whose RRQ
   * retransmit crossed our first DATA would otherwise start a second transfer that nobody reads.
   */
  private readonly recentlyDone = new Map<string, { request: Buffer; until: number }>();
  private stopping = false;
  /** One coarse timer for every transfer's lifetime and the refusal summary; none per transfer. */
  private sweepTimer: NodeJS.Timeout | undefined;
  private refusalWindow = { start: 0, logged: 0, suppressed: 0 };
  private readonly cache: TftpFileCache | undefined;
  private readonly counters: Omit<TftpServerStats, 'activeTransfers' | 'cacheHits' | 'cacheMisses'> = {
    requests: 0,
    refused: 0,
    refusedClientLimit: 0,
    evicted: 0,
    expired: 0,
    superseded: 0,
    handlerErrors: 0,
    duplicateRequests: 0,
    transfersStarted: 0,
    transfersOk: 0,
    transfersFailed: 0,
    transfersAborted: 0,
    bytesSent: 0,
    retransmits: 0,
    unknownTid: 0,
    badPackets: 0,
  };

  constructor(private readonly opts: TftpServerOptions) {
    this.address = opts.address ?? '0.0.0.0';
    this.family = net.isIPv6(this.address) ? 'udp6' : 'udp4';
    this.port = opts.port ?? 69;
    this.maxBlksize = clampInt(opts.maxBlksize ?? 1468, MIN_BLKSIZE, MAX_BLKSIZE);
    this.maxWindowsize = clampInt(opts.maxWindowsize ?? 64, 1, MAX_WINDOWSIZE);
    this.timeoutMs = Math.max(10, opts.timeoutMs ?? 1000);
    this.retries = Math.max(0, opts.retries ?? 5);
    this.maxTransfers = Math.max(1, opts.maxTransfers ?? 256);
    this.maxPerClient = Math.max(1, opts.maxTransfersPerClient ?? 8);
    this.maxTransferMs = Math.max(100, opts.maxTransferMs ?? 600_000);
    this.maxClientTimeoutS = clampInt(opts.maxClientTimeoutS ?? 5, 1, 255);
    const cacheBytes = Math.max(0, opts.cacheBytes ?? 64 * 1024 * 1024);
    this.cache = cacheBytes > 0 ? new TftpFileCache(cacheBytes, Math.max(0, opts.cacheMaxFileBytes ?? 8 * 1024 * 1024)) : undefined;
  }

  async start(): Promise<{ address: string; port: number }> {
    if (this.socket) throw new RackhandError('CONFLICT', 'TFTP server already started');
    if (!net.isIP(this.address)) {
      throw new RackhandError('INVALID_INPUT', 'TFTP listen address must be an IP address', { address: this.address });
    }
    if (this.opts.roots.length === 0 && !this.opts.resolveDynamic) {
      throw new RackhandError('INVALID_INPUT', 'TFTP server needs at least one root or a dynamic resolver');
    }
    try {
      this.roots = await realRoots(this.opts.roots);
    } catch (e) {
      throw new RackhandError('BOOT_ERROR', `TFTP root not usable: ${(e as Error).message}`);
    }
    const wanted = this.opts.engine ?? 'auto';
    this.engine = wanted !== 'js' && nativeEngine() ? 'native' : 'js';
    if (wanted === 'native' && this.engine !== 'native') {
      throw new RackhandError('BOOT_ERROR', `TFTP native engine not built (run npm run build): ${nativeEngineError()}`);
    }
    if (wanted === 'auto' && this.engine === 'js') {
      this.opts.logger?.warn({ err: nativeEngineError() }, 'tftp native engine not built (npm run build builds it): using the slower JavaScript engine');
    }
    this.stopping = false;
    const socket = dgram.createSocket({ type: this.family });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: this.address, port: this.port, exclusive: true }, () => {
        socket.off('error', reject);
        resolve();
      });
    }).catch((e: Error) => {
      socket.close();
      throw new RackhandError('BOOT_ERROR', `TFTP cannot listen on ${this.address}:${this.port}: ${e.message}`);
    });
    socket.on('error', (err) => this.guard(rinfoNone, () => this.opts.logger?.error({ err: err.message }, 'tftp listen socket error')));
    socket.on('message', (msg, rinfo) => this.guard(rinfo, () => this.onRequest(msg, rinfo)));
    this.socket = socket;
    this.refusalWindow = { start: Date.now(), logged: 0, suppressed: 0 };
    this.sweepTimer = setInterval(() => this.guard(rinfoNone, () => this.sweep()), Math.min(1000, this.maxTransferMs / 4));
    this.sweepTimer.unref();
    const a = socket.address();
    this.opts.logger?.info({ address: a.address, port: a.port, roots: this.roots, engine: this.engine }, 'tftp listening');
    return { address: a.address, port: a.port };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    const socket = this.socket;
    this.socket = undefined;
    if (socket) await new Promise<void>((r) => socket.close(() => r()));
    for (const slot of this.transfers.values()) if (slot.transfer !== 'opening') slot.transfer.cancel('server shutting down');
    // Requests still opening files finish their bookkeeping and then see `stopping`.
    while (this.settling.size > 0) await Promise.all([...this.settling]);
    this.recentlyDone.clear();
    this.cache?.clear();
  }

  /** The engine moving the blocks, decided at start(). */
  get engineInUse(): 'native' | 'js' {
    return this.engine;
  }

  stats(): TftpServerStats {
    return {
      ...this.counters,
      activeTransfers: this.transfers.size,
      cacheHits: this.cache?.hits ?? 0,
      cacheMisses: this.cache?.misses ?? 0,
    };
  }

  /**
   * Every socket, timer and promise callback runs through here: whatever throws (a codec bug, a
   * throwing hook or logger) costs that one datagram, is counted, and never reaches the process.
   */
  private guard(rinfo: { address: string }, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.handlerError(e, rinfo.address);
    }
  }

  private handlerError(e: unknown, client: string): void {
    this.counters.handlerErrors += 1;
    try {
      this.opts.logger?.error({ err: e instanceof Error ? e.message : String(e), client }, 'tftp handler error, datagram dropped');
    } catch {
      // the logger itself is what failed: the counter still says so
    }
  }

  private onRequest(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    let pkt;
    try {
      pkt = parseTftpPacket(msg);
    } catch (e) {
      if (!(e instanceof TftpDecodeError)) throw e;
      this.counters.badPackets += 1;
      return;
    }
    if (pkt.op !== 'RRQ' && pkt.op !== 'WRQ') {
      // Stray DATA/ACK/ERROR on the listen port: silence, so we never reflect traffic.
      this.counters.badPackets += 1;
      return;
    }
    this.counters.requests += 1;
    if (pkt.op === 'WRQ') {
      this.refuse(rinfo, TFTP_ERROR.ACCESS_VIOLATION, 'Server is read-only', { file: pkt.filename });
      return;
    }
    const key = `${rinfo.address}|${rinfo.port}`;
    const recent = this.recentlyDone.get(key);
    const running = this.transfers.get(key);
    if (running && running.transfer !== 'opening' && !running.request.equals(msg)) {
      // Another request from the port of a running transfer: the client gave that one up, as a PXE ROM does after its
      // tsize probe (an ERROR to the transfer's port, then at once the real request here; the two may be read in
      // either order). Taken for a duplicate, the real request waited for the ROM's retransmit.
      this.end(key, running.transfer, 'superseded', 'superseded by a new request from the same port', false);
    } else if (running || (recent && recent.until > Date.now() && recent.request.equals(msg))) {
      this.counters.duplicateRequests += 1;
      return;
    }
    if ((this.perClient.get(rinfo.address) ?? 0) >= this.maxPerClient) {
      this.counters.refusedClientLimit += 1;
      this.refuse(rinfo, TFTP_ERROR.NOT_DEFINED, 'Too many transfers from this address, try again later', { file: pkt.filename });
      return;
    }
    if (this.transfers.size >= this.maxTransfers && !this.evictUnacknowledged()) {
      this.refuse(rinfo, TFTP_ERROR.NOT_DEFINED, 'Server busy, try again later', { file: pkt.filename });
      return;
    }
    this.claim(key, rinfo.address, msg);
    const p = this.serve(pkt, msg, rinfo, key)
      .catch((e: unknown) => {
        this.handlerError(e, rinfo.address);
        this.release(key);
      })
      .finally(() => this.settling.delete(p));
    this.settling.add(p);
  }

  private claim(key: string, client: string, request: Buffer): void {
    this.transfers.set(key, { transfer: 'opening', client, startedAt: Date.now(), request: Buffer.from(request) });
    this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
  }

  /** Frees the slot; with `transfer`, only if the slot still belongs to it (not to a newer request). */
  private release(key: string, transfer?: TftpTransferRun): void {
    const slot = this.transfers.get(key);
    if (!slot || (transfer && slot.transfer !== transfer)) return;
    this.transfers.delete(key);
    const n = (this.perClient.get(slot.client) ?? 1) - 1;
    if (n > 0) this.perClient.set(slot.client, n);
    else this.perClient.delete(slot.client);
  }

  /**
   * Frees the oldest slot whose client never acknowledged a packet. Such a client has not shown it
   * receives at its address (a spoofed source, or a request sent and abandoned); a real client
   * acknowledges within one round trip and is then never evicted.
   */
  private evictUnacknowledged(): boolean {
    for (const [key, slot] of this.transfers) {
      if (slot.transfer === 'opening' || slot.transfer.acknowledged) continue;
      this.end(key, slot.transfer, 'evicted', 'Server busy, try again later');
      return true;
    }
    return false;
  }

  private end(key: string, transfer: TftpTransferRun, cause: EndCause, message: string, tellClient = true): void {
    this.endedBy.set(transfer, cause);
    this.counters[cause] += 1;
    this.release(key, transfer);
    transfer.cancel(message, tellClient);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, slot] of this.transfers) {
      if (slot.transfer !== 'opening' && now - slot.startedAt > this.maxTransferMs) {
        this.opts.logger?.warn({ client: slot.client, ms: now - slot.startedAt }, 'tftp transfer ended: took too long');
        this.end(key, slot.transfer, 'expired', 'Transfer took too long');
      }
    }
    const w = this.refusalWindow;
    if (now - w.start >= REFUSAL_SUMMARY_MS) {
      if (w.suppressed > 0) {
        this.opts.logger?.info({ refused: w.suppressed, seconds: Math.round((now - w.start) / 1000) }, 'tftp requests refused (not logged one by one)');
      }
      this.refusalWindow = { start: now, logged: 0, suppressed: 0 };
    }
  }

  private async serve(req: TftpRequest, raw: Buffer, rinfo: dgram.RemoteInfo, key: string): Promise<void> {
    const log = this.opts.logger;
    const fail = (code: number, message: string, extra: Record<string, unknown>) => {
      this.release(key);
      this.refuse(rinfo, code, message, { file: req.filename.slice(0, 200), ...extra });
    };
    if (req.mode === 'mail') return fail(TFTP_ERROR.ILLEGAL_OPERATION, 'Mail mode not supported', {});
    const norm = normaliseTftpPath(req.filename);
    if (!norm.ok) {
      log?.warn({ client: rinfo.address, file: req.filename.slice(0, 200), reason: norm.reason }, 'tftp path refused');
      return fail(TFTP_ERROR.ACCESS_VIOLATION, 'Access violation', { reason: norm.reason });
    }

    // Blksize decides the chunking of the file source, so negotiate before opening.
    const blksizeAsked = parseOptInt(req.options.get('blksize'));
    const blksize =
      blksizeAsked !== undefined && blksizeAsked >= MIN_BLKSIZE ? Math.min(blksizeAsked, this.maxBlksize) : 512;

    let source: BlockSource | undefined;
    if (this.opts.resolveDynamic) {
      let dyn: Buffer | undefined;
      try {
        dyn = await this.opts.resolveDynamic(norm.relative, rinfo.address);
      } catch (e) {
        log?.error({ err: (e as Error).message, file: norm.relative }, 'tftp dynamic resolver threw');
        return fail(TFTP_ERROR.NOT_DEFINED, 'Cannot generate file', {});
      }
      if (dyn) source = new BufferBlockSource(dyn);
    }
    if (!source) {
      const opened = await openInRoots(this.roots, norm.relative);
      if (!opened.ok) {
        if (opened.reason === 'outside-root') {
          log?.warn({ client: rinfo.address, file: norm.relative }, 'tftp symlink out of root refused');
        }
        if (opened.reason === 'not-found') return fail(TFTP_ERROR.FILE_NOT_FOUND, 'File not found', {});
        return fail(TFTP_ERROR.ACCESS_VIOLATION, 'Access violation', { reason: opened.reason });
      }
      let cached: Buffer | undefined;
      try {
        cached = await this.cache?.get(opened.fd, opened.stat);
      } catch (e) {
        await opened.fd.close().catch(() => {});
        log?.error({ err: (e as Error).message, file: norm.relative }, 'tftp read failed');
        return fail(TFTP_ERROR.NOT_DEFINED, 'Read error', {});
      }
      if (cached) {
        await opened.fd.close().catch(() => {});
        source = new BufferBlockSource(cached);
      } else {
        source = new FileBlockSource(opened.fd, opened.size, blksize);
      }
    }
    const slot = this.transfers.get(key);
    if (this.stopping || !slot) {
      await source.close();
      this.release(key);
      return;
    }

    const oack = new Map<string, string>();
    if (blksizeAsked !== undefined && blksizeAsked >= MIN_BLKSIZE) oack.set('blksize', String(blksize));
    if (req.options.has('tsize')) oack.set('tsize', String(source.size));
    const timeoutAsked = parseOptInt(req.options.get('timeout'));
    let timeoutMs = this.timeoutMs;
    if (timeoutAsked !== undefined && timeoutAsked >= 1 && timeoutAsked <= this.maxClientTimeoutS) {
      timeoutMs = timeoutAsked * 1000;
      oack.set('timeout', String(timeoutAsked));
    }
    const windowAsked = parseOptInt(req.options.get('windowsize'));
    let windowsize = 1;
    if (windowAsked !== undefined && windowAsked >= 1) {
      windowsize = Math.min(windowAsked, this.maxWindowsize);
      oack.set('windowsize', String(windowsize));
    }

    const params: TftpTransferParams = {
      bindAddress: this.address,
      family: this.family,
      clientAddress: rinfo.address,
      clientPort: rinfo.port,
      source,
      blksize,
      windowsize,
      timeoutMs,
      maxTimeoutMs: Math.max(timeoutMs, 8000),
      retries: this.retries,
      oack,
    };
    const native = this.engine === 'native' ? nativeEngine() : undefined;
    const transfer: TftpTransferRun = native
      ? new NativeTransfer(native, params)
      : new TftpTransfer(params, { onHandlerError: (e) => this.handlerError(e, rinfo.address) });
    slot.transfer = transfer;
    this.counters.transfersStarted += 1;
    const ended = transfer.done
      .then((o) => {
        this.release(key, transfer);
        this.counters.bytesSent += o.bytes;
        this.counters.retransmits += o.retransmits;
        this.counters.badPackets += o.badPackets;
        this.counters.unknownTid += o.unknownTid;
        const base = { client: rinfo.address, port: rinfo.port, file: norm.relative, size: source.size, ms: Date.now() - slot.startedAt };
        const cause = this.endedBy.get(transfer);
        if (cause) {
          log?.debug({ ...base, cause }, 'tftp transfer ended by the server');
          // Evicted transfers are a flood's, never acknowledged by anyone: not a host's history.
          if (cause === 'expired') this.event('tftp-failed', rinfo.address, `${norm.relative}: took longer than ${this.maxTransferMs} ms, ended`);
          if (cause === 'superseded') this.event('tftp-aborted', rinfo.address, `${norm.relative}: the client sent a new request from the same port`);
        } else if (o.result === 'ok') {
          this.counters.transfersOk += 1;
          this.rememberDone(key, raw);
          log?.info({ ...base, blksize, windowsize, retransmits: o.retransmits }, 'tftp transfer done');
          this.event('tftp-read', rinfo.address, `${norm.relative}: ${source.size} bytes, blksize ${blksize}, windowsize ${windowsize}, ${o.retransmits} retransmits, ${base.ms} ms`);
        } else if (o.result === 'aborted') {
          this.counters.transfersAborted += 1;
          log?.debug({ ...base, code: o.code, message: o.message }, 'tftp transfer aborted by client');
          this.event('tftp-aborted', rinfo.address, `${norm.relative}: client sent error ${o.code} ${JSON.stringify(o.message)}`);
        } else {
          this.counters.transfersFailed += 1;
          log?.warn({ ...base, reason: o.reason }, 'tftp transfer failed');
          this.event('tftp-failed', rinfo.address, `${norm.relative}: ${o.reason}`);
        }
      })
      .catch((e: unknown) => this.handlerError(e, rinfo.address));
    this.settling.add(ended);
    void ended.finally(() => this.settling.delete(ended));
    await transfer.start();
    log?.debug({ client: rinfo.address, port: rinfo.port, file: norm.relative, options: Object.fromEntries(oack) }, 'tftp transfer started');
  }

  private rememberDone(key: string, request: Buffer): void {
    const now = Date.now();
    if (this.recentlyDone.size >= 4096) {
      for (const [k, v] of this.recentlyDone) if (v.until <= now) this.recentlyDone.delete(k);
      // Still full of live entries: forget the oldest rather than grow without bound.
      if (this.recentlyDone.size >= 4096) this.recentlyDone.delete(this.recentlyDone.keys().next().value!);
    }
    this.recentlyDone.set(key, { request: Buffer.from(request), until: now + DUPLICATE_RRQ_MEMORY_MS });
  }

  private refuse(rinfo: dgram.RemoteInfo, code: number, message: string, extra: Record<string, unknown>): void {
    this.counters.refused += 1;
    try {
      this.socket?.send(serializeError(code, message), rinfo.port, rinfo.address);
    } catch {
      // listen socket closed by stop()
    }
    const w = this.refusalWindow;
    if (w.logged >= REFUSALS_LOGGED_PER_INTERVAL) {
      w.suppressed += 1;
      return;
    }
    w.logged += 1;
    this.opts.logger?.info({ client: rinfo.address, port: rinfo.port, code, message, ...extra }, 'tftp request refused');
    this.event('tftp-refused', rinfo.address, `${typeof extra.file === 'string' ? extra.file : '?'}: error ${code} ${message}`);
  }

  private event(kind: BootEventKind, ip: string, detail: string): void {
    const sink = this.opts.onBootEvent;
    if (!sink) return;
    try {
      sink({ at: Date.now(), kind, ip, detail });
    } catch (e) {
      this.handlerError(e, ip);
    }
  }
}

const rinfoNone = { address: '' };

/** RFC 2347 option values are decimal strings; anything else means "option not understood". */
function parseOptInt(v: string | undefined): number | undefined {
  if (v === undefined || !/^\d{1,10}$/.test(v)) return undefined;
  return Number(v);
}

function clampInt(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, Math.floor(v)));
}
