// Test peer: a minimal RMCP+ BMC on a loopback UDP port built from rackhand's codec/crypto (cipher suites 3 and
// 17), used as the far end for ipmitool -C 17 and as a scriptable hostile peer (wrong session id, replay, bad HMAC).
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import {
  AUTH_TYPE_NONE, PAYLOAD_IPMI, PAYLOAD_OPEN_SESSION_REQ, PAYLOAD_OPEN_SESSION_RESP, PAYLOAD_RAKP1, PAYLOAD_RAKP2,
  PAYLOAD_RAKP3, PAYLOAD_RAKP4, decodePacket, encodeIpmi15Session, encodeIpmi20Session, type IpmiRequest,
  type IpmiResponse,
} from '../../../src/bmc/ipmi/ipmi-codec.js';
import {
  decodeIpmiRequest, decodeOpenSessionRequest, decodeRakp1, decodeRakp3, encodeIpmiResponse,
  encodeOpenSessionResponse, encodeRakp2, encodeRakp4,
} from './bmc-side-codec.js';
import {
  additionalKey, cipherSuite, decryptPayload, encryptPayload, integrityCode, rakp2AuthCode, rakp3AuthCode, rakp4Icv,
  sameBytes, sessionIntegrityKey, userKey, type CipherSuite, type RakpContext,
} from '../../../src/bmc/ipmi/ipmi-crypto.js';

export interface FakeSession {
  bmcSessionId: number;
  consoleSessionId: number;
  cs: CipherSuite;
  ctx: RakpContext;
  k1: Buffer;
  k2: Buffer;
  active: boolean;
  outSeq: number;
}

export interface Reply {
  cc: number;
  data?: Buffer;
}

/** What a hostile script may do with each in-session answer. */
export interface RespondContext {
  req: IpmiRequest;
  session: FakeSession;
  /** The correct response message. */
  resp: IpmiResponse;
  /**
   * Builds a packet; overrides make it hostile. `seq` defaults to the next outbound sequence number. `inner` is
   * encrypted instead of the encoded response; `payload` goes on the wire as the (supposedly encrypted) payload.
   */
  packet(resp: IpmiResponse, o?: PacketOverrides): Buffer;
  send(buf: Buffer): void;
}

export interface PacketOverrides {
  sessionId?: number;
  seq?: number;
  badMac?: boolean;
  noAuth?: boolean;
  inner?: Buffer;
  payload?: Buffer;
}

export interface FakeBmcOptions {
  username: string;
  password: string;
  /** Answers in-session IPMI requests; undefined → 0xc1 invalid command. */
  handler?: (req: IpmiRequest) => Reply | undefined;
  /** Return true when it sent everything itself (the default answer is then not sent). */
  onRespond?: (c: RespondContext) => boolean | void;
  /** Send a wrong RAKP 4 integrity check value (a BMC that derived another session key, or an impostor). */
  corruptIcv?: boolean;
}

export interface FakeBmc {
  port: number;
  guid: Buffer;
  sessions: Map<number, FakeSession>;
  /** Requests that passed integrity checks, in order. */
  requests: IpmiRequest[];
  /** Inbound packets the fake itself rejected (bad HMAC from the client would be a rackhand bug). */
  rejected: string[];
  stop(): Promise<void>;
}

