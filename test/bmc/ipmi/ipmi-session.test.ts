// Session mechanics against the loopback fake BMC: retransmits, no-answer classification, keepalive, idle close,
// Close Session, error-code mapping.
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { IpmiSession } from '../../../src/bmc/ipmi/ipmi-session.js';
import { IpmiDriver } from '../../../src/bmc/ipmi/ipmi-driver.js';
import { completionCodeError } from '../../../src/bmc/ipmi-commands/completion-codes.js';
import { rmcpStatusError } from '../../../src/bmc/ipmi/rmcp-status.js';
import { startFakeBmc } from './fake-rmcp-bmc.js';

const PW = 'session-test-pw';
const on = (r: { netFn: number; cmd: number }) =>
  r.netFn === 0 && r.cmd === 1 ? { cc: 0, data: Buffer.from([1, 0, 0]) } : r.netFn === 6 && r.cmd === 1 ? { cc: 0, data: Buffer.from('0003090802 9f 9112 00 020f'.replace(/ /g, ''), 'hex') } : undefined;

let cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  cleanups = [];
});

const tgt = (port: number, suite = 3) => ({ host: '127.0.0.1', port, username: 'admin', password: PW, cipherSuite: suite, privilege: 'administrator' as const });

describe('IpmiSession', () => {
  it('retransmits a lost request with a fresh sequence number and succeeds', async () => {
    let dropped = 0;
    const bmc = await startFakeBmc({ username: 'admin', password: PW, handler: on, onRespond: (c) => c.req.netFn === 0 && c.req.cmd === 1 && dropped++ < 2 });
    const s = new IpmiSession(tgt(bmc.port), { timeoutMs: 150, retries: 3 });
    cleanups.push(() => bmc.stop(), () => s.close());
    await s.open();
    const r = await s.request(0, 1);
    expect(r.data[0] & 1).toBe(1);
    expect(s.stats.retransmits).toBe(2);
    expect(bmc.rejected).toEqual([]); // every retransmit carried a valid HMAC and a new sequence number
  });

  it('nothing listening → BMC_UNREACHABLE after its retries, and no more', async () => {
    const hole = dgram.createSocket('udp4');
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
    const port = hole.address().port;
    hole.close(); // the port is now closed: ICMP unreachable / silence
    const s = new IpmiSession(tgt(port), { timeoutMs: 100, retries: 2 });
    await expect(s.open()).rejects.toMatchObject({ code: 'BMC_UNREACHABLE' });
    // Get Channel Authentication Capabilities, sent 1 + 2 times; nothing after it without an answer.
    expect(s.stats.sent).toBe(3);
    expect(s.stats.handshakes).toBe(0);
  });

  it('skipCapabilities (a BMC known to do RMCP+): Open Session goes out first, nothing before it', async () => {
    const bmc = await startFakeBmc({ username: 'admin', password: PW, handler: on });
    const s = new IpmiSession(tgt(bmc.port), { timeoutMs: 200, retries: 1 });
    cleanups.push(() => bmc.stop(), () => s.close());
    await s.open({ privilege: 'user', skipCapabilities: true });
    expect(s.stats.sent).toBe(3); // Open Session, RAKP 1, RAKP 3
    expect(s.authCapabilities).toBeUndefined();
    expect((await s.request(0, 1)).data[0] & 1).toBe(1);
  });

  it('skipCapabilities and nothing listening: the capabilities are asked after the silent Open Session → BMC_UNREACHABLE', async () => {
    const hole = dgram.createSocket('udp4');
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
    const port = hole.address().port;
    hole.close();
    const s = new IpmiSession(tgt(port), { timeoutMs: 100, retries: 2 });
    await expect(s.open({ skipCapabilities: true })).rejects.toMatchObject({ code: 'BMC_UNREACHABLE' });
    expect(s.stats.sent).toBe(1 + 3); // one Open Session, then Get Channel Authentication Capabilities 1 + 2 times
    expect(s.stats.handshakes).toBe(1);
  });

  it('a BMC that stops answering mid-session → BMC_TIMEOUT', async () => {
    let silent = false;
    const bmc = await startFakeBmc({ username: 'admin', password: PW, handler: on, onRespond: () => silent });
    const s = new IpmiSession(tgt(bmc.port), { timeoutMs: 100, retries: 1 });
    cleanups.push(() => bmc.stop(), () => s.close());
    await s.open();
    silent = true;
    await expect(s.request(0, 1)).rejects.toMatchObject({ code: 'BMC_TIMEOUT' });
    expect(s.isActive).toBe(false); // marked broken: the driver will open a new one
  });

  it('sends Close Session on close()', async () => {
    const bmc = await startFakeBmc({ username: 'admin', password: PW, handler: on });
    const s = new IpmiSession(tgt(bmc.port, 17), { timeoutMs: 200, retries: 1 });
    cleanups.push(() => bmc.stop());
    await s.open();
    const id = s.idBmc;
    await s.close();
    expect(bmc.requests.at(-1)).toMatchObject({ netFn: 6, cmd: 0x3c });
    expect(bmc.requests.at(-1)!.data.readUInt32LE(0)).toBe(id);
    expect(bmc.requests.some((r) => r.netFn === 6 && r.cmd === 0x3b && r.data[0] === 4)).toBe(true); // Set Session Privilege: admin
  });
});

