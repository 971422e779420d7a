// The console websocket proxy on the `ws` package: ticket/Origin/white_ip checks at upgrade, VNC connect + RFB
// banner timeouts, idle/ping timeouts, session caps, backpressure both ways, close codes, counters, audit records.
import type http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type ServerOptions } from 'ws';
import { CONSOLE_CLOSE } from './close-codes.js';
import { IpAllowList, normalizeAddress } from './ip-allow-list.js';
import { isPlausibleTicket, ticketFingerprint } from './tickets.js';

export interface ConsoleTarget {
  host: string;
  port: number;
}

/** What a redeemed ticket grants: one viewer connection to one server's console. */
export interface ConsoleGrant {
  /** The console session (novnc key); several tickets of one session = several viewers. */
  sessionId: string;
  serverId: number;
  /** For log lines only. */
  serverName?: string;
  target: ConsoleTarget;
  /** white_ip: addresses or CIDR blocks; absent or empty = any address. Invalid entries match nothing. */
  allowedIps?: string[];
}

export interface UpgradeContext {
  /** Client address as seen on the socket (IPv4-mapped IPv6 already reduced to IPv4). */
  remoteAddress: string;
  origin?: string;
}

/** What the proxy asks the rest of rackhand at upgrade time. */
export interface ConsoleTicketAuthority {
  /** Validates AND consumes a single-use ticket; null when unknown, expired or used. */
  redeem(ticket: string, ctx: UpgradeContext): Promise<ConsoleGrant | null> | ConsoleGrant | null;
}

/** One viewer connection, for the audit trail. */
export interface ConsoleConnectionRecord {
  connectionId: number;
  sessionId: string;
  serverId: number;
  remoteAddress: string;
  /** First 12 hex chars of sha256(ticket); the ticket itself is never kept. */
  ticketFingerprint: string;
  startedAt: Date;
  endedAt: Date;
  /** Browser → VNC server. */
  bytesUp: number;
  /** VNC server → browser. */
  bytesDown: number;
  /** The close code the proxy sent or received (see CONSOLE_CLOSE). */
  code: number;
  reason: string;
}

export interface ConsoleLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug?(obj: object, msg?: string): void;
}

export interface VncProxyOptions {
  authority: ConsoleTicketAuthority;
  /** URL path of the websocket endpoint. */
  path?: string;
  /** Exact origins (scheme://host[:port]) allowed besides the same origin as the Host header. */
  allowedOrigins?: readonly string[];
  /** Accept an Origin whose host:port equals the request's Host header (default true). */
  allowSameOrigin?: boolean;
  /** Accept requests without Origin (non-browser clients; browsers always send it). Default true. */
  allowMissingOrigin?: boolean;
  connectTimeoutMs?: number;
  /** From TCP connect until the `RFB 003.00x\n` banner is complete. */
  handshakeTimeoutMs?: number;
  /** No bytes in either direction for this long closes the connection (4001). */
  idleTimeoutMs?: number;
  /** Websocket ping period; a browser missing one pong period is dropped (4004). 0 disables. */
  pingIntervalMs?: number;
  /** Limit for the authority's redeem(). */
  redeemTimeoutMs?: number;
  maxConnectionsPerServer?: number;
  maxConnectionsTotal?: number;
  /** Largest websocket message accepted from the browser (larger closes with 1009). */
  maxPayload?: number;
  /** Bytes queued towards one side before the other side is paused. */
  highWaterMark?: number;
  /** Bytes a client may send before the VNC banner arrived (noVNC sends none). */
  maxEarlyBytes?: number;
  logger?: ConsoleLogger;
  onConnectionStart?(rec: Omit<ConsoleConnectionRecord, 'endedAt' | 'bytesUp' | 'bytesDown' | 'code' | 'reason'>): void;
  /** Called once per viewer connection that got past the checks. */
  onConnectionEnd?(rec: ConsoleConnectionRecord): void;
}

export interface VncProxyStats {
  activeConnections: number;
  activeSessions: number;
  /** Upgrades waiting for the ticket authority. */
  pendingUpgrades: number;
  connectionsTotal: number;
  bytesUp: number;
  bytesDown: number;
  /** Refusals and failures by close code (or `http_<status>` for requests refused before the upgrade). */
  closes: Record<string, number>;
}

