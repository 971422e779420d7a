// Test harness: where things are in an RMCP / RMCP+ datagram (read straight from the bytes, independent of
// rackhand's codec), so proxies can corrupt one field at a time.

export const SETUP_PAYLOADS = {
  openSessionRequest: 0x10,
  openSessionResponse: 0x11,
  rakp1: 0x12,
  rakp2: 0x13,
  rakp3: 0x14,
  rakp4: 0x15,
} as const;

export type SetupMessage = keyof typeof SETUP_PAYLOADS;

/** Offsets of session ids inside each setup payload (relative to the payload start). */
export const SETUP_SESSION_ID_OFFSETS: Record<number, number[]> = {
  0x10: [4], // remote console session id
  0x11: [4, 8], // console, BMC
  0x12: [4], // BMC
  0x13: [4], // console
  0x14: [4], // BMC
  0x15: [4], // console
};

/** Where a setup payload's key-exchange auth code / ICV starts (relative to the payload start). */
export const SETUP_AUTH_CODE_OFFSET: Record<number, number> = { 0x13: 40, 0x14: 8, 0x15: 8 };

export interface RmcpDatagram {
  kind: 'asf' | 'ipmi15' | 'ipmi20' | 'other';
  /** RMCP+ only. */
  payloadType?: number;
  authenticated?: boolean;
  encrypted?: boolean;
  /** Offset of the session-id field in the session header (both formats). */
  sessionIdOffset?: number;
  /** RMCP+ only: offset of the 16-bit payload length, of the payload, and its length as declared. */
  lengthOffset?: number;
  payloadOffset?: number;
  payloadLength?: number;
  /** RMCP+ authenticated: where the trailing auth code starts (its length depends on the cipher suite). */
  authCodeOffset?: number;
}

/** Reads what the bytes say; never throws (a short datagram is 'other'). */
export function rmcpDatagram(b: Buffer, authCodeLength = 12): RmcpDatagram {
  if (b.length < 5 || b[0] !== 0x06) return { kind: 'other' };
  if ((b[3] & 0x1f) === 0x06) return { kind: 'asf' };
  if ((b[3] & 0x1f) !== 0x07) return { kind: 'other' };
  if ((b[4] & 0x0f) !== 0x06) return b.length >= 13 ? { kind: 'ipmi15', sessionIdOffset: 9 } : { kind: 'other' };
  if (b.length < 16) return { kind: 'other' };
  const payloadType = b[5] & 0x3f;
  const oem = payloadType === 0x02 ? 6 : 0;
  const view: RmcpDatagram = {
    kind: 'ipmi20',
    payloadType,
    authenticated: (b[5] & 0x40) !== 0,
    encrypted: (b[5] & 0x80) !== 0,
    sessionIdOffset: 6 + oem,
    lengthOffset: 14 + oem,
    payloadOffset: 16 + oem,
    payloadLength: b.length >= 16 + oem ? b.readUInt16LE(14 + oem) : 0,
  };
  if (view.authenticated && b.length > authCodeLength) view.authCodeOffset = b.length - authCodeLength;
  return view;
}

/** mulberry32: a small seeded PRNG, so a chaos run can be repeated. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
