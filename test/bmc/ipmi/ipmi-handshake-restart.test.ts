// The RMCP+ handshake against a real ipmi_sim behind a proxy: a lost or corrupt RAKP reply restarts the handshake
// with a new Open Session instead of failing the call; only a RAKP 2 mismatch seen in two handshakes is reported
// as a wrong password.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimFarm, type SimFarm } from '../../harness/ipmi-sim.js';
import { startUdpProxy, type Interceptor, type UdpProxy } from '../../harness/udp-proxy.js';
import { SETUP_AUTH_CODE_OFFSET, SETUP_PAYLOADS, rmcpDatagram } from '../../harness/rmcp-datagram.js';
import { IpmiSession } from '../../../src/bmc/ipmi/ipmi-session.js';
import type { BmcTarget } from '../../../src/bmc/bmc-driver.js';

let farm: SimFarm;
let proxy: UdpProxy;
let sessions: IpmiSession[] = [];

beforeAll(async () => {
  farm = await startSimFarm({ count: 1, maxSessions: 63 });
  proxy = await startUdpProxy({ host: farm.bmcs[0].host, port: farm.bmcs[0].port });
});
afterAll(async () => {
  await proxy?.stop();
  await farm?.stop();
});
afterEach(async () => {
  proxy.setInterceptor(undefined);
  await Promise.all(sessions.map((s) => s.close()));
  sessions = [];
});

function session(over: Partial<BmcTarget> = {}): IpmiSession {
  const b = farm.bmcs[0];
  const s = new IpmiSession(
    { host: '127.0.0.1', port: proxy.port, username: b.username, password: b.password, cipherSuite: 3, privilege: 'administrator', ...over },
    { timeoutMs: 200, retries: 3 },
  );
  sessions.push(s);
  return s;
}

/** Applies `change` to the first n replies of this setup payload type (`seen` counts all); passes everything else. */
function firstReplies(payloadType: number, n: number, change: (b: Buffer) => Buffer | undefined): { seen: number; interceptor: Interceptor } {
  const state = { seen: 0, interceptor: undefined as unknown as Interceptor };
  state.interceptor = (d) => {
    if (d.dir !== 'to-client') return undefined;
    const v = rmcpDatagram(d.data);
    if (v.kind !== 'ipmi20' || v.payloadType !== payloadType) return undefined;
    if (state.seen++ >= n) return undefined;
    const c = change(d.data);
    return c ? [{ data: c }] : [];
  };
  return state;
}

const flipAuthCode = (payloadType: number) => (b: Buffer): Buffer => {
  const c = Buffer.from(b);
  c[16 + SETUP_AUTH_CODE_OFFSET[payloadType] + 3] ^= 0x10;
  return c;
};

async function readPower(s: IpmiSession): Promise<number> {
  await s.open();
  return (await s.command(0x00, 0x01)).readUInt8(0) & 1;
}