describe('IpmiDriver session reuse', () => {
  it('keeps an idle reused session alive, then closes it after idleCloseMs', async () => {
    const bmc = await startFakeBmc({ username: 'admin', password: PW, handler: on });
    const d = new IpmiDriver({ timeoutMs: 200, retries: 1, keepaliveMs: 100, idleCloseMs: 5_000 });
    cleanups.push(() => bmc.stop(), () => d.close());
    expect(await d.powerStatus(tgt(bmc.port))).toBe('on');
    const n = bmc.requests.length;
    await expect.poll(() => bmc.requests.slice(n).filter((r) => r.netFn === 6 && r.cmd === 1).length).toBeGreaterThanOrEqual(2);
    expect(d.sessionIds()).toHaveLength(1);
    expect(await d.powerStatus(tgt(bmc.port))).toBe('on');
    expect(bmc.requests.filter((r) => r.cmd === 0x3b)).toHaveLength(1); // still the first session
  });

  it('closes sessions nobody used for idleCloseMs', async () => {
    const bmc = await startFakeBmc({ username: 'admin', password: PW, handler: on });
    const d = new IpmiDriver({ timeoutMs: 200, retries: 1, keepaliveMs: 10_000, idleCloseMs: 200 });
    cleanups.push(() => bmc.stop(), () => d.close());
    await d.powerStatus(tgt(bmc.port));
    const deadline = Date.now() + 10_000;
    // sessionIds() empties when the close starts; the fake BMC sees the Close Session a loop turn later.
    const closed = (): boolean => bmc.requests.at(-1)?.netFn === 6 && bmc.requests.at(-1)?.cmd === 0x3c;
    while ((d.sessionIds().length > 0 || !closed()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(d.sessionIds()).toHaveLength(0);
    expect(bmc.requests.at(-1)).toMatchObject({ netFn: 6, cmd: 0x3c });
  });

  it('concurrent operations on one target share one session, one at a time', async () => {
    const bmc = await startFakeBmc({ username: 'admin', password: PW, handler: on });
    const d = new IpmiDriver({ timeoutMs: 200, retries: 1 });
    cleanups.push(() => bmc.stop(), () => d.close());
    const res = await Promise.all(Array.from({ length: 8 }, () => d.powerStatus(tgt(bmc.port))));
    expect(res).toEqual(Array(8).fill('on'));
    expect(bmc.requests.filter((r) => r.cmd === 0x3b)).toHaveLength(1);
    expect(d.sessionIds()).toHaveLength(1);
    await d.close();
    expect(bmc.sessions.size).toBe(0); // closed on the BMC too
  });

  it('without reuse every call opens and closes its own session; none leak', async () => {
    const bmc = await startFakeBmc({ username: 'admin', password: PW, handler: on });
    const d = new IpmiDriver({ timeoutMs: 200, retries: 1, reuseSessions: false });
    cleanups.push(() => bmc.stop(), () => d.close());
    await Promise.all(Array.from({ length: 5 }, () => d.powerStatus(tgt(bmc.port))));
    // The last Close Session may still be on its way: the caller has its answer before it.
    await expect.poll(() => bmc.requests.filter((r) => r.cmd === 0x3c)).toHaveLength(5);
    expect(bmc.sessions.size).toBe(0);
    expect(d.sessionIds()).toHaveLength(0);
  });

  it('rejects invalid input before touching the BMC', async () => {
    const d = new IpmiDriver();
    cleanups.push(() => d.close());
    const t = tgt(9);
    await expect(d.addUser(t, { name: 'this-name-is-way-too-long', password: 'x', privilege: 'user' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(d.addUser(t, { name: 'ok', password: 'x'.repeat(21), privilege: 'user' })).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(d.power(t, 'explode' as never)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });
});

describe('round trips a read-only session can skip', () => {
  const until = async (cond: () => boolean): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  };

  it('a session opened for User asks for role User in RAKP 1 and sends no Set Session Privilege Level', async () => {
    const roles: number[] = [];
    const bmc = await startFakeBmc({ username: 'admin', password: PW, handler: on, onRespond: (c) => void roles.push(c.session.ctx.role) });
    const s = new IpmiSession(tgt(bmc.port), { timeoutMs: 200, retries: 1 });
    cleanups.push(() => bmc.stop(), () => s.close());
    await s.open({ privilege: 'user' });
    expect(s.privilegeLevel).toBe(2);
    expect((await s.request(0, 1)).data[0] & 1).toBe(1);
    expect(roles).toEqual([0x12]); // User, name-only lookup
    expect(bmc.requests.map((r) => r.cmd)).toEqual([0x01]);
  });

  it('the default open still raises the session to the target privilege', async () => {
    const bmc = await startFakeBmc({ username: 'admin', password: PW, handler: on });
    const s = new IpmiSession(tgt(bmc.port), { timeoutMs: 200, retries: 1 });
    cleanups.push(() => bmc.stop(), () => s.close());
    await s.open();
    expect(s.privilegeLevel).toBe(4);
    expect(bmc.requests.filter((r) => r.cmd === 0x3b).map((r) => r.data[0])).toEqual([4]);
  });

  it('Close Session ends on its answer recognised by the session id alone: one request, the answer not verified', async () => {
    // This BMC answers Close Session with a broken HMAC: a close that verified the answer would retransmit and wait
    // out its timeouts (a minute here) for an answer it never uses.
    const bmc = await startFakeBmc({
      username: 'admin', password: PW, handler: on,
      onRespond: (c) => (c.req.cmd === 0x3c ? (c.send(c.packet(c.resp, { badMac: true })), true) : false),
    });
    const s = new IpmiSession(tgt(bmc.port), { timeoutMs: 30_000, retries: 3 });
    cleanups.push(() => bmc.stop());
    await s.open({ privilege: 'user' });
    const id = s.idBmc;
    const sent = s.stats.sent;
    await s.close();
    expect(s.stats.sent).toBe(sent + 1);
    expect(s.stats.rejected).toEqual({});
    expect(s.isActive).toBe(false);
    const closes = bmc.requests.filter((r) => r.netFn === 6 && r.cmd === 0x3c);
    expect(closes).toHaveLength(1);
    expect(closes[0].data.readUInt32LE(0)).toBe(id);
    expect(bmc.sessions.size).toBe(0);
  }, 10_000);

  it('without session reuse: reads at User, every session closed, calls to one target never run at once', async () => {
    let concurrent = 0;
    const bmc = await startFakeBmc({ username: 'admin', password: PW, handler: on, onRespond: (c) => void (concurrent = Math.max(concurrent, bmc.sessions.size)) });
    const other = await startFakeBmc({ username: 'admin', password: PW, handler: on });
    const d = new IpmiDriver({ timeoutMs: 200, retries: 1, reuseSessions: false });
    cleanups.push(() => bmc.stop(), () => other.stop(), () => d.close());
    const res = await Promise.all([tgt(bmc.port), tgt(other.port), tgt(bmc.port), tgt(bmc.port, 17)].map((t) => d.powerStatus(t)));
    expect(res).toEqual(['on', 'on', 'on', 'on']);
    await until(() => bmc.sessions.size === 0 && other.sessions.size === 0);
    expect(bmc.sessions.size).toBe(0);
    expect(other.sessions.size).toBe(0);
    expect(bmc.requests.filter((r) => r.cmd === 0x3c)).toHaveLength(3);
    expect([...bmc.requests, ...other.requests].some((r) => r.cmd === 0x3b)).toBe(false);
    expect(concurrent).toBe(1);
    expect(bmc.rejected).toEqual([]);
  });

  it('a driver without session reuse reads at User but raises privilege for power control', async () => {
    const bmc = await startFakeBmc({ username: 'admin', password: PW, handler: (r) => on(r) ?? (r.netFn === 0 && r.cmd === 2 ? { cc: 0 } : undefined) });
    const d = new IpmiDriver({ timeoutMs: 200, retries: 1, reuseSessions: false });
    cleanups.push(() => bmc.stop(), () => d.close());
    expect(await d.powerStatus(tgt(bmc.port))).toBe('on');
    expect(bmc.requests.some((r) => r.cmd === 0x3b)).toBe(false);
    await d.power(tgt(bmc.port), 'on');
    expect(bmc.requests.filter((r) => r.cmd === 0x3b).map((r) => r.data[0])).toEqual([4]);
    await expect.poll(() => bmc.requests.filter((r) => r.cmd === 0x3c)).toHaveLength(2);
  });
});

describe('error mapping', () => {
  it.each([
    [0xc0, 'BMC_BUSY'], [0xc1, 'BMC_UNSUPPORTED'], [0xc3, 'BMC_TIMEOUT'], [0xd4, 'BMC_AUTH_FAILED'], [0xff, 'BMC_ERROR'], [0xcc, 'BMC_ERROR'],
  ])('completion code 0x%s → %s', (cc, code) => {
    const e = completionCodeError(cc, 'x');
    expect(e.code).toBe(code);
    expect(e.details?.completionCode).toBe(cc);
  });
  it.each([
    [0x01, 'BMC_BUSY'], [0x0b, 'BMC_BUSY'], [0x0d, 'BMC_AUTH_FAILED'], [0x0f, 'BMC_AUTH_FAILED'], [0x11, 'BMC_UNSUPPORTED'], [0x02, 'BMC_ERROR'],
  ])('RMCP+ status 0x%s → %s', (st, code) => {
    expect(rmcpStatusError(st, 'x').code).toBe(code);
  });
});
