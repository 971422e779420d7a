// One read transfer in JavaScript (the engine when the native one is not built): its own connected UDP socket, OACK, windows, retransmits, its end.

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

/** What every transfer reports when it ends, whichever engine ran it. */
interface TftpTransferCounts {
  bytes: number; // DATA payload sent, retransmits included
  retransmits: number;
  /** Undecodable or unexpected datagrams from the client (ignored). */
  badPackets: number;
  /**
   * Datagrams from strangers. Once the socket is connected the kernel drops those (and answers ICMP
   * port unreachable); only one that slips in between bind() and connect() is counted here.
   */
  unknownTid: number;
}

export type TftpTransferOutcome = TftpTransferCounts &
  (
    | { result: 'ok' }
    | { result: 'aborted'; code: number; message: string }
    | { result: 'failed'; reason: string }
  );

/** The surface the server drives, the same for the JavaScript and the native engine. */
export interface TftpTransferRun {
  readonly done: Promise<TftpTransferOutcome>;
  /** True once the client acknowledged the OACK or a block. */
  readonly acknowledged: boolean;
  /** Sends the OACK or first window; never throws (a failure ends the transfer). */
  start(): Promise<void>;
  /** Ends the transfer from outside with ERROR 0 `reason`, or without a word to a client that has moved on. */
  cancel(reason: string, tellClient?: boolean): void;
}

export interface TftpTransferEvents {
  /** Something threw inside a socket or timer callback: that datagram or tick is lost, the transfer goes on. */
  onHandlerError(e: unknown): void;
}

/** A scratch DATA buffer gets its opcode once, when allocated; each block writes only the block number. */
const DATA_HI = TFTP_OPCODE.DATA >> 8;
const DATA_LO = TFTP_OPCODE.DATA & 0xff;

export class TftpTransfer implements TftpTransferRun {
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
  /** Bound and connected: from here on a socket error is only an ICMP report. */
  private running = false;
  /** The client acknowledged something: it really receives at its address. */
  private heard = false;
  private bytesSent = 0;
  private retransmits = 0;
  private badPackets = 0;
  private unknownTid = 0;
  private resolveDone!: (o: TftpTransferOutcome) => void;
  readonly done: Promise<TftpTransferOutcome>;
  /** Serialised once: retransmitted as is. */
  private readonly oackPacket: Buffer | undefined;
  /**
   * The DATA packet being built. A send that the kernel took at once leaves nothing queued, so the
   * same buffer serves the next block; only when a send had to queue does the next one get a fresh buffer.
   */
  private scratch: Buffer;
  private readonly onMessageFn = (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    try {
      this.onMessage(msg, rinfo);
    } catch (e) {
      this.events.onHandlerError(e);
    }
  };
  private readonly onTimeoutFn = () => {
    try {
      this.onTimeout();
    } catch (e) {
      this.events.onHandlerError(e);
    }
  };