describe('RMCP+ handshake restarts (ipmi_sim behind a proxy)', () => {
  it('a lost RAKP 2 (the answer to RAKP 1) does not fail the call: RAKP 1 goes out again', async () => {
    const f = firstReplies(SETUP_PAYLOADS.rakp2, 1, () => undefined);
    proxy.setInterceptor(f.interceptor);
    const s = session();
    expect(await readPower(s)).toBe(1);
    expect(f.seen).toBe(2); // the dropped one and the answer to the repeat (ipmi_sim answers a repeated RAKP 1)
    expect(s.stats.handshakes).toBe(1);
  });

  it('RAKP 2 lost twice (RAKP 1 and its repeat): a new Open Session, and the call succeeds', async () => {
    const f = firstReplies(SETUP_PAYLOADS.rakp2, 2, () => undefined);
    proxy.setInterceptor(f.interceptor);
    const s = session();
    expect(await readPower(s)).toBe(1);
    expect(s.stats.handshakes).toBe(2);
  });

  it('a lost RAKP 4 (the answer to RAKP 3) restarts and the call succeeds', async () => {
    const f = firstReplies(SETUP_PAYLOADS.rakp4, 1, () => undefined);
    proxy.setInterceptor(f.interceptor);
    const s = session();
    expect(await readPower(s)).toBe(1);
    expect(s.stats.handshakes).toBe(2);
  });

  it('a flipped bit in the RAKP 2 auth code is not a wrong password: one restart, then success', async () => {
    const f = firstReplies(SETUP_PAYLOADS.rakp2, 1, flipAuthCode(SETUP_PAYLOADS.rakp2));
    proxy.setInterceptor(f.interceptor);
    const s = session();
    expect(await readPower(s)).toBe(1);
    expect(s.stats.handshakes).toBe(2);
  });

  it('a flipped bit in the RAKP 4 integrity check value: one restart, then success', async () => {
    const f = firstReplies(SETUP_PAYLOADS.rakp4, 1, flipAuthCode(SETUP_PAYLOADS.rakp4));
    proxy.setInterceptor(f.interceptor);
    const s = session();
    expect(await readPower(s)).toBe(1);
    expect(s.stats.handshakes).toBe(2);
  });

  it('a wrong password fails the same way twice: BMC_AUTH_FAILED "(wrong password?)" after exactly two handshakes', async () => {
    const s = session({ password: 'not-the-password' });
    await expect(s.open()).rejects.toMatchObject({ code: 'BMC_AUTH_FAILED', message: expect.stringMatching(/wrong password\?/) });
    expect(s.stats.handshakes).toBe(2);
  });

  it('an unknown user is BMC_AUTH_FAILED "unauthorized name", never blamed on the password', async () => {
    const s = session({ username: 'nobody' });
    const e = await s.open().then(() => undefined, (x: unknown) => x as Error & { code: string });
    expect(e).toMatchObject({ code: 'BMC_AUTH_FAILED', message: expect.stringMatching(/unauthorized name/) });
    expect(e!.message).not.toMatch(/password/);
  });

  it('every RAKP 2 lost: the handshake gives up with BMC_TIMEOUT after its restarts, not an auth failure', async () => {
    const f = firstReplies(SETUP_PAYLOADS.rakp2, Infinity, () => undefined);
    proxy.setInterceptor(f.interceptor);
    const s = session();
    await expect(s.open()).rejects.toMatchObject({ code: 'BMC_TIMEOUT' });
    expect(s.stats.handshakes).toBe(4);
  });

  it('three handshakes without an answer, then one auth-code mismatch: BMC_TIMEOUT, never "wrong password"', async () => {
    let seen = 0;
    proxy.setInterceptor((d) => {
      const v = rmcpDatagram(d.data);
      if (d.dir !== 'to-client' || v.kind !== 'ipmi20' || v.payloadType !== SETUP_PAYLOADS.rakp2) return undefined;
      seen++;
      // ipmi_sim answers RAKP 1 and its repeat: two replies per handshake. Handshakes 1-3 lose both; 4 gets a damaged one.
      if (seen <= 6) return [];
      return [{ data: flipAuthCode(SETUP_PAYLOADS.rakp2)(d.data) }];
    });
    const s = session();
    const e = await s.open().then(() => undefined, (x: unknown) => x as Error & { code: string });
    expect(s.stats.handshakes).toBe(4);
    expect(e).toMatchObject({ code: 'BMC_TIMEOUT' });
    expect(e!.message).not.toMatch(/password/);
  });

  it('our RAKP 3 damaged on the way twice (the BMC answers "invalid integrity check value"): a third handshake, success', async () => {
    let damaged = 0;
    proxy.setInterceptor((d) => {
      const v = rmcpDatagram(d.data);
      if (d.dir !== 'to-server' || v.kind !== 'ipmi20' || v.payloadType !== SETUP_PAYLOADS.rakp3 || damaged >= 2) return undefined;
      if (d.data[16 + 1] !== 0) return undefined; // our own abort notices carry a status: leave them
      damaged++;
      return [{ data: flipAuthCode(SETUP_PAYLOADS.rakp3)(d.data) }];
    });
    const s = session();
    expect(await readPower(s)).toBe(1);
    expect(damaged).toBe(2);
    expect(s.stats.handshakes).toBe(3);
  });
});

