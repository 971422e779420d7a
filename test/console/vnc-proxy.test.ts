// VncProxy over real sockets: tickets, Origin, white_ip, subprotocol, caps, timeouts, close codes, backpressure.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CLOSE } from '../../src/console/close-codes.js';
import { establishedOn, freePort, startFakeVnc, waitFor, type FakeVnc } from './console-peers.js';
import { concatReceived, connect, rawUpgrade, startProxy, type ProxyFixture } from './proxy-fixture.js';

const fakes: FakeVnc[] = [];
const fixtures: ProxyFixture[] = [];
async function fake(mode: Parameters<typeof startFakeVnc>[0], opts?: Parameters<typeof startFakeVnc>[1]) {
  const f = await startFakeVnc(mode, opts);
  fakes.push(f);
  return f;
}
async function proxyWith(opts: Parameters<typeof startProxy>[0] = {}) {
  const p = await startProxy({ handshakeTimeoutMs: 1_000, connectTimeoutMs: 1_000, ...opts });
  fixtures.push(p);
  return p;
}

/** Every socket of the fixture and its upstreams is gone (the proxy's counters and the kernel agree). */
async function expectNoLeaks(p: ProxyFixture, ...upstreams: FakeVnc[]) {
  await waitFor(async () => p.proxy.stats().activeConnections === 0 && (await p.serverConnections()) === 0, 'proxy connections to drain');
  for (const u of upstreams) await waitFor(async () => (await u.connections()) === 0, 'upstream connections to drain');
  await waitFor(() => establishedOn(p.port) === 0, 'no established sockets on the proxy port');
  for (const u of upstreams) await waitFor(() => establishedOn(u.port) === 0, 'no established sockets on the upstream port');
  expect(p.proxy.stats().pendingUpgrades).toBe(0);
}

afterEach(async () => {
  while (fixtures.length) await fixtures.pop()!.close();
  while (fakes.length) await fakes.pop()!.close();
});

