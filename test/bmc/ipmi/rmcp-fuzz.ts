// Fuzzing the RMCP+ client through the socket it reads from (shared by ipmi-fuzz.test.ts and bench/fuzz-ipmi.ts).
//
// Wire cases: a real ipmi_sim behind a proxy; while the native driver reads power, every reply of the chosen stage
// (auth capabilities, Open Session Response, RAKP 2, RAKP 4, in-session answers) is preceded by fast-check
// mutations of it, so every decoder from the RMCP header down to the setup payloads sees them on the live socket.
// Inner cases: a fake BMC that holds the session keys answers each request with fuzzed but authenticated packets
// (random encrypted payloads, random IPMI messages, random completion codes and data), so decryption, message
// framing and the command decoders of every driver operation see garbage that passed the integrity check.
import fc from 'fast-check';
import { startSimFarm, type SimFarm } from '../../harness/ipmi-sim.js';
import { startUdpProxy, type UdpProxy } from '../../harness/udp-proxy.js';
import { SETUP_PAYLOADS, rmcpDatagram } from '../../harness/rmcp-datagram.js';
import { startFakeBmc, type FakeBmc, type Reply } from './fake-rmcp-bmc.js';
import { IpmiDriver } from '../../../src/bmc/ipmi/ipmi-driver.js';
import type { BmcDriver, BmcTarget } from '../../../src/bmc/bmc-driver.js';
import { encodeIpmiResponse } from './bmc-side-codec.js';

export const WIRE_STAGES = ['auth-caps', 'open-session', 'rakp2', 'rakp4', 'in-session'] as const;
export type WireStage = (typeof WIRE_STAGES)[number];

export type Mutation =
  | { op: 'flip'; bits: number[] }
  | { op: 'truncate'; at: number }
  | { op: 'set'; at: number; bytes: number[] }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'field'; at: number; value: number }
  | { op: 'random'; bytes: number[] };

/** Offsets where a change is most likely to get past the outer checks: RMCP, session header, setup payload fields. */
const FIELD_OFFSETS = [0, 2, 3, 4, 5, 6, 9, 10, 13, 14, 15, 16, 17, 18, 20, 24, 28, 32, 36, 40, 44, 52, 56];

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), bits: fc.array(fc.nat({ max: 8 * 120 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat({ max: 120 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat({ max: 120 }), bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat({ max: 120 }), bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 40 }) }),
  fc.record({ op: fc.constant('field' as const), at: fc.constantFrom(...FIELD_OFFSETS), value: fc.oneof(fc.constantFrom(0, 1, 0x3f, 0x7f, 0x80, 0xff), fc.nat({ max: 255 })) }),
  fc.record({ op: fc.constant('random' as const), bytes: fc.array(fc.nat({ max: 255 }), { maxLength: 200 }) }),
);

export function applyMutation(m: Mutation, b: Buffer): Buffer {
  switch (m.op) {
    case 'flip': {
      const c = Buffer.from(b);
      for (const bit of m.bits) if (c.length > 0) c[(bit >> 3) % c.length] ^= 1 << (bit & 7);
      return c;
    }
    case 'truncate':
      return Buffer.from(b.subarray(0, m.at % Math.max(1, b.length)));
    case 'set': {
      const c = Buffer.from(b);
      m.bytes.forEach((x, i) => {
        if (m.at + i < c.length) c[m.at + i] = x;
      });
      return c;
    }
    case 'insert': {
      const at = Math.min(m.at, b.length);
      return Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
    }
    case 'field': {
      const c = Buffer.from(b);
      if (m.at < c.length) c[m.at] = m.value;
      return c;
    }
    case 'random':
      return Buffer.from(m.bytes);
  }
}

function stageOf(b: Buffer): WireStage | undefined {
  const v = rmcpDatagram(b);
  if (v.kind === 'ipmi15') return 'auth-caps';
  if (v.kind !== 'ipmi20') return undefined;
  switch (v.payloadType) {
    case SETUP_PAYLOADS.openSessionResponse:
      return 'open-session';
    case SETUP_PAYLOADS.rakp2:
      return 'rakp2';
    case SETUP_PAYLOADS.rakp4:
      return 'rakp4';
    case 0x00:
      return 'in-session';
    default:
      return undefined;
  }
}

export const STABLE_CODES = ['BMC_TIMEOUT', 'BMC_ERROR', 'BMC_AUTH_FAILED', 'BMC_UNSUPPORTED', 'BMC_BUSY', 'BMC_UNREACHABLE', 'NOT_FOUND'];

/** How one driver call ended: a value, or a RackhandError code; anything else (a TypeError…) is a finding. */
export async function outcomeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    return typeof code === 'string' && STABLE_CODES.includes(code) ? code : `UNSTABLE ${(e as Error)?.name}: ${(e as Error)?.message}`;
  }
}

export interface WireFuzz {
  /** One read with `mutations` delivered ahead of each reply of `stage`; resolves with the read's outcome. */
  run(stage: WireStage, mutations: Mutation[]): Promise<{ outcome: string; delivered: number }>;
  driver: IpmiDriver;
  stop(): Promise<void>;
}