  constructor(
    private readonly p: TftpTransferParams,
    private readonly events: TftpTransferEvents,
  ) {
    this.lastBlock = Math.floor(p.source.size / p.blksize) + 1;
    this.inOack = p.oack.size > 0;
    this.oackPacket = this.inOack ? serializeOack(p.oack) : undefined;
    this.scratch = newDataBuffer(p.blksize);
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /**
   * Binds the socket to the listen address, connects it to the client, and sends the first OACK or
   * DATA; resolves once that is done (the transfer then runs on).
   *
   * Connected, the kernel hands this socket only the client's own datagrams: a stranger can neither
   * inject nor even cost us a wakeup, and gets ICMP port unreachable, which is what tftpd-hpa does too
   * (RFC 1350's error 5 to strangers is a "should"). Sends also skip the per-packet address handling.
   */
  async start(): Promise<void> {
    // The peer is always an IP literal: answer the lookup at once instead of a tick later.
    const family = this.p.family === 'udp6' ? 6 : 4;
    const socket = dgram.createSocket({
      type: this.p.family,
      lookup: (host: string, _o: unknown, cb: (e: Error | null, a: string, f: number) => void) => cb(null, host, family),
    } as dgram.SocketOptions);
    this.socket = socket;
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // Once connected, socket errors are ICMP reports (port or host unreachable) for the client's
      // address: the client may be gone, or anyone who guesses both ports forged one. Neither is
      // proof, so the retransmit timer, not the error, decides when the transfer is over.
      if (this.running) return;
      this.finish({ result: 'failed', reason: `socket: ${err.message}` });
    });
    socket.on('message', this.onMessageFn);
    // A bind or connect failure finishes the transfer; start() itself never throws.
    // cancel() during the bind closes the socket and the callbacks never come: race with done.
    await Promise.race([
      new Promise<void>((resolve) => {
        socket.once('error', () => resolve());
        socket.bind({ address: this.p.bindAddress, port: 0, exclusive: true }, () => {
          if (this.finished) return resolve();
          socket.connect(this.p.clientPort, this.p.clientAddress, (err?: Error) => {
            if (err) this.finish({ result: 'failed', reason: `connect: ${err.message}` });
            resolve();
          });
        });
      }),
      this.done,
    ]);
    if (this.finished) return;
    this.running = true;
    this.armTimer();
    if (this.oackPacket) this.sendRaw(this.oackPacket);
    else this.pump();
  }

  /** Ends the transfer from outside (server stopping, evicting, or the client moved on). */
  cancel(reason: string, tellClient = true): void {
    if (this.finished) return;
    this.finish({ result: 'failed', reason }, tellClient ? serializeError(TFTP_ERROR.NOT_DEFINED, reason) : undefined);
  }

  /** True once the client acknowledged the OACK or a block. */
  get acknowledged(): boolean {
    return this.heard;
  }

  get port(): number {
    return this.socket.address().port;
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.finished) return;
    if (rinfo.port !== this.p.clientPort || rinfo.address !== this.p.clientAddress) {
      // Only possible in the instant between bind and connect: dropped, never answered or acted on.
      this.unknownTid += 1;
      return;
    }
    if (msg.length < 4) {
      this.badPackets += 1;
      return;
    }
    const op = (msg[0] << 8) | msg[1];
    if (op === TFTP_OPCODE.ACK) {
      this.onAck((msg[2] << 8) | msg[3]);
    } else if (op === TFTP_OPCODE.ERROR) {
      const code = (msg[2] << 8) | msg[3];
      let end = msg.indexOf(0, 4);
      if (end < 0) end = msg.length;
      const message = msg.toString('latin1', 4, Math.min(end, 4 + 200));
      // Firmware probing tsize answers the OACK with error 8 (or 0): a normal, clean end.
      this.finish({ result: 'aborted', code, message });
    } else {
      // Anything else from our client (a repeated RRQ, DATA, junk) is ignored rather than fatal.
      this.badPackets += 1;
    }
  }

  private onAck(wire: number): void {
    if (this.inOack) {
      if (wire !== 0) return;
      this.inOack = false;
      this.heard = true;
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
    this.heard = true;
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
            this.pumpGuarded();
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
      this.sendData(block, data);
      this.bytesSent += data.length;
      this.nextToSend = block + 1;
    }
  }

  /** pump() from a promise callback: nothing may escape as an unhandled rejection. */
  private pumpGuarded(): void {
    try {
      this.pump();
    } catch (e) {
      this.events.onHandlerError(e);
    }
  }

  private sendData(block: number, data: Buffer): void {
    const pkt = this.scratch;
    pkt[2] = (block >> 8) & 0xff;
    pkt[3] = block & 0xff;
    data.copy(pkt, 4);
    const n = 4 + data.length;
    const socket = this.socket;
    try {
      socket.send(n === pkt.length ? pkt : pkt.subarray(0, n));
    } catch {
      return; // socket already closed: the transfer is ending anyway
    }
    // Queued (the socket buffer was full): that buffer now belongs to the pending send.
    if (socket.getSendQueueCount() !== 0) this.scratch = newDataBuffer(this.p.blksize);
  }

  private sendRaw(buf: Buffer): void {
    try {
      this.socket.send(buf);
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
    this.timer = setTimeout(this.onTimeoutFn, delay);
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
      this.sendRaw(this.oackPacket!);
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
        // Not connected yet (cancelled during start): nobody to say goodbye to.
        if (!this.connected()) return close();
        socket.send(farewell, () => close());
      } catch {
        close();
      }
    });
    void Promise.all([closed, this.p.source.close()]).then(() =>
      this.resolveDone({ ...o, bytes: this.bytesSent, retransmits: this.retransmits, badPackets: this.badPackets, unknownTid: this.unknownTid }),
    );
  }

  private connected(): boolean {
    try {
      this.socket.remoteAddress();
      return true;
    } catch {
      return false;
    }
  }
}

function newDataBuffer(blksize: number): Buffer {
  const b = Buffer.allocUnsafe(4 + blksize);
  b[0] = DATA_HI;
  b[1] = DATA_LO;
  return b;
}
