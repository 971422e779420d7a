// fast-check generators of hostile boot-protocol datagrams (DHCP, TFTP requests, TFTP transfer traffic), for tests and bench/fuzz-boot.mjs.

import fc from 'fast-check';
import { DHCP_MAGIC_COOKIE, macToChaddr, serializeDhcpPacket, type DhcpOptions, type DhcpPacket } from '../../src/boot/dhcp/dhcp-codec.js';
import { serializeAck, serializeTftpPacket } from '../../src/boot/tftp/tftp-packet.js';

const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

/** Cuts, byte flips and appended junk: what a lossy link or a fuzzer makes of a good datagram. */
function mutated(good: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      good,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.option(fc.nat(), { nil: undefined }),
      fc.option(bytes(40), { nil: undefined }),
    )
    .map(([b, flips, cut, tail]) => {
      const out = Buffer.from(b);
      for (const [at, v] of flips) if (out.length) out[at % out.length] = v;
      const cutAt = cut === undefined ? out.length : cut % (out.length + 1);
      return tail ? Buffer.concat([out.subarray(0, cutAt), tail]) : out.subarray(0, cutAt);
    });
}

// ---------------------------------------------------------------- TFTP

const TFTP_NAMES = ['file.bin', 'nope', '../outside/x', '/file.bin', 'file.bin\\..', 'sub/../file.bin', 'x'.repeat(600), '', 'a\x00b'];
const TFTP_OPTIONS = ['blksize', 'tsize', 'timeout', 'windowsize', 'BLKSIZE', 'x', ''];
const TFTP_VALUES = ['0', '1', '7', '8', '255', '256', '1468', '65464', '65465', '99999999999', '-1', 'abc', '', '1e3', ' 8'];

/** RRQ/WRQ-shaped requests (names, modes, RFC 2347 options), random bytes, other opcodes, mutations: for the listen port. */
export const tftpRequestDatagram: fc.Arbitrary<Buffer> = fc.oneof(
  bytes(700),
  fc
    .tuple(
      fc.constantFrom(...TFTP_NAMES),
      fc.constantFrom('octet', 'netascii', 'OCTET', 'mail', 'bogus', ''),
      fc.array(fc.tuple(fc.constantFrom(...TFTP_OPTIONS), fc.oneof(fc.constantFrom(...TFTP_VALUES), fc.string())), { maxLength: 5 }),
      fc.boolean(),
      fc.boolean(),
    )
    .map(([filename, mode, opts, wrq, unterminated]) => {
      const parts = [filename, mode, ...opts.flat()];
      const b = Buffer.concat([Buffer.from([0, wrq ? 2 : 1]), ...parts.map((p) => Buffer.from(`${p}\0`, 'latin1'))]);
      return unterminated ? b.subarray(0, b.length - 1) : b;
    }),
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 65535 }), bytes(64)).map(([op, n, rest]) =>
    Buffer.concat([Buffer.from([0, op, n >> 8, n & 0xff]), rest]),
  ),
  mutated(fc.constantFrom(Buffer.from('\0\x01file.bin\0octet\0blksize\x001468\0tsize\x000\0windowsize\x004\0', 'latin1'))),
);

/**
 * What may reach a running transfer from its own client: ACKs for any block, ERRORs, DATA, requests,
 * truncated and padded packets, random bytes. (Strangers never reach it: the socket is connected.)
 */
export const tftpTransferDatagram: fc.Arbitrary<Buffer> = fc.oneof(
  bytes(80),
  fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 65535 }), bytes(16)).map(([op, n, rest]) =>
    Buffer.concat([Buffer.from([0, op, n >> 8, n & 0xff]), rest]),
  ),
  fc
    .tuple(fc.constantFrom(serializeAck(1), serializeAck(65535), serializeTftpPacket({ op: 'ERROR', code: 8, message: 'x' })), fc.nat())
    .map(([b, cut]) => b.subarray(0, cut % (b.length + 1))),
);

// ---------------------------------------------------------------- DHCP

/** Option codes the codec decodes by name (each has its own length rules), plus some it passes through. */
const DHCP_CODES = [1, 3, 6, 12, 15, 43, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 66, 67, 77, 93, 94, 97, 175, 0, 255, 82, 119, 250];