type Phase = 'connecting' | 'banner' | 'open' | 'closed';

const RFB_BANNER_LEN = 12;

/** 'ok' when `buf` starts with a full `RFB xxx.yyy\n` banner, 'more' while it could still become one. */
export function checkRfbBanner(buf: Uint8Array): 'ok' | 'more' | 'bad' {
  const tmpl = 'RFB 000.000\n';
  const n = Math.min(buf.length, RFB_BANNER_LEN);
  for (let i = 0; i < n; i++) {
    const c = buf[i];
    const t = tmpl.charCodeAt(i);
    const isDigitSlot = t === 0x30;
    if (isDigitSlot ? c < 0x30 || c > 0x39 : c !== t) return 'bad';
  }
  return n === RFB_BANNER_LEN ? 'ok' : 'more';
}

/** host:port of an Origin header, or null when it is not an http(s) origin. */
function originHost(origin: string): string | null {
  try {
    const u = new URL(origin);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return u.host.toLowerCase();
  } catch {
    return null;
  }
}

const HTTP_REASONS: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

function writeHttpError(socket: Duplex, status: number, body: string): void {
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${status} ${HTTP_REASONS[status] ?? 'Error'}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** How long a closing handshake may take before the socket is cut (a frozen browser never answers). */
const CLOSE_TIMEOUT_MS = 2_000;

/** One options object for every send: the hot path allocates nothing per message. */
const SEND_BINARY = { binary: true, compress: false, fin: true } as const;

/** The close code `ws` sends when its frame parser refuses what the browser sent (its codes are strings). */
function wsErrorCloseCode(err: Error & { code?: string }): number {
  if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') return 1009;
  if (err.code === 'WS_ERR_INVALID_UTF8') return 1007;
  return 1002;
}

/** A close reason fits a control frame: at most 123 bytes of UTF-8. */
function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let r = reason.slice(0, 123);
  while (Buffer.byteLength(r) > 123) r = r.slice(0, -1);
  return r;
}

class ProxyConnection {
  phase: Phase = 'connecting';
  upstream: net.Socket | null = null;
  bytesUp = 0;
  bytesDown = 0;
  lastActivity = Date.now();
  awaitingPong = false;
  readonly startedAt = new Date();
  endCode = 1005;
  endReason = '';
  early: Buffer[] = [];
  earlyBytes = 0;
  banner: Buffer = Buffer.alloc(0);
  timer: NodeJS.Timeout | null = null;
  upPaused = false;
  downPaused = false;
  /** Resumes the VNC side once the websocket flushed what was queued (the send callback). */
  readonly downDrained = (): void => {
    this.downPaused = false;
    if (this.phase !== 'closed') this.upstream?.resume();
  };

  constructor(
    readonly id: number,
    readonly grant: ConsoleGrant,
    readonly ws: WebSocket,
    readonly remoteAddress: string,
    readonly fingerprint: string,
  ) {}
}

