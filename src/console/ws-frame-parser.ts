// RFC 6455 framing for the console proxy: a streaming parser of client frames (payload unmasked in place and
// handed on as it arrives, never buffered whole), server frame headers, and word-wise unmasking.
import os from 'node:os';

const LITTLE_ENDIAN = os.endianness() === 'LE';

/** XORs `buf` with the 4-byte `mask`, starting at mask index `phase`; 32 bits at a time where aligned. */
export function unmaskInPlace(buf: Uint8Array, mask: Uint8Array, phase: number): void {
  const n = buf.length;
  let i = 0;
  if (LITTLE_ENDIAN && n >= 16) {
    while (((buf.byteOffset + i) & 3) !== 0) {
      buf[i] ^= mask[(phase + i) & 3];
      i++;
    }
    const words = (n - i) >>> 2;
    const p = (phase + i) & 3;
    const m = (mask[p] | (mask[(p + 1) & 3] << 8) | (mask[(p + 2) & 3] << 16) | (mask[(p + 3) & 3] << 24)) >>> 0;
    const w = new Uint32Array(buf.buffer, buf.byteOffset + i, words);
    for (let k = 0; k < words; k++) w[k] ^= m;
    i += words << 2;
  }
  for (; i < n; i++) buf[i] ^= mask[(phase + i) & 3];
}

/** Header of an unmasked server frame with FIN set. */
export function encodeFrameHeader(opcode: number, length: number): Buffer {
  if (length < 126) return Buffer.from([0x80 | opcode, length]);
  if (length < 65536) {
    const h = Buffer.allocUnsafe(4);
    h[0] = 0x80 | opcode;
    h[1] = 126;
    h.writeUInt16BE(length, 2);
    return h;
  }
  const h = Buffer.allocUnsafe(10);
  h[0] = 0x80 | opcode;
  h[1] = 127;
  h.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
  h.writeUInt32BE(length >>> 0, 6);
  return h;
}

export const OP = { CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa } as const;

export interface FrameSink {
  /** A piece of a binary message, already unmasked (message boundaries do not matter to a byte stream). */
  data(chunk: Buffer): void;
  /** A complete control frame (close, ping, pong); payload at most 125 bytes. */
  control(opcode: number, payload: Buffer): void;
  /** A protocol violation: the connection must close with this code (1002, 1003, 1009). */
  error(code: number, reason: string): void;
}

type State = 'header' | 'payload' | 'failed';

/** Streaming parser of masked client frames. Buffers at most one frame header or one control payload. */
export class FrameParser {
  private state: State = 'header';
  private hdr = Buffer.alloc(14);
  private hdrLen = 0;
  private opcode = 0;
  private fin = false;
  private remaining = 0;
  private mask = Buffer.alloc(4);
  private phase = 0;
  private control: Buffer | null = null;
  private controlLen = 0;
  /** A fragmented binary message is in progress (continuations expected). */
  private inMessage = false;
  private messageBytes = 0;

  constructor(private readonly sink: FrameSink, private readonly maxPayload: number) {}

  get failed(): boolean {
    return this.state === 'failed';
  }

  private fail(code: number, reason: string): void {
    this.state = 'failed';
    this.sink.error(code, reason);
  }

  push(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length && this.state !== 'failed') {
      if (this.state === 'header') off = this.readHeader(chunk, off);
      else off = this.readPayload(chunk, off);
    }
  }

  /** Needed header length given what is buffered so far (0 = unknown yet). */
  private headerNeed(): number {
    if (this.hdrLen < 2) return 2;
    const len7 = this.hdr[1] & 0x7f;
    const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    return 2 + ext + ((this.hdr[1] & 0x80) !== 0 ? 4 : 0);
  }

  private readHeader(chunk: Buffer, off: number): number {
    let need = this.headerNeed();
    while (this.hdrLen < need && off < chunk.length) {
      this.hdr[this.hdrLen++] = chunk[off++];
      if (this.hdrLen === 2) {
        if (!this.checkFirstBytes()) return chunk.length;
        need = this.headerNeed();
      }
    }
    if (this.hdrLen < need) return off;
    this.startFrame();
    return off;
  }

  private checkFirstBytes(): boolean {
    const b0 = this.hdr[0];
    const b1 = this.hdr[1];
    if ((b0 & 0x70) !== 0) return this.fail(1002, 'reserved bits set'), false;
    if ((b1 & 0x80) === 0) return this.fail(1002, 'client frames must be masked'), false;
    const op = b0 & 0x0f;
    const fin = (b0 & 0x80) !== 0;
    if (op >= 0x8) {
      if (op > 0xa) return this.fail(1002, 'reserved opcode'), false;
      if (!fin) return this.fail(1002, 'fragmented control frame'), false;
      if ((b1 & 0x7f) > 125) return this.fail(1002, 'control frame too long'), false;
    } else if (op === OP.TEXT) {
      return this.fail(1003, 'only binary messages'), false;
    } else if (op === OP.BINARY) {
      if (this.inMessage) return this.fail(1002, 'new message inside a fragmented one'), false;
    } else if (op === OP.CONT) {
      if (!this.inMessage) return this.fail(1002, 'continuation without a message'), false;
    } else {
      return this.fail(1002, 'reserved opcode'), false;
    }
    return true;
  }

  private startFrame(): void {
    const b0 = this.hdr[0];
    const len7 = this.hdr[1] & 0x7f;
    let len: number;
    let p = 2;
    if (len7 === 126) {
      len = this.hdr.readUInt16BE(2);
      p = 4;
    } else if (len7 === 127) {
      const hi = this.hdr.readUInt32BE(2);
      if (hi > 0x1fffff) return this.fail(1009, 'frame too large');
      len = hi * 2 ** 32 + this.hdr.readUInt32BE(6);
      p = 10;
    } else {
      len = len7;
    }
    this.hdr.copy(this.mask, 0, p, p + 4);
    this.hdrLen = 0;
    this.opcode = b0 & 0x0f;
    this.fin = (b0 & 0x80) !== 0;
    this.remaining = len;
    this.phase = 0;
    if (this.opcode >= 0x8) {
      this.control = Buffer.alloc(len);
      this.controlLen = 0;
    } else {
      if (this.messageBytes + len > this.maxPayload) return this.fail(1009, 'message too large');
      this.messageBytes += len;
      this.inMessage = !this.fin;
    }
    this.state = 'payload';
    if (len === 0) this.endFrame();
  }

  private readPayload(chunk: Buffer, off: number): number {
    const n = Math.min(this.remaining, chunk.length - off);
    const piece = chunk.subarray(off, off + n);
    unmaskInPlace(piece, this.mask, this.phase);
    this.phase = (this.phase + n) & 3;
    this.remaining -= n;
    if (this.control) {
      piece.copy(this.control, this.controlLen);
      this.controlLen += n;
    } else if (n > 0) {
      this.sink.data(piece);
    }
    if (this.remaining === 0) this.endFrame();
    return off + n;
  }

  private endFrame(): void {
    this.state = 'header';
    if (this.control) {
      const c = this.control;
      this.control = null;
      if (this.opcode === OP.CLOSE && c.length === 1) return this.fail(1002, 'bad close frame');
      this.sink.control(this.opcode, c);
      return;
    }
    if (this.fin) this.messageBytes = 0;
  }
}
