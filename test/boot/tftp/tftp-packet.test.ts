// TFTP codec: known packets, round trips, and fuzzing that proves parse only ever throws TftpDecodeError.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  TftpDecodeError,
  parseTftpPacket,
  serializeAck,
  serializeData,
  serializeError,
  serializeOack,
  serializeRequest,
  serializeTftpPacket,
  type TftpPacket,
} from '../../../src/boot/tftp/tftp-packet.js';

const bytes = (...xs: (number | string)[]) =>
  Buffer.concat(xs.map((x) => (typeof x === 'number' ? Buffer.from([x]) : Buffer.from(x, 'latin1'))));

/** Parses or returns the decode error; anything else thrown fails the test. */
function parseOrDecodeError(buf: Buffer): TftpPacket | TftpDecodeError {
  try {
    return parseTftpPacket(buf);
  } catch (e) {
    if (e instanceof TftpDecodeError) return e;
    throw e;
  }
}

describe('tftp packet codec', () => {
  it('parses an RRQ with options, lower-casing names and mode', () => {
    const p = parseTftpPacket(bytes(0, 1, 'ipxe.efi', 0, 'OCTET', 0, 'BLKSIZE', 0, '1468', 0, 'tsize', 0, '0', 0));
    expect(p).toEqual({
      op: 'RRQ',
      filename: 'ipxe.efi',
      mode: 'octet',
      options: new Map([
        ['blksize', '1468'],
        ['tsize', '0'],
      ]),
    });
  });

  it('keeps the first of repeated options', () => {
    const p = parseTftpPacket(bytes(0, 1, 'f', 0, 'octet', 0, 'blksize', 0, '8', 0, 'blksize', 0, '9000', 0));
    expect(p.op === 'RRQ' && p.options.get('blksize')).toBe('8');
  });

  it('parses WRQ, DATA, ACK, ERROR, OACK', () => {
    expect(parseTftpPacket(bytes(0, 2, 'x', 0, 'netascii', 0))).toMatchObject({ op: 'WRQ', mode: 'netascii' });
    const d = parseTftpPacket(bytes(0, 3, 0xff, 0xfe, 'abc'));
    expect(d).toMatchObject({ op: 'DATA', block: 0xfffe });
    expect(d.op === 'DATA' && d.data.toString()).toBe('abc');
    expect(parseTftpPacket(bytes(0, 3, 0, 1))).toMatchObject({ op: 'DATA', block: 1 });
    expect(parseTftpPacket(bytes(0, 4, 1, 2))).toEqual({ op: 'ACK', block: 258 });
    expect(parseTftpPacket(bytes(0, 5, 0, 8, 'no', 0))).toEqual({ op: 'ERROR', code: 8, message: 'no' });
    expect(parseTftpPacket(bytes(0, 5, 0, 1))).toEqual({ op: 'ERROR', code: 1, message: '' });
    expect(parseTftpPacket(bytes(0, 6, 'tsize', 0, '42', 0))).toEqual({
      op: 'OACK',
      options: new Map([['tsize', '42']]),
    });
  });

  it.each([
    ['empty', bytes()],
    ['one byte', bytes(1)],
    ['unknown opcode', bytes(0, 9, 0, 0)],
    ['opcode 0', bytes(0, 0)],
    ['RRQ without mode', bytes(0, 1, 'f', 0)],
    ['RRQ unterminated', bytes(0, 1, 'f', 0, 'octet')],
    ['RRQ bad mode', bytes(0, 1, 'f', 0, 'binary', 0)],
    ['RRQ option without value', bytes(0, 1, 'f', 0, 'octet', 0, 'blksize', 0)],
    ['RRQ empty option name', bytes(0, 1, 'f', 0, 'octet', 0, '', 0, '1', 0)],
    ['DATA short', bytes(0, 3, 1)],
    ['ACK short', bytes(0, 4, 0)],
    ['ERROR short', bytes(0, 5, 0)],
    ['oversized DATA', Buffer.concat([bytes(0, 3, 0, 1), Buffer.alloc(65465)])],
  ])('rejects %s with TftpDecodeError', (_name, buf) => {
    expect(() => parseTftpPacket(buf)).toThrow(TftpDecodeError);
    try {
      parseTftpPacket(buf);
    } catch (e) {
      expect((e as TftpDecodeError).code).toBe('INVALID_INPUT');
    }
  });

  it('serializes the packets the server sends', () => {
    expect(serializeAck(65536 + 3)).toEqual(bytes(0, 4, 0, 3));
    expect(serializeData(65536, Buffer.from('hi'))).toEqual(bytes(0, 3, 0, 0, 'hi'));
    expect(serializeError(5, 'Unknown transfer ID')).toEqual(bytes(0, 5, 0, 5, 'Unknown transfer ID', 0));
    expect(serializeOack(new Map([['blksize', '1468']]))).toEqual(bytes(0, 6, 'blksize', 0, '1468', 0));
    expect(serializeRequest({ op: 'RRQ', filename: 'a', mode: 'octet' })).toEqual(bytes(0, 1, 'a', 0, 'octet', 0));
  });

  // --- property tests -------------------------------------------------------------------------

  const name = fc.string({ unit: fc.integer({ min: 1, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: 40 });
  const optName = name.filter((s) => s.length > 0).map((s) => s.toLowerCase());
  const packetArb: fc.Arbitrary<TftpPacket> = fc.oneof(
    fc.record({
      op: fc.constantFrom('RRQ' as const, 'WRQ' as const),
      filename: name,
      mode: fc.constantFrom('octet', 'netascii', 'mail'),
      options: fc.uniqueArray(fc.tuple(optName, name), { selector: (t) => t[0], maxLength: 6 }).map((a) => new Map(a)),
    }),
    fc.record({
      op: fc.constant('DATA' as const),
      block: fc.integer({ min: 0, max: 65535 }),
      data: fc.uint8Array({ maxLength: 1500 }).map((a) => Buffer.from(a)),
    }),
    fc.record({ op: fc.constant('ACK' as const), block: fc.integer({ min: 0, max: 65535 }) }),
    fc.record({ op: fc.constant('ERROR' as const), code: fc.integer({ min: 0, max: 65535 }), message: name }),
    fc.record({
      op: fc.constant('OACK' as const),
      options: fc.uniqueArray(fc.tuple(optName, name), { selector: (t) => t[0], maxLength: 6 }).map((a) => new Map(a)),
    }),
  );

  it('round-trips every well-formed packet (5,000 cases)', () => {
    fc.assert(
      fc.property(packetArb, (p) => {
        expect(parseTftpPacket(serializeTftpPacket(p))).toEqual(p);
      }),
      { numRuns: 5000 },
    );
  });

  it('never throws anything but TftpDecodeError on random datagrams (10,000 cases)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (a) => {
        parseOrDecodeError(Buffer.from(a));
      }),
      { numRuns: 10_000 },
    );
  });

  it('random bytes behind each valid opcode (10,000 cases)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 300 }), (op, a) => {
        const r = parseOrDecodeError(Buffer.concat([bytes(0, op), Buffer.from(a)]));
        if (!(r instanceof TftpDecodeError) && r.op === 'DATA') expect(r.data.length).toBe(a.length - 2);
      }),
      { numRuns: 10_000 },
    );
  });

  it('every truncation and byte mutation of valid packets (10,000 cases)', () => {
    fc.assert(
      fc.property(
        packetArb,
        fc.nat(),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        (p, cut, muts) => {
          const wire = serializeTftpPacket(p);
          const truncated = wire.subarray(0, cut % (wire.length + 1));
          parseOrDecodeError(truncated);
          const mutated = Buffer.from(wire);
          for (const [at, v] of muts) if (mutated.length > 0) mutated[at % mutated.length] = v;
          parseOrDecodeError(mutated);
        },
      ),
      { numRuns: 10_000 },
    );
  });
});