export class VncProxy {
  readonly path: string;
  private readonly o: Required<Omit<VncProxyOptions, 'logger' | 'onConnectionStart' | 'onConnectionEnd' | 'allowedOrigins'>> & {
    allowedOrigins: Set<string>;
  };
  /** The `ws` package does the websocket: handshake, framing, masking, ping/pong, the closing handshake. */
  private readonly wss: WebSocketServer;
  private readonly conns = new Map<number, ProxyConnection>();
  private readonly bySession = new Map<string, Set<ProxyConnection>>();
  private readonly perServer = new Map<number, number>();
  private pending = 0;
  private readonly readBuffer = Buffer.allocUnsafe(1024 * 1024);
  private nextId = 1;
  private sweepTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly counters = { connectionsTotal: 0, bytesUp: 0, bytesDown: 0, closes: {} as Record<string, number> };
  private readonly attached = new Map<http.Server, (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void>();

  constructor(private readonly opts: VncProxyOptions) {
    this.path = opts.path ?? '/console/ws';
    this.o = {
      authority: opts.authority,
      path: this.path,
      allowedOrigins: new Set((opts.allowedOrigins ?? []).map((s) => s.toLowerCase().replace(/\/+$/, ''))),
      allowSameOrigin: opts.allowSameOrigin ?? true,
      allowMissingOrigin: opts.allowMissingOrigin ?? true,
      connectTimeoutMs: opts.connectTimeoutMs ?? 5_000,
      handshakeTimeoutMs: opts.handshakeTimeoutMs ?? 5_000,
      idleTimeoutMs: opts.idleTimeoutMs ?? 30 * 60_000,
      pingIntervalMs: opts.pingIntervalMs ?? 30_000,
      redeemTimeoutMs: opts.redeemTimeoutMs ?? 5_000,
      maxConnectionsPerServer: opts.maxConnectionsPerServer ?? 4,
      maxConnectionsTotal: opts.maxConnectionsTotal ?? 200,
      maxPayload: opts.maxPayload ?? 1024 * 1024,
      highWaterMark: opts.highWaterMark ?? 1024 * 1024,
      maxEarlyBytes: opts.maxEarlyBytes ?? 64 * 1024,
    };
    const wsOptions: ServerOptions & { closeTimeout: number } = {
      noServer: true,
      // Connections are tracked here, per session and server; ws's own set would be a second copy.
      clientTracking: false,
      // A VNC stream is already encoded (tight, zlib, JPEG): deflate would burn CPU for nothing.
      perMessageDeflate: false,
      maxPayload: this.o.maxPayload,
      // Text messages are refused (1003) whatever they hold: no need to validate their UTF-8 first.
      skipUTF8Validation: true,
      // Only `binary`; a request offering anything else was refused before the handshake.
      handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false),
      closeTimeout: CLOSE_TIMEOUT_MS,
    };
    this.wss = new WebSocketServer(wsOptions);
  }