export async function startWireFuzz(): Promise<WireFuzz> {
  const farm: SimFarm = await startSimFarm({ count: 1, maxSessions: 63 });
  const b = farm.bmcs[0];
  const proxy: UdpProxy = await startUdpProxy({ host: b.host, port: b.port });
  const driver = new IpmiDriver({ timeoutMs: 150, retries: 3, reuseSessions: false });
  const target: BmcTarget = { host: '127.0.0.1', port: proxy.port, username: b.username, password: b.password, cipherSuite: 3, privilege: 'administrator' };
  let reads = 0;
  return {
    driver,
    async run(stage, mutations) {
      // A mutated Open Session Response leaves a half-open session nobody can close: clear them now and then.
      if (++reads % 40 === 0) await farm.fault(0, 'restart');
      let delivered = 0;
      proxy.setInterceptor((d) => {
        if (d.dir !== 'to-client' || stageOf(d.data) !== stage) return undefined;
        const out = mutations.map((m) => ({ data: applyMutation(m, d.data) }));
        delivered += out.length;
        return [...out, { data: d.data }];
      });
      try {
        let outcome = await outcomeOf(driver.powerStatus(target));
        if (/insufficient resources/.test(outcome) || outcome === 'BMC_BUSY') {
          await farm.fault(0, 'restart');
          outcome = await outcomeOf(driver.powerStatus(target));
        }
        return { outcome, delivered };
      } finally {
        proxy.setInterceptor(undefined);
      }
    },
    async stop() {
      await driver.close();
      await proxy.stop();
      await farm.stop();
    },
  };
}

/** One fuzzed answer to an in-session request, sent with a valid HMAC. */
export type InnerAnswer =
  | { kind: 'payload'; bytes: number[] } // the "encrypted" payload as it goes on the wire
  | { kind: 'message'; bytes: number[] } // encrypted properly, but the IPMI message is random bytes
  | { kind: 'response'; matching: boolean; netFn: number; cmd: number; rqSeq: number; cc: number; data: number[] }; // well framed, random fields

export const innerAnswerArb: fc.Arbitrary<InnerAnswer> = fc.oneof(
  fc.record({ kind: fc.constant('payload' as const), bytes: fc.array(fc.nat({ max: 255 }), { maxLength: 96 }) }),
  fc.record({ kind: fc.constant('message' as const), bytes: fc.array(fc.nat({ max: 255 }), { maxLength: 64 }) }),
  fc.record({
    kind: fc.constant('response' as const),
    matching: fc.boolean(),
    netFn: fc.nat({ max: 63 }),
    cmd: fc.nat({ max: 255 }),
    rqSeq: fc.nat({ max: 63 }),
    cc: fc.oneof(fc.constant(0), fc.nat({ max: 255 })),
    data: fc.array(fc.nat({ max: 255 }), { maxLength: 80 }),
  }),
);

/** Driver operations whose answers are fuzzed; each exercises its own command decoders. */
export const INNER_OPS = ['powerStatus', 'deviceInfo', 'getBootDevice', 'sensors', 'listUsers'] as const;
export type InnerOp = (typeof INNER_OPS)[number];

export interface InnerFuzz {
  /** Runs `op`; each of its requests is answered by the next fuzzed answers (then by the real one, or 0xff when none is left). */
  run(op: InnerOp, answers: InnerAnswer[][]): Promise<{ outcome: string; delivered: number }>;
  driver: IpmiDriver;
  stop(): Promise<void>;
}

export async function startInnerFuzz(): Promise<InnerFuzz> {
  let script: InnerAnswer[][] = [];
  let delivered = 0;
  const real = (req: { netFn: number; cmd: number }): Reply | undefined => {
    if (req.netFn === 0x00 && req.cmd === 0x01) return { cc: 0, data: Buffer.from([0x01, 0x00, 0x00]) };
    if (req.netFn === 0x06 && req.cmd === 0x01) return { cc: 0, data: Buffer.from('2001028102bf570100290000000000', 'hex') };
    return { cc: 0xff };
  };
  const bmc: FakeBmc = await startFakeBmc({
    username: 'admin',
    password: 'fuzz-password',
    handler: real,
    onRespond: (c) => {
      const isSessionControl = c.req.netFn === 0x06 && (c.req.cmd === 0x3b || c.req.cmd === 0x3c);
      if (isSessionControl) return false;
      const answers = script.shift();
      if (!answers) return false;
      for (const a of answers) {
        delivered++;
        if (a.kind === 'payload') c.send(c.packet(c.resp, { payload: Buffer.from(a.bytes) }));
        else if (a.kind === 'message') c.send(c.packet(c.resp, { inner: Buffer.from(a.bytes) }));
        else {
          const m = a.matching
            ? { ...c.resp, completionCode: a.cc, data: Buffer.from(a.data) }
            : { ...c.resp, netFn: a.netFn, cmd: a.cmd, rqSeq: a.rqSeq, completionCode: a.cc, data: Buffer.from(a.data) };
          c.send(c.packet(m, { inner: encodeIpmiResponse(m) }));
        }
      }
      // A matching fuzzed answer ends the request; otherwise the real one (or 0xff) does, so every case ends.
      return answers.some((a) => a.kind === 'response' && a.matching);
    },
  });
  const driver = new IpmiDriver({ timeoutMs: 150, retries: 1 });
  const target: BmcTarget = { host: '127.0.0.1', port: bmc.port, username: 'admin', password: 'fuzz-password', cipherSuite: 3, privilege: 'administrator' };
  const call = (d: BmcDriver, op: InnerOp): Promise<unknown> => (d[op] as (t: BmcTarget) => Promise<unknown>).call(d, target);
  return {
    driver,
    async run(op, answers) {
      script = answers.map((a) => [...a]);
      delivered = 0;
      const outcome = await outcomeOf(call(driver, op));
      script = [];
      return { outcome, delivered };
    },
    async stop() {
      await driver.close();
      await bmc.stop();
    },
  };
}
