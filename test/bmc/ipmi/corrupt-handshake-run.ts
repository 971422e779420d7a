// Child process of corrupt-handshake.test.ts: a real ipmi_sim behind a UDP proxy that corrupts one field of one
// handshake reply (Get Channel Auth Capabilities, Open Session Response, RAKP 2, RAKP 4) per case, while rackhand's
// native driver reads power through it. Prints one JSON line per case, then {"done":true}. Runs in its own process
// so that a handler exception that kills the process shows as a crash instead of taking the test runner down.
import { startSimFarm } from '../../harness/ipmi-sim.js';
import { startUdpProxy, type Interceptor, type UdpProxy } from '../../harness/udp-proxy.js';
import { SETUP_PAYLOADS, rmcpDatagram } from '../../harness/rmcp-datagram.js';
import { IpmiDriver } from '../../../src/bmc/ipmi/ipmi-driver.js';
import type { BmcTarget } from '../../../src/bmc/bmc-driver.js';

type Message = 'auth-caps' | 'open-session' | 'rakp2' | 'rakp4';

interface Case {
  message: Message;
  name: string;
  mutate(b: Buffer): Buffer;
}

const PAYLOAD = 16; // payload offset in an RMCP+ datagram without OEM fields
const PAYLOAD_TYPE: Record<Exclude<Message, 'auth-caps'>, number> = {
  'open-session': SETUP_PAYLOADS.openSessionResponse,
  rakp2: SETUP_PAYLOADS.rakp2,
  rakp4: SETUP_PAYLOADS.rakp4,
};

function isMessage(m: Message, b: Buffer): boolean {
  const v = rmcpDatagram(b);
  if (m === 'auth-caps') return v.kind === 'ipmi15';
  return v.kind === 'ipmi20' && v.payloadType === PAYLOAD_TYPE[m];
}

const set = (b: Buffer, at: number, value: number): Buffer => {
  const c = Buffer.from(b);
  if (at < c.length) c[at] = value;
  return c;
};

/** Typical genuine lengths (cipher suite 3), used only to enumerate truncation points. */
const LENGTH: Record<Message, number> = { 'auth-caps': 30, 'open-session': 52, rakp2: 76, rakp4: 32 };

function casesFor(m: Message): Case[] {
  const out: Case[] = [];
  const add = (name: string, mutate: (b: Buffer) => Buffer): void => void out.push({ message: m, name: `${m}: ${name}`, mutate });
  for (let n = 0; n < LENGTH[m]; n++) add(`truncated to ${n} bytes`, (b) => Buffer.from(b.subarray(0, n)));
  add('one extra byte', (b) => Buffer.concat([b, Buffer.from([0xa5])]));
  add('100 extra bytes', (b) => Buffer.concat([b, Buffer.alloc(100, 0x5a)]));
  add('RMCP version', (b) => set(b, 0, 0x07));
  add('RMCP class ASF', (b) => set(b, 3, 0x06));
  add('RMCP class 0', (b) => set(b, 3, 0x00));
  if (m === 'auth-caps') {
    add('auth type MD5', (b) => set(b, 4, 0x02));
    add('auth type RMCP+', (b) => set(b, 4, 0x06));
    add('message length 0', (b) => set(b, 13, 0));
    add('message length short', (b) => set(b, 13, b[13] - 1));
    add('message length long', (b) => set(b, 13, b[13] + 1));
    add('message length 255', (b) => set(b, 13, 255));
    for (let i = 14; i < LENGTH[m]; i++) add(`message byte ${i - 14} inverted`, (b) => set(b, i, b[i] ^ 0xff));
    return out;
  }
  add('auth type 1.5', (b) => set(b, 4, 0x00));
  for (const t of [0x00, 0x01, 0x02, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x3f]) {
    if (t === PAYLOAD_TYPE[m]) continue;
    add(`payload type 0x${t.toString(16)}`, (b) => set(b, 5, (b[5] & 0xc0) | t));
  }
  add('authenticated bit', (b) => set(b, 5, b[5] | 0x40));
  add('encrypted bit', (b) => set(b, 5, b[5] | 0x80));
  add('session id non-zero', (b) => set(b, 6, 0x33));
  const len = (b: Buffer, v: number): Buffer => {
    const c = Buffer.from(b);
    c.writeUInt16LE(v & 0xffff, 14);
    return c;
  };
  add('payload length 0', (b) => len(b, 0));
  add('payload length 1', (b) => len(b, 1));
  add('payload length short', (b) => len(b, b.readUInt16LE(14) - 1));
  add('payload length long', (b) => len(b, b.readUInt16LE(14) + 1));
  add('payload length 0xffff', (b) => len(b, 0xffff));
  for (let i = 0; i < LENGTH[m] - PAYLOAD; i++) add(`payload byte ${i} inverted`, (b) => set(b, PAYLOAD + i, b[PAYLOAD + i] ^ 0xff));
  for (let st = 0x01; st <= 0x12; st++) add(`status 0x${st.toString(16)}`, (b) => set(b, PAYLOAD + 1, st));
  if (m === 'open-session') {
    for (let r = 0; r < 3; r++) {
      const at = PAYLOAD + 12 + r * 8;
      for (const type of [0, 1, 2, 3, 0xc0, 0xff]) if (type !== r) add(`algorithm record ${r} type ${type}`, (b) => set(b, at, type));
      add(`algorithm record ${r} length 0`, (b) => set(b, at + 3, 0));
      add(`algorithm record ${r} algorithm 0x3f`, (b) => set(b, at + 4, 0x3f));
    }
  }
  return out;
}

