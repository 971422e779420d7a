// One read transfer: its own UDP socket, OACK handshake, windowed sending, retransmits, and its end.

import dgram from 'node:dgram';
import type { BlockSource } from './tftp-block-source.js';
import {
  TFTP_ERROR,
  TFTP_OPCODE,
  serializeError,
  serializeOack,
} from './tftp-packet.js';

export interface TftpTransferParams {
  /** Address the transfer socket binds to (the server's listen address). */
  bindAddress: string;
  family: 'udp4' | 'udp6';
  clientAddress: string;
  clientPort: number;
  source: BlockSource;
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  /** Longest wait between retransmits once backoff has grown. */
  maxTimeoutMs: number;
  retries: number;
  /** Options to acknowledge; empty means start with DATA 1 (RFC 2347: no OACK without options). */
  oack: Map<string, string>;
}

export type TftpTransferOutcome =
  | { result: 'ok'; bytes: number; retransmits: number }
  | { result: 'aborted'; bytes: number; retransmits: number; code: number; message: string }
  | { result: 'failed'; bytes: number; retransmits: number; reason: string };

export interface TftpTransferEvents {
  /** A datagram from a stranger reached this transfer's port and got error 5. */
  onUnknownTid(address: string, port: number): void;
  onBadPacket(): void;
}

export class TftpTransfer {
  private socket!: dgram.Socket;
  private readonly lastBlock: number;
  /** Lowest block not yet acknowledged; blocks are counted absolutely, the wire carries them mod 65536. */
  private base = 1;
  private nextToSend = 1;
  private inOack: boolean;
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private waitingForRead = false;
  private finished = false;
  private bytesSent = 0;
  private retransmits = 0;
  private resolveDone!: (o: TftpTransferOutcome) => void;
  readonly done: Promise<TftpTransferOutcome>;

  constructor(
    private readonly p: TftpTransferParams,
    private readonly events: TftpTransferEvents,
  ) {
    this.lastBlock = Math.floor(p.source.size / p.blksize) + 1;
    this.inOack = p.oack.size > 0;
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /** Binds the socket and sends the first OACK or DATA; resolves once bound (the transfer then runs on). */
  async start(): Promise<void> {
    // The peer is always an IP literal: answer the per-send lookup at once instead of a tick later.
    const family = this.p.family === 'udp6' ? 6 : 4;
    const socket = dgram.createSocket({
      type: this.p.family,
      lookup: (host: string, _o: unknown, cb: (e: Error | null, a: string, f: number) => void) => cb(null, host, family),
    } as dgram.SocketOptions);
    this.socket = socket;
    socket.on('error', (err) => this.finish({ result: 'failed', reason: `socket: ${err.message}` }));
    socket.on('message', (msg, rinfo) => this.onMessage(msg, rinfo));
    // A bind failure arrives as 'error' and finishes the transfer; start() itself never throws.
    // cancel() during the bind closes the socket and the bind callback never comes: race with done.
    await Promise.race([
      new Promise<void>((resolve) => {
        socket.once('error', () => resolve());
        socket.bind({ address: this.p.bindAddress, port: 0, exclusive: true }, () => resolve());
      }),
      this.done,
    ]);
    if (this.finished) return;
    this.armTimer();
    if (this.inOack) this.sendRaw(serializeOack(this.p.oack));
    else this.pump();
  }

  /** Ends the transfer from outside (server stopping). */
  cancel(reason: string): void {
    if (this.finished) return;
    this.finish({ result: 'failed', reason }, serializeError(TFTP_ERROR.NOT_DEFINED, reason));
  }

  get port(): number {
    return this.socket.address().port;
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.finished) return;
    if (rinfo.port !== this.p.clientPort || rinfo.address !== this.p.clientAddress) {
      // RFC 1350 §4: tell the stranger, leave the transfer alone.
      this.events.onUnknownTid(rinfo.address, rinfo.port);
      this.socket.send(serializeError(TFTP_ERROR.UNKNOWN_TID, 'Unknown transfer ID'), rinfo.port, rinfo.address);
      return;
    }
    if (msg.length < 4) {
      this.events.onBadPacket();
      return;
    }
    const op = msg.readUInt16BE(0);
    if (op === TFTP_OPCODE.ACK) {
      this.onAck(msg.readUInt16BE(2));
    } else if (op === TFTP_OPCODE.ERROR) {
      const code = msg.readUInt16BE(2);
      let end = msg.indexOf(0, 4);
      if (end < 0) end = msg.length;
      const message = msg.toString('latin1', 4, Math.min(end, 4 + 200));
      // Firmware probing tsize answers the OACK with error 8 (or 0): a normal, clean end.
      this.finish({ result: 'aborted', code, message });
    } else {
      // Anything else from our client (a repeated RRQ, DATA, junk) is ignored rather than fatal.
      this.events.onBadPacket();
    }
  }