  /** Listens on the server's 'upgrade' event; other paths are left to other listeners (or get a 404). */
  attach(server: http.Server): void {
    if (this.attached.has(server)) return;
    const listener = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.handleUpgrade(req, socket, head)) return;
      if (server.listenerCount('upgrade') === 1) writeHttpError(socket, 404, 'no websocket here\n');
    };
    this.attached.set(server, listener);
    server.on('upgrade', listener);
  }

  detach(server: http.Server): void {
    const l = this.attached.get(server);
    if (l) server.off('upgrade', l);
    this.attached.delete(server);
  }

  /** Returns false when the request is not for this proxy's path (the caller routes it elsewhere). */
  handleUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): boolean {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://x');
    } catch {
      return false;
    }
    if (url.pathname !== this.path) return false;
    socket.on('error', () => {});
    void this.upgrade(req, socket, head, url).catch((e: unknown) => {
      this.opts.logger?.warn({ err: e instanceof Error ? e.message : String(e) }, 'console upgrade failed');
      this.count('4500');
      socket.destroy();
    });
    return true;
  }

  private count(key: string | number): void {
    const k = String(key);
    this.counters.closes[k] = (this.counters.closes[k] ?? 0) + 1;
  }

  private originAllowed(req: http.IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined || origin === '') return this.o.allowMissingOrigin;
    if (this.o.allowedOrigins.has(origin.toLowerCase().replace(/\/+$/, ''))) return true;
    if (!this.o.allowSameOrigin) return false;
    const oh = originHost(origin);
    const host = req.headers.host?.toLowerCase();
    if (oh === null || !host) return false;
    if (oh === host) return true;
    // Host may carry the default port explicitly while Origin omits it (or the reverse).
    const u = new URL(origin);
    const defPort = u.protocol === 'https:' ? '443' : '80';
    return `${u.hostname.toLowerCase()}:${defPort}` === host || oh === host.replace(new RegExp(`:${defPort}$`), '');
  }

  /**
   * Completes the websocket handshake on the upgraded socket; calls `accepted` with the websocket, or
   * `rejected` when ws answered the request itself (a bad key or version gets its 400) or the client left.
   */
  private accept(req: http.IncomingMessage, socket: Duplex, head: Buffer, accepted: (ws: WebSocket) => void, rejected: () => void): void {
    if (!socket.readable || !socket.writable) {
      socket.destroy();
      return rejected();
    }
    let settled = false;
    const gone = () => {
      if (settled) return;
      settled = true;
      rejected();
    };
    socket.once('close', gone);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      socket.off('close', gone);
      // An 'error' event without a listener would throw: every socket error ends in 'close' anyway.
      ws.on('error', () => {});
      if (settled) return void ws.terminate();
      settled = true;
      accepted(ws);
    });
  }

  /** Completes the websocket handshake only to say why the console cannot start. */
  private refuse(req: http.IncomingMessage, socket: Duplex, head: Buffer, code: number, reason: string, log: object): void {
    this.count(code);
    this.opts.logger?.info({ ...log, code, reason }, 'console connection refused');
    this.accept(req, socket, head, (ws) => ws.close(code, closeReason(reason)), () => {});
  }

  private async upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    const remoteAddress = normalizeAddress(req.socket.remoteAddress ?? '');
    const origin = req.headers.origin;
    if (this.closed) return writeHttpError(socket, 503, 'console proxy is shutting down\n'), this.count('http_503');
    if (req.method !== 'GET' || (req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      this.count('http_400');
      return writeHttpError(socket, 400, 'websocket upgrade expected\n');
    }
    if (!this.originAllowed(req)) {
      // No websocket at all for a foreign page: it learns nothing and burns no ticket.
      this.count('http_403');
      this.opts.logger?.info({ remoteAddress, origin }, 'console upgrade refused: foreign origin');
      return writeHttpError(socket, 403, 'origin not allowed\n');
    }
    const protoHeader = req.headers['sec-websocket-protocol'];
    if (protoHeader !== undefined) {
      const protos = protoHeader.split(',').map((s) => s.trim());
      if (!protos.includes('binary')) {
        this.count('http_400');
        return writeHttpError(socket, 400, 'only the "binary" subprotocol is spoken\n');
      }
    }
    const ticket = url.searchParams.get('ticket');
    const fp = ticket ? ticketFingerprint(ticket) : '-';
    const logBase = { remoteAddress, ticket: fp };
    if (this.conns.size + this.pending >= this.o.maxConnectionsTotal) {
      return this.refuse(req, socket, head, CONSOLE_CLOSE.TOO_MANY_SESSIONS, 'too many console connections', logBase);
    }
    if (!isPlausibleTicket(ticket)) {
      return this.refuse(req, socket, head, CONSOLE_CLOSE.TICKET_REFUSED, 'ticket missing or malformed', logBase);
    }

    this.pending++;
    let grant: ConsoleGrant | null;
    try {
      grant = await this.redeem(ticket, { remoteAddress, origin });
    } catch (e) {
      this.opts.logger?.warn({ ...logBase, err: e instanceof Error ? e.message : String(e) }, 'console ticket check failed');
      return this.refuse(req, socket, head, CONSOLE_CLOSE.INTERNAL, 'ticket check failed', logBase);
    } finally {
      this.pending--;
    }
    if (this.closed) return writeHttpError(socket, 503, 'console proxy is shutting down\n'), this.count('http_503');
    if (!socket.readable || !socket.writable) {
      this.count('client_gone');
      return void socket.destroy();
    }
    if (grant === null) {
      return this.refuse(req, socket, head, CONSOLE_CLOSE.TICKET_REFUSED, 'ticket unknown, expired or already used', logBase);
    }
    const log = { ...logBase, session: grant.sessionId, server: grant.serverId };
    if (grant.allowedIps && grant.allowedIps.length > 0) {
      const allow = new IpAllowList(grant.allowedIps);
      if (allow.invalid.length > 0) this.opts.logger?.warn({ ...log, invalid: allow.invalid }, 'console white_ip has invalid entries');
      if (!allow.allows(remoteAddress)) {
        return this.refuse(req, socket, head, CONSOLE_CLOSE.ADDRESS_NOT_ALLOWED, 'address not allowed for this console', log);
      }
    }
    if ((this.perServer.get(grant.serverId) ?? 0) >= this.o.maxConnectionsPerServer) {
      return this.refuse(req, socket, head, CONSOLE_CLOSE.TOO_MANY_SESSIONS, 'too many console connections for this server', log);
    }
    if (this.conns.size >= this.o.maxConnectionsTotal) {
      return this.refuse(req, socket, head, CONSOLE_CLOSE.TOO_MANY_SESSIONS, 'too many console connections', log);
    }
    // Reserve the slot now, before the handshake completes, so no other upgrade can take it meanwhile.
    const g = grant;
    this.perServer.set(g.serverId, (this.perServer.get(g.serverId) ?? 0) + 1);
    this.accept(
      req,
      socket,
      head,
      (ws) => this.start(ws, g, remoteAddress, fp),
      () => {
        // Bad key or version (ws answered 400), or the client left: give the slot back.
        this.releaseServerSlot(g.serverId);
        this.count('http_400');
      },
    );
  }

  private redeem(ticket: string, ctx: UpgradeContext): Promise<ConsoleGrant | null> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('ticket authority timed out')), this.o.redeemTimeoutMs);
      Promise.resolve()
        .then(() => this.o.authority.redeem(ticket, ctx))
        .then(
          (g) => {
            clearTimeout(t);
            resolve(g);
          },
          (e: unknown) => {
            clearTimeout(t);
            reject(e);
          },
        );
    });
  }

  private releaseServerSlot(serverId: number): void {
    const n = (this.perServer.get(serverId) ?? 1) - 1;
    if (n <= 0) this.perServer.delete(serverId);
    else this.perServer.set(serverId, n);
  }

  private start(ws: WebSocket, grant: ConsoleGrant, remoteAddress: string, fp: string): void {
    const c = new ProxyConnection(this.nextId++, grant, ws, remoteAddress, fp);
    this.conns.set(c.id, c);
    let set = this.bySession.get(grant.sessionId);
    if (!set) this.bySession.set(grant.sessionId, (set = new Set()));
    set.add(c);
    this.counters.connectionsTotal++;
    this.ensureSweep();
    this.opts.onConnectionStart?.({
      connectionId: c.id,
      sessionId: grant.sessionId,
      serverId: grant.serverId,
      remoteAddress,
      ticketFingerprint: fp,
      startedAt: c.startedAt,
    });
    this.opts.logger?.info(
      { conn: c.id, session: grant.sessionId, server: grant.serverId, remoteAddress, ticket: fp },
      'console connection opened',
    );

    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.fromBrowser(c, data);
      else this.end(c, 1003, 'only binary messages');
    });
    ws.on('pong', () => {
      c.awaitingPong = false;
    });
    ws.on('error', (err: Error & { code?: string }) => {
      // ws refused a frame (too large, malformed) and closes with the matching code itself.
      if (c.endReason !== '') return;
      c.endCode = wsErrorCloseCode(err);
      c.endReason = err.message.slice(0, 120);
      c.upstream?.destroy();
    });
    ws.on('close', (code: number, reason: Buffer) => {
      // Browser-initiated closes arrive here with the browser's code; ours keep the code we sent.
      if (c.endReason === '') {
        c.endCode = code;
        c.endReason = (reason.length > 0 ? reason.toString() : code === 1006 ? 'browser vanished' : 'browser closed').slice(0, 120);
      }
      this.finish(c);
    });

    // Reads land in one buffer shared by all connections and are copied out at their real size: a screen
    // update arrives in up to 1 MiB pieces (fewer frames and syscalls than 64 KiB 'data' chunks), yet an
    // idle console holds no read buffer at all.
    const up = net.connect({
      host: grant.target.host,
      port: grant.target.port,
      onread: {
        buffer: this.readBuffer,
        callback: (n: number, buf: Uint8Array) => {
          this.fromVnc(c, Buffer.from(buf.subarray(0, n)));
          return true;
        },
      },
    });
    c.upstream = up;
    up.setNoDelay(true);
    c.timer = setTimeout(
      () => this.end(c, CONSOLE_CLOSE.UPSTREAM_TIMEOUT, `VNC server did not accept the connection within ${secs(this.o.connectTimeoutMs)}`),
      this.o.connectTimeoutMs,
    );
    up.once('connect', () => {
      if (c.phase !== 'connecting') return;
      c.phase = 'banner';
      this.clearTimer(c);
      c.timer = setTimeout(
        () => this.end(c, CONSOLE_CLOSE.UPSTREAM_TIMEOUT, `VNC server sent no RFB greeting within ${secs(this.o.handshakeTimeoutMs)}`),
        this.o.handshakeTimeoutMs,
      );
    });
    up.on('error', (e: NodeJS.ErrnoException) => {
      if (c.phase === 'open') this.end(c, CONSOLE_CLOSE.UPSTREAM_CLOSED, `VNC connection lost (${e.code ?? 'error'})`);
      else if (c.phase !== 'closed') this.end(c, CONSOLE_CLOSE.UPSTREAM_UNREACHABLE, `VNC server unreachable (${e.code ?? 'error'})`);
    });
    up.on('close', () => {
      if (c.phase === 'open') this.end(c, CONSOLE_CLOSE.UPSTREAM_CLOSED, 'VNC server closed the connection');
      else if (c.phase !== 'closed') this.end(c, CONSOLE_CLOSE.UPSTREAM_PROTOCOL, 'VNC server closed before its RFB greeting');
    });
  }

  private fromBrowser(c: ProxyConnection, data: Buffer): void {
    if (c.phase === 'closed' || c.endReason !== '') return;
    c.bytesUp += data.length;
    this.counters.bytesUp += data.length;
    c.lastActivity = Date.now();
    const up = c.upstream!;
    if (c.phase !== 'open') {
      c.earlyBytes += data.length;
      if (c.earlyBytes > this.o.maxEarlyBytes) return this.end(c, 1008, 'too much data before the VNC handshake');
      // ws hands over a buffer of its own (unmasked in place): keeping it is safe without a copy.
      c.early.push(data);
      return;
    }
    if (!up.write(data) && !c.upPaused) {
      c.upPaused = true;
      c.ws.pause();
      up.once('drain', () => {
        c.upPaused = false;
        c.ws.resume();
      });
    }
  }

  private fromVnc(c: ProxyConnection, chunk: Buffer): void {
    if (c.phase === 'closed') return;
    if (c.phase !== 'open') {
      c.banner = c.banner.length === 0 ? chunk : Buffer.concat([c.banner, chunk]);
      const verdict = checkRfbBanner(c.banner);
      if (verdict === 'bad') return this.end(c, CONSOLE_CLOSE.UPSTREAM_PROTOCOL, 'peer is not a VNC server (no RFB greeting)');
      if (verdict === 'more') {
        if (c.banner.length >= RFB_BANNER_LEN) return this.end(c, CONSOLE_CLOSE.UPSTREAM_PROTOCOL, 'bad RFB greeting');
        return;
      }
      c.phase = 'open';
      this.clearTimer(c);
      chunk = c.banner;
      c.banner = Buffer.alloc(0);
      for (const b of c.early) c.upstream!.write(b);
      c.early = [];
    }
    c.bytesDown += chunk.length;
    this.counters.bytesDown += chunk.length;
    c.lastActivity = Date.now();
    const ws = c.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    // Download backpressure: with the high-water mark already queued, this is the last read until it is flushed
    // (ws calls back once the socket took it); a chunk alone never pauses, or every large read would stop and go.
    if (!c.downPaused && ws.bufferedAmount >= this.o.highWaterMark) {
      c.downPaused = true;
      c.upstream!.pause();
      ws.send(chunk, SEND_BINARY, c.downDrained);
    } else {
      ws.send(chunk, SEND_BINARY);
    }
  }

  private clearTimer(c: ProxyConnection): void {
    if (c.timer) clearTimeout(c.timer);
    c.timer = null;
  }

  /** Ends one connection with a close code the browser sees; the upstream goes at once. */
  private end(c: ProxyConnection, code: number, reason: string): void {
    if (c.phase === 'closed' || c.endReason !== '') {
      // Already closing: make sure the upstream is gone.
      c.upstream?.destroy();
      return;
    }
    c.endCode = code;
    c.endReason = reason;
    this.clearTimer(c);
    c.upstream?.destroy();
    if (c.ws.readyState === WebSocket.OPEN) c.ws.close(code, closeReason(reason));
    else c.ws.terminate();
  }

  private finish(c: ProxyConnection): void {
    if (c.phase === 'closed') return;
    c.phase = 'closed';
    this.clearTimer(c);
    c.upstream?.destroy();
    c.ws.terminate();
    c.early = [];
    this.conns.delete(c.id);
    const set = this.bySession.get(c.grant.sessionId);
    set?.delete(c);
    if (set && set.size === 0) this.bySession.delete(c.grant.sessionId);
    this.releaseServerSlot(c.grant.serverId);
    if (this.conns.size === 0 && this.sweepTimer) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = null;
    }
    this.count(c.endCode);
    const rec: ConsoleConnectionRecord = {
      connectionId: c.id,
      sessionId: c.grant.sessionId,
      serverId: c.grant.serverId,
      remoteAddress: c.remoteAddress,
      ticketFingerprint: c.fingerprint,
      startedAt: c.startedAt,
      endedAt: new Date(),
      bytesUp: c.bytesUp,
      bytesDown: c.bytesDown,
      code: c.endCode,
      reason: c.endReason,
    };
    this.opts.logger?.info(
      { conn: c.id, session: rec.sessionId, server: rec.serverId, code: rec.code, reason: rec.reason, bytesUp: rec.bytesUp, bytesDown: rec.bytesDown },
      'console connection closed',
    );
    try {
      this.opts.onConnectionEnd?.(rec);
    } catch (e) {
      this.opts.logger?.warn({ conn: c.id, err: e instanceof Error ? e.message : String(e) }, 'console onConnectionEnd threw');
    }
  }

  private ensureSweep(): void {
    if (this.sweepTimer) return;
    const period = Math.max(50, Math.min(1_000, this.o.idleTimeoutMs / 4, this.o.pingIntervalMs > 0 ? this.o.pingIntervalMs / 2 : Infinity));
    let lastPing = Date.now();
    this.sweepTimer = setInterval(() => {
      const now = Date.now();
      const ping = this.o.pingIntervalMs > 0 && now - lastPing >= this.o.pingIntervalMs;
      if (ping) lastPing = now;
      for (const c of this.conns.values()) {
        if (c.phase === 'closed' || c.endReason !== '') continue;
        if (now - c.lastActivity >= this.o.idleTimeoutMs) {
          this.end(c, CONSOLE_CLOSE.IDLE_TIMEOUT, `idle for ${secs(this.o.idleTimeoutMs)}`);
        } else if (ping && c.ws.readyState === WebSocket.OPEN) {
          if (c.awaitingPong) {
            c.endCode = CONSOLE_CLOSE.CLIENT_UNRESPONSIVE;
            c.endReason = 'browser stopped answering pings';
            c.upstream?.destroy();
            c.ws.terminate();
          } else {
            c.awaitingPong = true;
            c.ws.ping();
          }
        }
      }
    }, period);
    this.sweepTimer.unref();
  }

  /** stop_novnc / recreate_novnc: closes every live viewer of the session. Returns how many were closed. */
  closeSession(sessionId: string, reason = 'console session stopped'): number {
    const set = this.bySession.get(sessionId);
    if (!set) return 0;
    let n = 0;
    for (const c of [...set]) {
      if (c.endReason === '') n++;
      this.end(c, CONSOLE_CLOSE.SESSION_STOPPED, reason);
    }
    return n;
  }

  /** Closes every viewer of one server (e.g. its console target was changed or removed). */
  closeServer(serverId: number, reason = 'console target changed'): number {
    let n = 0;
    for (const c of [...this.conns.values()]) {
      if (c.grant.serverId !== serverId) continue;
      if (c.endReason === '') n++;
      this.end(c, CONSOLE_CLOSE.SESSION_STOPPED, reason);
    }
    return n;
  }

  /** Live connections, for the API's session view. */
  connections(): { connectionId: number; sessionId: string; serverId: number; remoteAddress: string; startedAt: Date; bytesUp: number; bytesDown: number; phase: string }[] {
    return [...this.conns.values()].map((c) => ({
      connectionId: c.id,
      sessionId: c.grant.sessionId,
      serverId: c.grant.serverId,
      remoteAddress: c.remoteAddress,
      startedAt: c.startedAt,
      bytesUp: c.bytesUp,
      bytesDown: c.bytesDown,
      phase: c.phase,
    }));
  }

  stats(): VncProxyStats {
    return {
      activeConnections: this.conns.size,
      activeSessions: this.bySession.size,
      pendingUpgrades: this.pending,
      connectionsTotal: this.counters.connectionsTotal,
      bytesUp: this.counters.bytesUp,
      bytesDown: this.counters.bytesDown,
      closes: { ...this.counters.closes },
    };
  }

  /** Detaches from every server, closes all viewers (4003) and waits until they are gone (bounded). */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.attached.keys()]) this.detach(s);
    for (const c of [...this.conns.values()]) this.end(c, CONSOLE_CLOSE.PROXY_SHUTDOWN, 'rackhand is shutting down');
    const deadline = Date.now() + 3_000;
    while (this.conns.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const c of [...this.conns.values()]) this.finish(c);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }
}

function secs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