const ALL: Case[] = (['auth-caps', 'open-session', 'rakp2', 'rakp4'] as const).flatMap(casesFor);

/** 'once': the first matching reply of the call is corrupted; 'always': every one is. */
function interceptor(c: Case, mode: 'once' | 'always', applied: { n: number }): Interceptor {
  return (d) => {
    if (d.dir !== 'to-client' || !isMessage(c.message, d.data)) return undefined;
    if (mode === 'once' && applied.n > 0) return undefined;
    applied.n++;
    return [{ data: c.mutate(d.data) }];
  };
}

async function main(): Promise<void> {
  const mode = process.argv[2] === 'always' ? 'always' : 'once';
  const stride = Number(process.argv[3] ?? 1); // 'always' runs every stride-th case: each costs the whole retry budget
  // One sim per lane: a corrupt Open Session Response leaves a half-open session on the BMC that nobody can
  // name (about 30 s on ipmi_sim, 63 slots), so a lane whose sim runs out of slots restarts it and runs the case again.
  const lanes = 6;
  const farm = await startSimFarm({ count: lanes, maxSessions: 63 });
  const proxies: UdpProxy[] = [];
  // A driver per case: one that knows the BMC from an earlier case would skip Get Channel Authentication Capabilities.
  const drivers: IpmiDriver[] = [];
  const newDriver = (): IpmiDriver => {
    const d = new IpmiDriver({ timeoutMs: 100, retries: 3, reuseSessions: false });
    drivers.push(d);
    return d;
  };
  try {
    for (let i = 0; i < lanes; i++) proxies.push(await startUdpProxy({ host: farm.bmcs[i].host, port: farm.bmcs[i].port }));
    const cases = ALL.filter((_, i) => i % stride === 0);
    let next = 0;
    const lane = async (k: number): Promise<void> => {
      while (next < cases.length) {
        const c = cases[next++];
        const bmc = farm.bmcs[k];
        const t: BmcTarget = { host: '127.0.0.1', port: proxies[k].port, username: bmc.username, password: bmc.password, cipherSuite: 3, privilege: 'administrator' };
        let outcome = '';
        let message = '';
        let applied = { n: 0 };
        for (let run = 0; run < 2; run++) {
          applied = { n: 0 };
          proxies[k].setInterceptor(interceptor(c, mode, applied));
          try {
            outcome = await newDriver().powerStatus(t);
            message = '';
          } catch (e) {
            outcome = (e as { code?: string }).code ?? 'THROWN';
            message = (e as Error).message;
          }
          proxies[k].setInterceptor(undefined);
          if (!/insufficient resources/.test(message)) break;
          await farm.fault(k, 'restart');
        }
        process.stdout.write(`${JSON.stringify({ case: c.name, outcome, message, applied: applied.n })}\n`);
      }
    };
    await Promise.all(Array.from({ length: lanes }, (_, k) => lane(k)));
    const rejected = drivers.reduce((n, d) => n + d.stats().rejectedDatagrams, 0);
    process.stdout.write(`${JSON.stringify({ done: true, cases: cases.length, rejected })}\n`);
  } finally {
    await Promise.all(drivers.map((d) => d.close()));
    await Promise.all(proxies.map((p) => p.stop()));
    await farm.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(2);
  },
);