describe('VncProxy', () => {
  it('relays both ways after the RFB banner and records the session end without the ticket', async () => {
    const up = await fake('echo');
    const p = await proxyWith();
    const ticket = p.authority.issue(p.grant(up.port, { sessionId: 'sess-echo', serverId: 7 }));
    const c = connect(p.wsUrl(ticket));
    expect(await c.opened).toBe(true);
    expect(c.ws.protocol).toBe('binary');
    await waitFor(() => c.receivedBytes() >= 12, 'banner');
    expect(concatReceived(c).subarray(0, 12).toString()).toBe('RFB 003.008\n');
    c.ws.send(Buffer.from('hello vnc'));
    await waitFor(() => concatReceived(c).toString().endsWith('hello vnc'), 'echo');
    expect(p.proxy.stats()).toMatchObject({ activeConnections: 1, activeSessions: 1 });
    c.ws.close(1000, 'bye');
    const end = await c.ended;
    expect(end.code).toBe(1000);
    await waitFor(() => p.ends.length === 1, 'audit record');
    expect(p.ends[0]).toMatchObject({ sessionId: 'sess-echo', serverId: 7, bytesUp: 9, bytesDown: 21, code: 1000, remoteAddress: '127.0.0.1' });
    expect(p.ends[0].ticketFingerprint).toMatch(/^[0-9a-f]{12}$/);
    expect(p.logs.join('\n')).not.toContain(ticket);
    expect(p.logs.join('\n')).toContain(p.ends[0].ticketFingerprint);
    await expectNoLeaks(p, up);
  });

  it('refuses a ticket used twice, an unknown one and a missing one with 4401', async () => {
    const up = await fake('echo');
    const p = await proxyWith();
    const ticket = p.authority.issue(p.grant(up.port));
    const first = connect(p.wsUrl(ticket));
    expect(await first.opened).toBe(true);
    const second = connect(p.wsUrl(ticket));
    expect(await second.ended).toMatchObject({ code: CONSOLE_CLOSE.TICKET_REFUSED });
    const unknown = connect(p.wsUrl('A'.repeat(43)));
    expect((await unknown.ended).code).toBe(CONSOLE_CLOSE.TICKET_REFUSED);
    const missing = connect(`ws://127.0.0.1:${p.port}/console/ws`);
    expect((await missing.ended).code).toBe(CONSOLE_CLOSE.TICKET_REFUSED);
    first.ws.close();
    await first.ended;
    expect(p.logs.join('\n')).not.toContain(ticket);
    await expectNoLeaks(p, up);
  });

  it('enforces white_ip (addresses and CIDR)', async () => {
    const up = await fake('echo');
    const p = await proxyWith();
    const denied = connect(p.wsUrl(p.authority.issue(p.grant(up.port, { allowedIps: ['10.9.9.9', '192.168.0.0/16'] }))));
    expect(await denied.ended).toMatchObject({ code: CONSOLE_CLOSE.ADDRESS_NOT_ALLOWED });
    const allowed = connect(p.wsUrl(p.authority.issue(p.grant(up.port, { allowedIps: ['10.9.9.9', '127.0.0.0/8'] }))));
    expect(await allowed.opened).toBe(true);
    allowed.ws.close();
    await allowed.ended;
    await expectNoLeaks(p, up);
  });

  it('refuses a foreign Origin before touching the ticket, accepts same-origin and listed origins', async () => {
    const up = await fake('echo');
    const p = await proxyWith({ allowedOrigins: ['https://panel.example.net'] });
    const ticket = p.authority.issue(p.grant(up.port));
    const foreign = connect(p.wsUrl(ticket), { origin: 'https://evil.example.com' });
    expect(await foreign.ended).toMatchObject({ httpStatus: 403 });
    expect(p.authority.attempts).toHaveLength(0);
    const same = connect(p.wsUrl(ticket), { origin: `http://127.0.0.1:${p.port}` });
    expect(await same.opened).toBe(true);
    const listed = connect(p.wsUrl(p.authority.issue(p.grant(up.port))), { origin: 'https://panel.example.net' });
    expect(await listed.opened).toBe(true);
    const otherPort = connect(p.wsUrl(p.authority.issue(p.grant(up.port))), { origin: `http://127.0.0.1:${p.port + 1}` });
    expect((await otherPort.ended).httpStatus).toBe(403);
    same.ws.close();
    listed.ws.close();
    await Promise.all([same.ended, listed.ended]);
    expect(p.proxy.stats().closes.http_403).toBe(2);
    await expectNoLeaks(p, up);
  });

  it('speaks only the binary subprotocol (or none)', async () => {
    const up = await fake('echo');
    const p = await proxyWith();
    const wrong = connect(p.wsUrl(p.authority.issue(p.grant(up.port))), { protocols: ['base64'] });
    expect((await wrong.ended).httpStatus).toBe(400);
    const none = connect(p.wsUrl(p.authority.issue(p.grant(up.port))), { protocols: [] });
    expect(await none.opened).toBe(true);
    expect(none.ws.protocol).toBe('');
    const both = connect(p.wsUrl(p.authority.issue(p.grant(up.port))), { protocols: ['base64', 'binary'] });
    expect(await both.opened).toBe(true);
    expect(both.ws.protocol).toBe('binary');
    none.ws.close();
    both.ws.close();
    await Promise.all([none.ended, both.ended]);
    await expectNoLeaks(p, up);
  });

  it('caps connections per server and in total (4429); several viewers share a session', async () => {
    const up = await fake('echo');
    const p = await proxyWith({ maxConnectionsPerServer: 2, maxConnectionsTotal: 3 });
    const g = p.grant(up.port, { sessionId: 'shared', serverId: 1 });
    const a = connect(p.wsUrl(p.authority.issue(g)));
    const b = connect(p.wsUrl(p.authority.issue(g)));
    expect(await a.opened).toBe(true);
    expect(await b.opened).toBe(true);
    const c = connect(p.wsUrl(p.authority.issue(g)));
    expect((await c.ended).code).toBe(CONSOLE_CLOSE.TOO_MANY_SESSIONS);
    const other = connect(p.wsUrl(p.authority.issue(p.grant(up.port, { serverId: 2 }))));
    expect(await other.opened).toBe(true);
    const overTotal = connect(p.wsUrl(p.authority.issue(p.grant(up.port, { serverId: 3 }))));
    expect((await overTotal.ended).code).toBe(CONSOLE_CLOSE.TOO_MANY_SESSIONS);
    expect(p.proxy.stats()).toMatchObject({ activeConnections: 3, activeSessions: 2 });
    // stop_novnc: both viewers of the shared session go, the other session stays.
    expect(p.proxy.closeSession('shared')).toBe(2);
    expect(await a.ended).toMatchObject({ code: CONSOLE_CLOSE.SESSION_STOPPED });
    expect(await b.ended).toMatchObject({ code: CONSOLE_CLOSE.SESSION_STOPPED });
    expect(other.ws.readyState).toBe(other.ws.OPEN);
    expect(p.proxy.closeSession('shared')).toBe(0);
    other.ws.close();
    await other.ended;
    await waitFor(() => p.ends.length === 3, 'three audit records');
    expect(p.ends.filter((e) => e.code === CONSOLE_CLOSE.SESSION_STOPPED)).toHaveLength(2);
    await expectNoLeaks(p, up);
  });

  it('reports an unreachable, a silent (frozen) and a non-VNC upstream with distinct codes', async () => {
    const silent = await fake('silent');
    const httpish = await fake('http');
    const p = await proxyWith({ handshakeTimeoutMs: 500 });
    const closedPort = await freePort();
    const refused = connect(p.wsUrl(p.authority.issue(p.grant(closedPort))));
    expect(await refused.ended).toMatchObject({ code: CONSOLE_CLOSE.UPSTREAM_UNREACHABLE });
    const frozen = connect(p.wsUrl(p.authority.issue(p.grant(silent.port))));
    expect(await frozen.opened).toBe(true);
    const f = await frozen.ended;
    expect(f.code).toBe(CONSOLE_CLOSE.UPSTREAM_TIMEOUT);
    expect(f.reason).toMatch(/RFB greeting/);
    const notVnc = connect(p.wsUrl(p.authority.issue(p.grant(httpish.port))));
    expect((await notVnc.ended).code).toBe(CONSOLE_CLOSE.UPSTREAM_PROTOCOL);
    await expectNoLeaks(p, silent, httpish);
  });

  it('closes idle connections (4001)', async () => {
    const up = await fake('echo');
    const p = await proxyWith({ idleTimeoutMs: 400 });
    const c = connect(p.wsUrl(p.authority.issue(p.grant(up.port))));
    expect(await c.opened).toBe(true);
    expect((await c.ended).code).toBe(CONSOLE_CLOSE.IDLE_TIMEOUT);
    await expectNoLeaks(p, up);
  });

  it('drops a browser that stops answering pings (4004)', async () => {
    const up = await fake('echo');
    const p = await proxyWith({ pingIntervalMs: 200 });
    const c = connect(p.wsUrl(p.authority.issue(p.grant(up.port))));
    expect(await c.opened).toBe(true);
    // Freezing the client's socket reads means no pong is ever produced.
    (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await waitFor(() => p.ends.length === 1, 'proxy to give up on the client');
    expect(p.ends[0].code).toBe(CONSOLE_CLOSE.CLIENT_UNRESPONSIVE);
    c.ws.terminate();
    await expectNoLeaks(p, up);
  });

  it('closes on text frames (1003) and oversized frames (1009)', async () => {
    const up = await fake('echo');
    const p = await proxyWith({ maxPayload: 4096 });
    const text = connect(p.wsUrl(p.authority.issue(p.grant(up.port))));
    expect(await text.opened).toBe(true);
    await waitFor(() => text.receivedBytes() >= 12, 'banner');
    text.ws.send('hello', { binary: false });
    expect((await text.ended).code).toBe(1003);
    const big = connect(p.wsUrl(p.authority.issue(p.grant(up.port))));
    expect(await big.opened).toBe(true);
    big.ws.send(Buffer.alloc(5000, 1));
    expect((await big.ended).code).toBe(1009);
    await expectNoLeaks(p, up);
    // The audit records carry the code the proxy closed with, not the browser's echo.
    expect(p.ends.map((e) => e.code).sort()).toEqual([1003, 1009]);
  });

  it('closes on an unmasked frame (1002) and records why', async () => {
    const up = await fake('echo');
    const p = await proxyWith();
    const ticket = p.authority.issue(p.grant(up.port));
    const raw = await rawUpgrade(p.port, `/console/ws?ticket=${ticket}`);
    expect(raw.status).toBe(101);
    await waitFor(() => raw.received().length >= 2 + 12, 'banner frame');
    raw.socket.write(Buffer.from([0x82, 0x03, 1, 2, 3])); // client frames must be masked
    await waitFor(() => p.ends.length === 1, 'audit record');
    expect(p.ends[0].code).toBe(1002);
    // The proxy's close frame follows the banner frame: opcode 8, status 1002.
    const bytes = raw.received();
    const close = bytes.subarray(2 + 12);
    expect(close[0]).toBe(0x88);
    expect(close.readUInt16BE(2)).toBe(1002);
    raw.socket.destroy();
    await expectNoLeaks(p, up);
  });

  it('answers a broken handshake with 400 and gives the reserved slot back', async () => {
    const up = await fake('echo');
    const p = await proxyWith({ maxConnectionsPerServer: 1 });
    const bad = await rawUpgrade(p.port, `/console/ws?ticket=${p.authority.issue(p.grant(up.port, { serverId: 5 }))}`, { key: 'not-a-key' });
    expect(bad.status).toBe(400);
    bad.socket.destroy();
    await waitFor(() => p.proxy.stats().closes.http_400 === 1, 'the refusal to be counted');
    // The only slot of server 5 is free again: the next viewer is relayed, not refused with 4429.
    const good = connect(p.wsUrl(p.authority.issue(p.grant(up.port, { serverId: 5 }))));
    expect(await good.opened).toBe(true);
    await waitFor(() => good.receivedBytes() >= 12 || p.ends.length > 0, 'banner or refusal');
    expect(p.proxy.stats().closes[CONSOLE_CLOSE.TOO_MANY_SESSIONS]).toBeUndefined();
    expect(concatReceived(good).subarray(0, 12).toString()).toBe('RFB 003.008\n');
    good.ws.close();
    await good.ended;
    await expectNoLeaks(p, up);
  });

  it('tells the browser when the VNC server drops (4002) and the upstream when the browser vanishes', async () => {
    const up = await fake('flood');
    const p = await proxyWith();
    const a = connect(p.wsUrl(p.authority.issue(p.grant(up.port))));
    expect(await a.opened).toBe(true);
    await waitFor(() => a.receivedBytes() > 1_000_000, 'flood to arrive');
    for (const s of up.sockets) s.destroy();
    expect((await a.ended).code).toBe(CONSOLE_CLOSE.UPSTREAM_CLOSED);

    const b = connect(p.wsUrl(p.authority.issue(p.grant(up.port))));
    expect(await b.opened).toBe(true);
    await waitFor(() => b.receivedBytes() > 1_000_000, 'flood to arrive');
    b.ws.terminate(); // no close frame: a crashed browser
    await waitFor(() => up.sockets.size === 0, 'upstream socket closed');
    await expectNoLeaks(p, up);
  });

  it('pauses the VNC server when the browser does not read (download backpressure)', async () => {
    const up = await fake('flood');
    const p = await proxyWith({ highWaterMark: 256 * 1024 });
    const c = connect(p.wsUrl(p.authority.issue(p.grant(up.port))));
    expect(await c.opened).toBe(true);
    await waitFor(() => c.receivedBytes() > 1_000_000, 'flood to arrive');
    c.ws.pause();
    // Once every buffer on the way is full the flood stops: written stays put.
    let last = -1;
    await waitFor(async () => {
      const w = up.counters.written;
      const settled = w === last;
      last = w;
      await new Promise((r) => setTimeout(r, 300));
      return settled;
    }, 'flood to stall', 20_000, 0);
    const stalledAt = up.counters.written;
    expect(stalledAt - c.receivedBytes()).toBeLessThan(64 * 1024 * 1024);
    c.ws.resume();
    await waitFor(() => up.counters.written > stalledAt + 4 * 1024 * 1024, 'flood to resume');
    c.ws.terminate();
    await expectNoLeaks(p, up);
  });

  it('pauses the browser when the VNC server does not read (upload backpressure)', async () => {
    const up = await fake('sink', { readPaused: true });
    const p = await proxyWith({ maxPayload: 256 * 1024 });
    const c = connect(p.wsUrl(p.authority.issue(p.grant(up.port))));
    expect(await c.opened).toBe(true);
    await waitFor(() => c.receivedBytes() >= 12, 'banner');
    const chunk = Buffer.alloc(64 * 1024, 7);
    let stop = false;
    const pump = () => {
      while (!stop && c.ws.readyState === c.ws.OPEN && c.ws.bufferedAmount < 8 * 1024 * 1024) c.ws.send(chunk);
      if (!stop) setTimeout(pump, 20);
    };
    pump();
    let last = -1;
    await waitFor(async () => {
      const n = p.proxy.stats().bytesUp;
      const settled = n === last && n > 0;
      last = n;
      await new Promise((r) => setTimeout(r, 300));
      return settled;
    }, 'upload to stall', 20_000, 0);
    const stalledAt = p.proxy.stats().bytesUp;
    expect(stalledAt).toBeLessThan(64 * 1024 * 1024);
    for (const s of up.sockets) s.resume();
    await waitFor(() => p.proxy.stats().bytesUp > stalledAt + 4 * 1024 * 1024, 'upload to resume');
    stop = true;
    c.ws.terminate();
    await expectNoLeaks(p, up);
  });

  it('closes every viewer with 4003 on shutdown and refuses new upgrades', async () => {
    const up = await fake('echo');
    const p = await proxyWith();
    const c = connect(p.wsUrl(p.authority.issue(p.grant(up.port))));
    expect(await c.opened).toBe(true);
    await p.proxy.close();
    expect((await c.ended).code).toBe(CONSOLE_CLOSE.PROXY_SHUTDOWN);
    const late = connect(p.wsUrl(p.authority.issue(p.grant(up.port))));
    // Detached: the server has no upgrade listener left, so node drops the request.
    expect((await late.ended).code).toBe(1006);
    await expectNoLeaks(p, up);
  });

  it('gives the ticket authority a bounded time and reports its failure as 4500', async () => {
    const up = await fake('echo');
    const p = await proxyWith({
      redeemTimeoutMs: 200,
      authority: { redeem: (t) => (t.startsWith('slow') ? new Promise(() => {}) : Promise.reject(new Error('db down'))) },
    });
    const slow = connect(p.wsUrl('slow' + 'x'.repeat(40)));
    expect((await slow.ended).code).toBe(CONSOLE_CLOSE.INTERNAL);
    const broken = connect(p.wsUrl('b'.repeat(43)));
    expect((await broken.ended).code).toBe(CONSOLE_CLOSE.INTERNAL);
    await expectNoLeaks(p, up);
  });
});

describe('VncProxy other paths', () => {
  let p: ProxyFixture;
  beforeAll(async () => {
    p = await startProxy();
  });
  afterAll(async () => {
    await p.close();
  });
  it('answers 404 to upgrades for other paths when it is the only listener', async () => {
    const c = connect(`ws://127.0.0.1:${p.port}/elsewhere`);
    expect((await c.ended).httpStatus).toBe(404);
  });
});
