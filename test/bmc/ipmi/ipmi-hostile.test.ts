// A hostile RMCP+ peer over real UDP on loopback: packets with a wrong session id, a bad HMAC, no integrity,
// replayed or far-off sequence numbers, and garbage are dropped (and counted); the session never crashes and
// never takes a forged answer; forged handshakes end in BMC_AUTH_FAILED.
import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { RackhandError } from '../../../src/errors.js';
import { IpmiSession } from '../../../src/bmc/ipmi/ipmi-session.js';
import { IpmiDriver } from '../../../src/bmc/ipmi/ipmi-driver.js';
import type { IpmiResponse } from '../../../src/bmc/ipmi/ipmi-codec.js';
import { startFakeBmc, type FakeBmc, type RespondContext } from './fake-rmcp-bmc.js';

const PASSWORD = 'hostile-test-pw';
const ON = Buffer.from([0x01, 0x00, 0x00]);
const OFF = Buffer.from([0x00, 0x00, 0x00]);
const chassis = (r: { netFn: number; cmd: number }) => (r.netFn === 0 && r.cmd === 1 ? { cc: 0, data: ON } : undefined);

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  cleanups = [];
});

async function setup(suite: number, onRespond?: (c: RespondContext) => boolean | void, extra: { corruptIcv?: boolean; password?: string } = {}): Promise<{ bmc: FakeBmc; s: IpmiSession }> {
  const bmc = await startFakeBmc({ username: 'admin', password: PASSWORD, handler: chassis, onRespond, corruptIcv: extra.corruptIcv });
  const s = new IpmiSession({ host: '127.0.0.1', port: bmc.port, username: 'admin', password: extra.password ?? PASSWORD, cipherSuite: suite, privilege: 'administrator' }, { timeoutMs: 300, retries: 2 });
  cleanups.push(() => bmc.stop(), () => s.close());
  return { bmc, s };
}

const isChassis = (c: RespondContext): boolean => c.req.netFn === 0 && c.req.cmd === 1;
const forged = (c: RespondContext): IpmiResponse => ({ ...c.resp, data: OFF });

describe.each([3, 17])('hostile peer, cipher suite %i', (suite) => {
  it('drops a wrong session id, a bad HMAC and an unauthenticated packet, then takes the genuine answer', async () => {
    const { s } = await setup(suite, (c) => {
      if (!isChassis(c)) return;
      c.send(c.packet(forged(c), { sessionId: c.session.consoleSessionId ^ 0x5a5a5a5a }));
      c.send(c.packet(forged(c), { badMac: true }));
      c.send(c.packet(forged(c), { noAuth: true }));
      c.send(c.packet(c.resp));
      return true;
    });
    await s.open();
    const r = await s.request(0x00, 0x01);
    expect(r.data[0] & 1).toBe(1);
    // At least once each (a retransmit on a loaded machine brings the forged set again).
    expect(s.stats.rejected['session-id']).toBeGreaterThanOrEqual(1);
    expect(s.stats.rejected.integrity).toBeGreaterThanOrEqual(1);
    expect(s.stats.rejected.unauthenticated).toBeGreaterThanOrEqual(1);
  });

  it('drops replayed and out-of-window sequence numbers even with a valid HMAC', async () => {
    let firstAnswer: Buffer | undefined;
    let usedSeq = 0;
    let n = 0;
    const { s } = await setup(suite, (c) => {
      if (!isChassis(c)) return;
      n++;
      if (n === 1) {
        firstAnswer = c.packet(c.resp);
        usedSeq = c.session.outSeq;
        c.send(firstAnswer);
        return true;
      }
      c.send(firstAnswer!); // literal replay of an old, valid packet
      c.send(c.packet(forged(c), { seq: usedSeq })); // current answer, reused sequence number, valid HMAC
      c.send(c.packet(forged(c), { seq: c.session.outSeq + 100_000 })); // far outside the window
      c.send(c.packet(c.resp));
      return true;
    });
    await s.open();
    expect((await s.request(0x00, 0x01)).data[0] & 1).toBe(1);
    const r = await s.request(0x00, 0x01);
    expect(r.data[0] & 1).toBe(1);
    expect(s.stats.rejected.sequence).toBeGreaterThanOrEqual(3);
  });

  it('survives garbage datagrams and, with only forged answers, fails with BMC_TIMEOUT after its retries', async () => {
    const { s } = await setup(suite, (c) => {
      if (!isChassis(c)) return;
      for (let i = 0; i < 50; i++) c.send(randomBytes(i * 3));
      c.send(c.packet(forged(c), { badMac: true }));
      return true; // never the genuine answer
    });
    await s.open();
    const sent = s.stats.sent;
    const err = await s.request(0x00, 0x01).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RackhandError);
    expect((err as RackhandError).code).toBe('BMC_TIMEOUT');
    expect(s.stats.sent - sent).toBe(3); // the request, retried twice (retries: 2), never a forged answer taken
    expect(s.stats.rejected.decode ?? 0).toBeGreaterThan(0);
    expect(s.stats.rejected.integrity ?? 0).toBeGreaterThan(0);
  });

  it('a BMC that does not know the password (RAKP 2 mismatch) → BMC_AUTH_FAILED', async () => {
    const { s } = await setup(suite, undefined, { password: 'something-else' });
    await expect(s.open()).rejects.toMatchObject({ code: 'BMC_AUTH_FAILED' });
  });

  it('a wrong RAKP 4 integrity check value → BMC_AUTH_FAILED, no session', async () => {
    const { s } = await setup(suite, undefined, { corruptIcv: true });
    await expect(s.open()).rejects.toMatchObject({ code: 'BMC_AUTH_FAILED' });
    expect(s.isActive).toBe(false);
  });

  it('the driver keeps serving after a hostile exchange', async () => {
    let hostile = true;
    const bmc = await startFakeBmc({
      username: 'admin', password: PASSWORD, handler: chassis,
      onRespond: (c) => {
        if (!isChassis(c) || !hostile) return;
        c.send(c.packet(forged(c), { badMac: true }));
        return true;
      },
    });
    const d = new IpmiDriver({ timeoutMs: 200, retries: 1 });
    cleanups.push(() => bmc.stop(), () => d.close());
    const t = { host: '127.0.0.1', port: bmc.port, username: 'admin', password: PASSWORD, cipherSuite: suite, privilege: 'administrator' as const };
    await expect(d.powerStatus(t)).rejects.toMatchObject({ code: 'BMC_TIMEOUT' });
    hostile = false;
    await expect(d.powerStatus(t)).resolves.toBe('on');
  });
});