  private onAck(wire: number): void {
    if (this.inOack) {
      if (wire !== 0) return;
      this.inOack = false;
      this.progress();
      this.pump();
      return;
    }
    // Map the 16-bit number onto the sent range [base, nextToSend-1]; anything else (notably a
    // repeat of an ACK already acted on) is ignored, which is what prevents Sorcerer's Apprentice.
    const sentHigh = this.nextToSend - 1;
    if (sentHigh < this.base) return;
    const offset = (wire - this.base) & 0xffff;
    if (offset > sentHigh - this.base) return;
    const acked = this.base + offset;
    this.base = acked + 1;
    if (acked >= this.lastBlock) {
      this.finish({ result: 'ok' });
      return;
    }
    // An ACK inside the window means the client lost acked+1 (RFC 7440 §4): restart from there.
    if (this.nextToSend > this.base) this.nextToSend = this.base;
    this.progress();
    this.pump();
  }

  /** Sends the blocks of the current window that have not been sent yet. */
  private pump(): void {
    if (this.waitingForRead || this.finished) return;
    const windowEnd = Math.min(this.base + this.p.windowsize - 1, this.lastBlock);
    const { blksize, source } = this.p;
    while (this.nextToSend <= windowEnd) {
      const block = this.nextToSend;
      const data = source.read((block - 1) * blksize, blksize);
      if (data instanceof Promise) {
        this.waitingForRead = true;
        data.then(
          () => {
            this.waitingForRead = false;
            this.pump();
          },
          (err: Error) => {
            this.finish(
              { result: 'failed', reason: `read: ${err.message}` },
              serializeError(TFTP_ERROR.NOT_DEFINED, 'read error'),
            );
          },
        );
        return;
      }
      const pkt = Buffer.allocUnsafe(4 + data.length);
      pkt.writeUInt16BE(TFTP_OPCODE.DATA, 0);
      pkt.writeUInt16BE(block & 0xffff, 2);
      data.copy(pkt, 4);
      this.sendRaw(pkt);
      this.bytesSent += data.length;
      this.nextToSend = block + 1;
    }
  }

  private sendRaw(buf: Buffer): void {
    try {
      this.socket.send(buf, this.p.clientPort, this.p.clientAddress);
    } catch {
      // Socket already closed: the transfer is ending anyway.
    }
  }

  /** The client moved forward: reset the backoff. */
  private progress(): void {
    if (this.attempt === 0 && this.timer) {
      this.timer.refresh();
      return;
    }
    this.attempt = 0;
    this.armTimer();
  }

  private armTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    const delay = Math.min(this.p.timeoutMs * 2 ** this.attempt, this.p.maxTimeoutMs);
    this.timer = setTimeout(() => this.onTimeout(), delay);
  }

  private onTimeout(): void {
    if (this.finished) return;
    this.attempt += 1;
    if (this.attempt > this.p.retries) {
      this.finish({ result: 'failed', reason: 'timeout' }, serializeError(TFTP_ERROR.NOT_DEFINED, 'Timeout'));
      return;
    }
    this.retransmits += 1;
    this.armTimer();
    if (this.inOack) {
      this.sendRaw(serializeOack(this.p.oack));
      return;
    }
    // Go-back-N: resend the whole unacknowledged window.
    this.nextToSend = this.base;
    this.pump();
  }

  private finish(
    o:
      | { result: 'ok' }
      | { result: 'aborted'; code: number; message: string }
      | { result: 'failed'; reason: string },
    farewell?: Buffer,
  ): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    const socket = this.socket;
    const closed = new Promise<void>((resolve) => {
      if (!socket) return resolve();
      const close = () => {
        try {
          socket.close(() => resolve());
        } catch {
          resolve(); // never bound, or already closed
        }
      };
      if (!farewell) return close();
      // Close only once the last word is on the wire; a send still queued at close() is dropped.
      try {
        socket.send(farewell, this.p.clientPort, this.p.clientAddress, () => close());
      } catch {
        close();
      }
    });
    void Promise.all([closed, this.p.source.close()]).then(() =>
      this.resolveDone({ ...o, bytes: this.bytesSent, retransmits: this.retransmits }),
    );
  }
}
