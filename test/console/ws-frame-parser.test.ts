// Property tests of the console proxy's own websocket framing: unmasking, header encoding, the streaming parser.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeFrameHeader, FrameParser, OP, unmaskInPlace } from '../../src/console/ws-frame-parser.js';

/** A client frame as RFC 6455 §5.2 writes it (reference encoder, deliberately naive). */
function clientFrame(opcode: number, payload: Uint8Array, mask: Uint8Array, fin = true): Buffer {
  const len = payload.length;
  const ext = len < 126 ? [len] : len < 65536 ? [126, len >> 8, len & 255] : [127, 0, 0, 0, 0, (len >>> 24) & 255, (len >>> 16) & 255, (len >>> 8) & 255, len & 255];
  const head = [(fin ? 0x80 : 0) | opcode, 0x80 | ext[0], ...ext.slice(1), ...mask];
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([Buffer.from(head), body]);
}

function collect(maxPayload = 1 << 20) {
  const out = { data: [] as Buffer[], controls: [] as [number, Buffer][], errors: [] as [number, string][] };
  const p = new FrameParser(
    {
      data: (c) => out.data.push(Buffer.from(c)),
      control: (op, b) => out.controls.push([op, Buffer.from(b)]),
      error: (code, r) => out.errors.push([code, r]),
    },
    maxPayload,
  );
  return { p, out };
}

/** Feeds `buf` to the parser in pieces cut at the given points. */
function feed(p: FrameParser, buf: Buffer, cuts: number[]) {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  let prev = 0;
  for (const c of [...points, buf.length]) {
    if (c > prev) p.push(Buffer.from(buf.subarray(prev, c)));
    prev = c;
  }
}

describe('unmaskInPlace', () => {
  it('equals the byte-wise XOR for any buffer, alignment and mask phase', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.nat(3), fc.nat(7), (data, mask, phase, shift) => {
        const backing = new Uint8Array(data.length + 8);
        const view = backing.subarray(shift, shift + data.length);
        view.set(data);
        unmaskInPlace(view, mask, phase);
        return data.every((b, i) => view[i] === (b ^ mask[(phase + i) & 3]));
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('encodeFrameHeader', () => {
  it('writes the 7-, 16- and 64-bit length forms', () => {
    expect([...encodeFrameHeader(OP.BINARY, 5)]).toEqual([0x82, 5]);
    expect([...encodeFrameHeader(OP.BINARY, 126)]).toEqual([0x82, 126, 0, 126]);
    expect([...encodeFrameHeader(OP.CLOSE, 70000)]).toEqual([0x88, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 40 }), (n) => {
        const h = encodeFrameHeader(OP.BINARY, n);
        const l7 = h[1] & 0x7f;
        const got = l7 < 126 ? l7 : l7 === 126 ? h.readUInt16BE(2) : Number(h.readBigUInt64BE(2));
        return got === n && h[0] === 0x82 && (h[1] & 0x80) === 0;
      }),
      { numRuns: 5_000 },
    );
  });
});

describe('FrameParser', () => {
  const mask = fc.uint8Array({ minLength: 4, maxLength: 4 });
  const message = fc.record({
    parts: fc.array(fc.uint8Array({ maxLength: 700 }), { minLength: 1, maxLength: 4 }),
    masks: fc.array(mask, { minLength: 4, maxLength: 4 }),
  });

  it('delivers exactly the payload of any sequence of (fragmented) binary messages and pings, however the bytes are cut', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(message, fc.uint8Array({ maxLength: 125 })), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 12 }), (items, cuts) => {
        const frames: Buffer[] = [];
        const expectedData: Buffer[] = [];
        const expectedPings: Buffer[] = [];
        for (const it of items) {
          if (it instanceof Uint8Array) {
            frames.push(clientFrame(OP.PING, it, new Uint8Array([9, 8, 7, 6])));
            expectedPings.push(Buffer.from(it));
            continue;
          }
          it.parts.forEach((part, i) => {
            frames.push(clientFrame(i === 0 ? OP.BINARY : OP.CONT, part, it.masks[i % 4], i === it.parts.length - 1));
            expectedData.push(Buffer.from(part));
          });
        }
        const { p, out } = collect();
        feed(p, Buffer.concat(frames), cuts);
        expect(out.errors).toEqual([]);
        expect(Buffer.concat(out.data).equals(Buffer.concat(expectedData))).toBe(true);
        expect(out.controls.map(([op, b]) => [op, b.toString('hex')])).toEqual(expectedPings.map((b) => [OP.PING, b.toString('hex')]));
        expect(p.failed).toBe(false);
      }),
      { numRuns: 3_000 },
    );
  });

  it('reports protocol violations with the right close code', () => {
    const m = new Uint8Array([1, 2, 3, 4]);
    const cases: [Buffer, number][] = [
      [clientFrame(OP.TEXT, Buffer.from('hi'), m), 1003],
      [Buffer.from([0x82, 0x02, 1, 2]), 1002], // unmasked
      [Buffer.concat([Buffer.from([0xc2]), clientFrame(OP.BINARY, Buffer.from('x'), m).subarray(1)]), 1002], // RSV1
      [clientFrame(0x3, Buffer.from('x'), m), 1002], // reserved opcode
      [clientFrame(OP.CONT, Buffer.from('x'), m), 1002], // continuation without message
      [Buffer.concat([clientFrame(OP.BINARY, Buffer.from('a'), m, false), clientFrame(OP.BINARY, Buffer.from('b'), m)]), 1002],
      [clientFrame(OP.PING, Buffer.from('x'), m, false), 1002], // fragmented control
      [Buffer.from([0x89, 0x80 | 126, 0, 200, 1, 2, 3, 4]), 1002], // long control
      [clientFrame(OP.CLOSE, Buffer.from([3]), m), 1002], // one-byte close payload
      [clientFrame(OP.BINARY, Buffer.alloc(2000), m), 1009],
      [Buffer.from([0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0, 1, 2, 3, 4]), 1009], // 2^63-ish length
    ];
    for (const [buf, code] of cases) {
      const { p, out } = collect(1024);
      p.push(buf);
      expect(out.errors.map((e) => e[0]), buf.toString('hex')).toEqual([code]);
      expect(p.failed).toBe(true);
    }
  });

  it('never throws, reports at most one error and delivers at most the input length on random bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 400 }), { maxLength: 6 }), (chunks) => {
        const { p, out } = collect(4096);
        let total = 0;
        for (const c of chunks) {
          total += c.length;
          p.push(Buffer.from(c));
        }
        const delivered = out.data.reduce((n, b) => n + b.length, 0);
        return out.errors.length <= 1 && delivered <= total && out.controls.every(([, b]) => b.length <= 125);
      }),
      { numRuns: 20_000 },
    );
  });

  it('stops delivering after an error, and truncated frames deliver only what arrived', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 500 }), mask, fc.nat(), (payload, mk, cut) => {
        const frame = clientFrame(OP.BINARY, payload, mk);
        const at = cut % frame.length;
        const { p, out } = collect();
        p.push(Buffer.from(frame.subarray(0, at)));
        const got = Buffer.concat(out.data);
        return out.errors.length === 0 && Buffer.from(payload).subarray(0, got.length).equals(got);
      }),
      { numRuns: 10_000 },
    );
  });
});
