// The server side of one websocket on an upgraded socket: handshake, streaming binary payload, ping/pong, close.
import { createHash } from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { encodeFrameHeader, FrameParser, OP } from './ws-frame-parser.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface WsHandlers {
  /** Unmasked binary payload as it arrives (frames are not reassembled). */
  data(chunk: Buffer): void;
  pong(): void;
  /** Once, when the socket is gone. `code` is the close code sent or received (1006 when none). */
  closed(code: number, reason: string): void;
}

export type WsState = 'open' | 'closing' | 'closed';

export class WsConnection {
  state: WsState = 'open';
  private parser: FrameParser;
  private handlers: WsHandlers | null = null;
  private closeCode = 1006;
  private closeReason = '';
  private closeTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly socket: Duplex,
    readonly protocol: string,
    private readonly opts: { maxPayload: number; closeTimeoutMs: number },
  ) {
    this.parser = new FrameParser(
      {
        data: (c) => {
          if (this.state === 'open') this.handlers?.data(c);
        },
        control: (op, payload) => this.onControl(op, payload),
        error: (code, reason) => this.close(code, reason),
      },
      opts.maxPayload,
    );
  }

  /** Starts reading; `head` is what the HTTP parser read past the request. */
  start(handlers: WsHandlers, head: Buffer): void {
    this.handlers = handlers;
    const s = this.socket;
    s.on('data', (d: Buffer) => this.parser.push(d));
    s.on('error', () => {});
    s.on('end', () => s.end());
    s.on('close', () => this.finish());
    if (head.length > 0) this.parser.push(Buffer.from(head));
    if (s.destroyed) this.finish();
  }

  get bufferedAmount(): number {
    return this.socket.writableLength;
  }

  /** One binary message; false when the socket buffer is above its high-water mark (wait for 'drain'). */
  send(payload: Buffer): boolean {
    if (this.state !== 'open') return false;
    return this.writeFrame(OP.BINARY, payload);
  }

  ping(): void {
    if (this.state === 'open') this.writeFrame(OP.PING, Buffer.alloc(0));
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (this.state !== 'closed') this.socket.resume();
  }

  /** Sends a close frame and gives the peer closeTimeoutMs to answer before the socket is cut. */
  close(code: number, reason: string): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.closeCode = code;
    this.closeReason = reason;
    const r = Buffer.from(reason, 'utf8').subarray(0, 123);
    const body = Buffer.allocUnsafe(2 + r.length);
    body.writeUInt16BE(code, 0);
    r.copy(body, 2);
    this.writeFrame(OP.CLOSE, body);
    this.closeTimer = setTimeout(() => this.socket.destroy(), this.opts.closeTimeoutMs);
    this.closeTimer.unref();
  }

  terminate(): void {
    this.socket.destroy();
  }

  private writeFrame(op: number, payload: Buffer): boolean {
    const s = this.socket;
    if (s.destroyed || !s.writable) return false;
    const h = encodeFrameHeader(op, payload.length);
    if (payload.length < 1024) return s.write(payload.length === 0 ? h : Buffer.concat([h, payload]));
    s.cork();
    s.write(h);
    const ok = s.write(payload);
    s.uncork();
    return ok;
  }

  private onControl(op: number, payload: Buffer): void {
    if (op === OP.PING) {
      if (this.state === 'open') this.writeFrame(OP.PONG, payload);
    } else if (op === OP.PONG) {
      this.handlers?.pong();
    } else if (op === OP.CLOSE) {
      if (this.state === 'open') {
        // The peer closes: answer with its code and hang up.
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        this.closeCode = code;
        this.closeReason = payload.length > 2 ? payload.subarray(2).toString('utf8') : '';
        this.state = 'closing';
        const echo = payload.length >= 2 ? payload.subarray(0, 2) : Buffer.alloc(0);
        this.writeFrame(OP.CLOSE, echo);
      }
      this.socket.end();
      this.closeTimer ??= setTimeout(() => this.socket.destroy(), this.opts.closeTimeoutMs);
      this.closeTimer.unref();
    }
  }

  private finish(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.socket.destroy();
    this.handlers?.closed(this.closeCode, this.closeReason);
  }
}

/**
 * Completes a websocket handshake (RFC 6455 §4.2) on an upgraded socket, or answers 400 and returns null.
 * `protocol` is the subprotocol to confirm ('' for none). Extensions (permessage-deflate) are declined.
 */
export function acceptWebSocket(
  req: http.IncomingMessage,
  socket: Duplex,
  protocol: string,
  opts: { maxPayload: number; closeTimeoutMs: number },
): WsConnection | null {
  const key = req.headers['sec-websocket-key'];
  const version = req.headers['sec-websocket-version'];
  const connection = (req.headers.connection ?? '').toLowerCase();
  const valid =
    req.method === 'GET' &&
    (req.headers.upgrade ?? '').toLowerCase() === 'websocket' &&
    connection.split(',').some((t) => t.trim() === 'upgrade') &&
    version === '13' &&
    typeof key === 'string' &&
    /^[A-Za-z0-9+/]{22}==$/.test(key);
  if (!valid || !socket.writable) {
    if (socket.writable) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n');
    }
    socket.destroy();
    return null;
  }
  const accept = createHash('sha1').update(key + GUID).digest('base64');
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\n` +
      (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : '') +
      '\r\n',
  );
  const s = socket as Duplex & { setNoDelay?(v: boolean): void; setTimeout?(ms: number): void };
  s.setNoDelay?.(true);
  s.setTimeout?.(0);
  return new WsConnection(socket, protocol, opts);
}