export async function startFakeBmc(opts: FakeBmcOptions): Promise<FakeBmc> {
  const sock = dgram.createSocket('udp4');
  const guid = randomBytes(16);
  const sessions = new Map<number, FakeSession>();
  const byConsole = new Map<number, FakeSession>(); // pending (pre-RAKP1) lookups
  const requests: IpmiRequest[] = [];
  const rejected: string[] = [];
  const kuid = userKey(opts.password);

  const handle = (buf: Buffer, rinfo: dgram.RemoteInfo): void => {
    const send = (b: Buffer): void => {
      sock.send(b, rinfo.port, rinfo.address);
    };
    let p;
    try {
      // Integrity length differs by suite; decode with each active suite's length until one fits.
      p = decodePacket(buf, 0);
    } catch {
      try {
        p = decodePacket(buf, buf.length > 0 ? 12 : 0);
      } catch {
        try {
          p = decodePacket(buf, 16);
        } catch {
          rejected.push('decode');
          return;
        }
      }
    }
    if (p.kind === 'ipmi15') {
      const req = decodeIpmiRequest(p.session.message);
      if (req.cmd !== 0x38) return;
      const resp = encodeIpmiResponse({ rqAddr: req.rqAddr, netFn: req.netFn | 1, rqLun: req.rqLun, rsAddr: req.rsAddr, rqSeq: req.rqSeq, rsLun: req.rsLun, cmd: req.cmd, completionCode: 0, data: Buffer.from([0x01, 0x97, 0x04, 0x03, 0, 0, 0, 0]) });
      send(encodeIpmi15Session({ authType: AUTH_TYPE_NONE, sequence: 0, sessionId: 0, message: resp }));
      return;
    }
    if (p.kind !== 'ipmi20') return;
    const pkt = p.packet;
    const setup = (type: number, payload: Buffer): void => send(encodeIpmi20Session({ payloadType: type, encrypted: false, sessionId: 0, sequence: 0, payload }));
    switch (pkt.payloadType) {
      case PAYLOAD_OPEN_SESSION_REQ: {
        const r = decodeOpenSessionRequest(pkt.payload);
        const suite = [3, 17].map((n) => cipherSuite(n)!).find((c) => c.algorithms.auth === r.algorithms.auth && c.algorithms.integrity === r.algorithms.integrity && c.algorithms.confidentiality === r.algorithms.confidentiality);
        if (!suite) {
          setup(PAYLOAD_OPEN_SESSION_RESP, encodeOpenSessionResponse({ tag: r.tag, status: 0x11, privilege: 0, consoleSessionId: r.consoleSessionId, bmcSessionId: 0 }));
          return;
        }
        const s: FakeSession = {
          bmcSessionId: randomBytes(4).readUInt32LE(0) || 7,
          consoleSessionId: r.consoleSessionId,
          cs: suite,
          ctx: { consoleSessionId: r.consoleSessionId, bmcSessionId: 0, consoleRandom: Buffer.alloc(16), bmcRandom: randomBytes(16), bmcGuid: guid, role: 0, username: Buffer.alloc(0) },
          k1: Buffer.alloc(0),
          k2: Buffer.alloc(0),
          active: false,
          outSeq: 0,
        };
        s.ctx.bmcSessionId = s.bmcSessionId;
        sessions.set(s.bmcSessionId, s);
        byConsole.set(s.consoleSessionId, s);
        setup(PAYLOAD_OPEN_SESSION_RESP, encodeOpenSessionResponse({ tag: r.tag, status: 0, privilege: 4, consoleSessionId: r.consoleSessionId, bmcSessionId: s.bmcSessionId, algorithms: suite.algorithms }));
        return;
      }
      case PAYLOAD_RAKP1: {
        const r = decodeRakp1(pkt.payload);
        const s = sessions.get(r.bmcSessionId);
        if (!s) return;
        if (r.username.toString() !== opts.username) {
          setup(PAYLOAD_RAKP2, encodeRakp2({ tag: r.tag, status: 0x0d, consoleSessionId: s.consoleSessionId, bmcRandom: Buffer.alloc(0), bmcGuid: Buffer.alloc(0), authCode: Buffer.alloc(0) }));
          return;
        }
        s.ctx.consoleRandom = r.consoleRandom;
        s.ctx.role = r.role;
        s.ctx.username = r.username;
        setup(PAYLOAD_RAKP2, encodeRakp2({ tag: r.tag, status: 0, consoleSessionId: s.consoleSessionId, bmcRandom: s.ctx.bmcRandom, bmcGuid: guid, authCode: rakp2AuthCode(s.cs, kuid, s.ctx) }));
        return;
      }
      case PAYLOAD_RAKP3: {
        const r = decodeRakp3(pkt.payload);
        const s = sessions.get(r.bmcSessionId);
        if (!s) return;
        if (r.status !== 0 || !sameBytes(rakp3AuthCode(s.cs, kuid, s.ctx), r.authCode)) {
          rejected.push('rakp3');
          setup(PAYLOAD_RAKP4, encodeRakp4({ tag: r.tag, status: 0x0f, consoleSessionId: s.consoleSessionId, icv: Buffer.alloc(0) }));
          return;
        }
        const sik = sessionIntegrityKey(s.cs, kuid, s.ctx);
        s.k1 = additionalKey(s.cs, sik, 1);
        s.k2 = additionalKey(s.cs, sik, 2);
        s.active = true;
        setup(PAYLOAD_RAKP4, encodeRakp4({ tag: r.tag, status: 0, consoleSessionId: s.consoleSessionId, icv: opts.corruptIcv ? Buffer.alloc(s.cs.icvLength) : rakp4Icv(s.cs, sik, s.ctx) }));
        return;
      }
      case PAYLOAD_IPMI: {
        const s = sessions.get(pkt.sessionId);
        if (!s || !s.active) return void rejected.push('session');
        // Re-decode with this session's integrity length.
        let q;
        try {
          const again = decodePacket(buf, s.cs.integrityLength);
          if (again.kind !== 'ipmi20' || !again.packet.integrity) return void rejected.push('unauthenticated');
          q = again.packet;
        } catch {
          return void rejected.push('decode');
        }
        if (!sameBytes(integrityCode(s.cs, s.k1, q.integrity!.covered), q.integrity!.authCode)) return void rejected.push('integrity');
        const req = decodeIpmiRequest(q.encrypted ? decryptPayload(s.k2, q.payload) : q.payload);
        requests.push(req);
        let reply: Reply | undefined;
        if (req.netFn === 0x06 && req.cmd === 0x3b) reply = { cc: 0, data: Buffer.from([req.data[0] & 0x0f]) };
        else if (req.netFn === 0x06 && req.cmd === 0x3c) reply = { cc: 0 };
        else reply = opts.handler?.(req);
        reply ??= { cc: 0xc1 };
        const resp: IpmiResponse = { rqAddr: req.rqAddr, netFn: req.netFn | 1, rqLun: req.rqLun, rsAddr: req.rsAddr, rqSeq: req.rqSeq, rsLun: req.rsLun, cmd: req.cmd, completionCode: reply.cc, data: reply.data ?? Buffer.alloc(0) };
        const packet = (m: IpmiResponse, o: PacketOverrides = {}): Buffer => {
          const seq = o.seq ?? ++s.outSeq;
          const integrity = o.noAuth ? undefined : (covered: Buffer): Buffer => {
            const code = integrityCode(s.cs, s.k1, covered);
            if (o.badMac) code[0] ^= 0x01;
            return code;
          };
          const payload = o.payload ?? encryptPayload(s.k2, o.inner ?? encodeIpmiResponse(m));
          return encodeIpmi20Session({ payloadType: PAYLOAD_IPMI, encrypted: true, sessionId: o.sessionId ?? s.consoleSessionId, sequence: seq, payload, integrity });
        };
        const handled = opts.onRespond?.({ req, session: s, resp, packet, send });
        if (!handled) send(packet(resp));
        if (req.netFn === 0x06 && req.cmd === 0x3c) {
          sessions.delete(s.bmcSessionId);
          byConsole.delete(s.consoleSessionId);
        }
        return;
      }
      default:
        return;
    }
  };
  sock.on('message', (b, ri) => {
    try {
      handle(b, ri);
    } catch {
      rejected.push('exception');
    }
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  return {
    port: sock.address().port,
    guid,
    sessions,
    requests,
    rejected,
    stop: () => new Promise<void>((r) => sock.close(() => r())),
  };
}