const dhcpOptionTlv = fc
  .tuple(
    fc.constantFrom(...DHCP_CODES),
    fc.oneof(
      bytes(24),
      bytes(300),
      fc.constantFrom(Buffer.from([1]), Buffer.from([3]), Buffer.from([0, 7]), Buffer.from([0, 0]), Buffer.from('PXEClient:Arch:00007:UNDI:003000'), Buffer.from('iPXE')),
    ),
    fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
  )
  .map(([code, v, lie]) => {
    // A length byte that lies (too long, too short) now and then; values over 255 bytes are split (RFC 3396).
    const chunks: Buffer[] = [];
    for (let off = 0; off < Math.max(1, v.length); off += 255) {
      const c = v.subarray(off, off + 255);
      chunks.push(Buffer.from([code, lie ?? c.length]), c);
    }
    return Buffer.concat(chunks);
  });

/** A BOOTP header with the magic cookie and a TLV option stream of arbitrary codes, lengths and values. */
function rawDhcp(macs: string[]): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      fc.constantFrom(1, 2, 0, 255),
      fc.constantFrom(1, 6, 0),
      fc.constantFrom(6, 0, 16, 17, 255),
      fc.oneof(fc.constantFrom(...macs), fc.uint8Array({ minLength: 6, maxLength: 6 }).map((a) => [...a].map((x) => x.toString(16).padStart(2, '0')).join(':'))),
      fc.array(dhcpOptionTlv, { maxLength: 12 }),
      fc.boolean(),
      fc.constantFrom('0.0.0.0', '127.0.0.1', '10.1.2.3'),
    )
    .map(([op, htype, hlen, mac, opts, end, giaddr]) => {
      const head = Buffer.alloc(240);
      head[0] = op;
      head[1] = htype;
      head[2] = hlen;
      head.writeUInt32BE(0x1234, 4);
      Buffer.from(giaddr.split('.').map(Number)).copy(head, 24);
      macToChaddr(mac).copy(head, 28);
      head.writeUInt32BE(DHCP_MAGIC_COOKIE, 236);
      return Buffer.concat([head, ...opts, end ? Buffer.from([255]) : Buffer.alloc(0)]);
    });
}

/** Well-formed requests of every message type from PXE firmware, iPXE and plain clients, some relayed. */
function wellFormedDhcp(macs: string[]): fc.Arbitrary<Buffer> {
  return fc
    .tuple(
      fc.constantFrom(...macs),
      fc.integer({ min: 0, max: 9 }),
      fc.constantFrom<DhcpOptions>(
        { clientArch: [0], vendorClass: 'PXEClient:Arch:00000:UNDI:002001' },
        { clientArch: [7], vendorClass: 'PXEClient:Arch:00007:UNDI:003000' },
        { clientArch: [16], vendorClass: 'HTTPClient:Arch:00016:UNDI:003001' },
        { clientArch: [11], vendorClass: 'PXEClient:Arch:00011:UNDI:003000' },
        { clientArch: [0], userClass: ['iPXE'], userClassFormat: 'plain', vendorClass: 'PXEClient:Arch:00000:UNDI:002001' },
        {},
      ),
      fc.constantFrom('0.0.0.0', '127.0.0.1'),
      fc.constantFrom<Partial<DhcpOptions>>({}, { requestedIp: '10.9.0.50' }, { serverId: '10.9.0.1' }, { serverId: '10.9.9.9' }),
    )
    .map(([mac, type, client, giaddr, extra]) => {
      const p: DhcpPacket = {
        op: 1, htype: 1, hlen: 6, hops: 0, xid: 0x5eed, secs: 0, flags: 0x8000,
        ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr,
        chaddr: macToChaddr(mac), sname: '', file: '',
        options: { messageType: type, ...client, ...extra },
      };
      return serializeDhcpPacket(p);
    });
}

/**
 * DHCP datagrams: random bytes, raw TLV streams with lying lengths, well-formed requests, and mutations
 * of those. `macs` should include MACs the server knows, so the reply paths are reached too.
 */
export function dhcpDatagram(macs: string[]): fc.Arbitrary<Buffer> {
  return fc.oneof(bytes(600), rawDhcp(macs), wellFormedDhcp(macs), mutated(wellFormedDhcp(macs)), mutated(rawDhcp(macs)));
}
