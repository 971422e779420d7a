// Images to booting hosts over real sockets: the boot route's sendfile path (whole files, Range, keep-alive, clients
// that leave mid-transfer), the native sender itself, and the read-stream path TLS needs; curl is the client.

import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { bootRoutes } from '../../src/boot/http/boot-routes.js';
import { createLogger } from '../../src/log.js';
import { fileSender, tcpCongestionControlProblem } from '../../src/native/file-sender.js';

const MIB = 1 << 20;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rh-image-streaming-'));
const imagesDir = path.join(dir, 'images');
const data = randomBytes(32 * MIB);
const logLines: { msg: string; reason?: string; err?: string }[] = [];
const log = createLogger({
  level: 'debug',
  destination: new Writable({
    write(chunk, _enc, cb) {
      logLines.push(JSON.parse(String(chunk)));
      cb();
    },
  }),
});

function app(imageCongestionControl?: string): express.Express {
  const a = express();
  // The images route reads nothing but the images directory.
  a.use(bootRoutes({ content: {} as never, reports: {} as never, imagesDir, bootFile: () => undefined, log, imageCongestionControl }).router);
  return a;
}

async function listen(server: http.Server | https.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return `${server instanceof https.Server ? 'https' : 'http'}://127.0.0.1:${port}/boot/images/disk/disk.raw`;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** One download with curl (asynchronous: the server answers from this process): status, headers and body. */
async function curl(url: string, extra: string[] = []): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  const out = path.join(dir, `curl-${process.hrtime.bigint()}`);
  const headerText = await new Promise<string>((resolve, reject) =>
    execFile('curl', ['-s', '-k', '-D', '-', '-o', out, ...extra, url], { encoding: 'latin1', maxBuffer: 1 << 20 }, (e, stdout) => (e ? reject(e) : resolve(stdout))),
  );
  const lines = headerText.trim().split('\r\n');
  const headers = Object.fromEntries(lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  const body = fs.existsSync(out) ? fs.readFileSync(out) : Buffer.alloc(0);
  fs.rmSync(out, { force: true });
  return { status: Number(lines[0].split(' ')[1]), headers, body };
}

const openDescriptors = () => fs.readdirSync('/proc/self/fd').length;

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`never happened: ${what}`);
}

/** A raw client that asks for the whole image and reads `readBytes` of the response, then stops reading. */
async function partialClient(url: string, readBytes: number): Promise<net.Socket> {
  const { port, protocol } = new URL(url);
  const sock = protocol === 'https:' ? tls.connect({ port: Number(port), host: '127.0.0.1', rejectUnauthorized: false }) : net.connect(Number(port), '127.0.0.1');
  await new Promise((r) => sock.once(protocol === 'https:' ? 'secureConnect' : 'connect', r));
  sock.write(`GET ${new URL(url).pathname} HTTP/1.1\r\nHost: x\r\n\r\n`);
  let got = 0;
  await new Promise<void>((resolve) => {
    const onData = (b: Buffer) => {
      got += b.length;
      if (got >= readBytes) {
        sock.off('data', onData);
        sock.pause();
        resolve();
      }
    };
    sock.on('data', onData);
  });
  return sock;
}

beforeAll(() => {
  fs.mkdirSync(path.join(imagesDir, 'disk'), { recursive: true });
  fs.writeFileSync(path.join(imagesDir, 'disk', 'disk.raw'), data);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the boot images route, through sendfile', () => {
  const server = http.createServer(app());
  let url = '';
  beforeAll(async () => {
    url = await listen(server);
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('the native sender is there (npm run build:native built it)', () => {
    expect(fileSender()).toBeDefined();
  });

  it('a whole image arrives byte-exact, sent by the native sender (never streamed through JavaScript)', async () => {
    const send = vi.spyOn(fileSender()!, 'send');
    const r = await curl(url);
    const ranged = await curl(url, ['-r', '100-']);
    const calls = send.mock.calls.map((c) => c.slice(2, 4));
    send.mockRestore();
    expect(calls).toEqual([
      [0, data.length],
      [100, data.length - 100],
    ]);
    expect(ranged.body.equals(data.subarray(100))).toBe(true);
    expect(r.status).toBe(200);
    expect(r.headers['content-length']).toBe(String(data.length));
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(sha(r.body)).toBe(sha(data));
    expect(logLines.filter((l) => /JavaScript/.test(l.msg))).toEqual([]);
  });

  it('image bodies go with the configured congestion control (boot.imageCongestionControl), else the system\'s', async () => {
    const other = http.createServer(app('reno'));
    const otherUrl = await listen(other);
    const send = vi.spyOn(fileSender()!, 'send');
    const r = await curl(otherUrl);
    await curl(url);
    const asked = send.mock.calls.map((c) => c[5]);
    send.mockRestore();
    await new Promise((res) => other.close(res));
    expect(sha(r.body)).toBe(sha(data));
    expect(asked).toEqual(['reno', '']);
  });

  it.each([
    ['0-0', 0, 0],
    ['1000-2999', 1000, 2999],
    ['-4096', data.length - 4096, data.length - 1],
    [`${data.length - 10}-`, data.length - 10, data.length - 1],
    ['5000-99999999999', 5000, data.length - 1],
  ])('Range %s gets exactly those bytes (206)', async (range, start, end) => {
    const r = await curl(url, ['-r', range]);
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes ${start}-${end}/${data.length}`);
    expect(r.body.equals(data.subarray(start, end + 1))).toBe(true);
  });

  it('HEAD has the head and no body; an unsatisfiable range is 416; a stale If-Range gets the whole file; a fresh ETag 304', async () => {
    const h = await fetch(url, { method: 'HEAD' });
    expect(h.status).toBe(200);
    expect(h.headers.get('content-length')).toBe(String(data.length));
    expect((await h.arrayBuffer()).byteLength).toBe(0);
    const etag = h.headers.get('etag')!;

    const beyond = await fetch(url, { headers: { range: `bytes=${data.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${data.length}`);
    await beyond.arrayBuffer();

    const stale = await curl(url, ['-r', '0-99', '-H', 'If-Range: W/"0-0"']);
    expect(stale.status).toBe(200);
    expect(sha(stale.body)).toBe(sha(data));
    const current = await curl(url, ['-r', '0-99', '-H', `If-Range: ${etag}`]);
    expect(current.status).toBe(206);
    expect(current.body.equals(data.subarray(0, 100))).toBe(true);

    // curl, not fetch: fetch adds `cache-control: no-cache` to a conditional request, which asks for the body
    const fresh = await curl(url, ['-H', `If-None-Match: ${etag}`]);
    expect(fresh.status).toBe(304);
    expect(fresh.body.length).toBe(0);
  });

  it('what is not a file under the images directory is not found', async () => {
    const base = url.slice(0, url.indexOf('/disk/disk.raw'));
    fs.writeFileSync(path.join(dir, 'outside.raw'), 'secret');
    fs.symlinkSync(path.join(dir, 'outside.raw'), path.join(imagesDir, 'disk', 'escape.raw'));
    for (const p of ['/disk/missing.raw', '/disk', '/disk/escape.raw', '/disk/../../outside.raw', '/disk/.hidden']) {
      const r = await curl(`${base}${p}`, ['--path-as-is']);
      expect([p, r.status]).toEqual([p, 404]);
      expect(r.body.toString()).not.toContain('secret');
    }
  });

  it('one keep-alive connection carries several sendfile responses, each byte-exact', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (range: string) =>
      new Promise<{ body: Buffer; reused: boolean }>((resolve, reject) => {
        const req = http.get(url, { agent, headers: { range } }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (b: Buffer) => parts.push(b));
          res.on('end', () => resolve({ body: Buffer.concat(parts), reused: req.reusedSocket }));
        });
        req.on('error', reject);
      });
    const a = await get('bytes=0-');
    const b = await get('bytes=123-4567');
    const c = await get(`bytes=${8 * MIB}-${9 * MIB - 1}`);
    agent.destroy();
    expect(sha(a.body)).toBe(sha(data));
    expect(b.body.equals(data.subarray(123, 4568))).toBe(true);
    expect(c.body.equals(data.subarray(8 * MIB, 9 * MIB))).toBe(true);
    expect([b.reused, c.reused]).toEqual([true, true]);
  });

  it.each([
    ['closes normally', (s: net.Socket) => s.destroy()],
    ['resets the connection', (s: net.Socket) => s.resetAndDestroy()],
  ])('a client that %s mid-transfer: the server lets go of the connection and its descriptors, and serves the next request', async (_how, leave) => {
    const before = openDescriptors();
    const sock = await partialClient(url, MIB);
    leave(sock);
    await until(() => openDescriptors() <= before, 'the server closed the connection and the job its duplicates');
    const r = await curl(url);
    expect(sha(r.body)).toBe(sha(data));
  });

  it('a client that stops reading is let go when the server closes its connections (the send is cancelled)', async () => {
    const before = openDescriptors();
    const sock = await partialClient(url, MIB);
    const closed = new Promise((r) => sock.once('close', r));
    sock.resume(); // reads again only to see the end: the server must have shut the connection for it to come
    sock.pause();
    server.closeAllConnections();
    sock.resume();
    await closed;
    await until(() => openDescriptors() <= before, 'no descriptor left behind');
  });
});

describe('the native file sender', () => {
  /** A connected pair over loopback: the server side's descriptor and everything the client receives. */
  async function pair(): Promise<{ fd: number; server: net.Socket; received: Promise<Buffer>; client: net.Socket; close(): void }> {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const accepted = new Promise<net.Socket>((r) => srv.once('connection', r));
    const client = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
    const server = await accepted;
    const parts: Buffer[] = [];
    client.on('data', (b: Buffer) => parts.push(b));
    const received = new Promise<Buffer>((r) => client.on('close', () => r(Buffer.concat(parts))));
    client.on('error', () => {});
    server.on('error', () => {});
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    return { fd, server, client, received, close: () => (server.destroy(), srv.close()) };
  }
  const file = () => fs.openSync(path.join(imagesDir, 'disk', 'disk.raw'), 'r');

  it('sends a byte range and reports ok with the count', async () => {
    const p = await pair();
    const f = file();
    const job = fileSender()!.send(p.fd, f, 777, 5 * MIB + 3, 60_000, '');
    fs.closeSync(f); // the job holds its own duplicate
    const r = await job.done;
    p.close();
    expect(r).toEqual({ result: 'ok', bytes: 5 * MIB + 3, message: '' });
    expect((await p.received).equals(data.subarray(777, 777 + 5 * MIB + 3))).toBe(true);
  });

  it('sends with the TCP congestion control asked for, and the system default when asked for none', async () => {
    const ccOf = (port: number) => {
      // ss shows the kernel's view of the server side of the connection: its info line names the congestion control.
      const out = spawnSync('ss', ['-tinH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' }).stdout;
      return /\b(reno|cubic|bbr)\b/.exec(out)?.[1];
    };
    const system = fs.readFileSync('/proc/sys/net/ipv4/tcp_congestion_control', 'utf8').trim();
    const asked = system === 'reno' ? 'cubic' : 'reno';
    const f = file();
    for (const [cc, expected] of [[asked, asked], ['', system]]) {
      const p = await pair();
      p.client.pause(); // the connection stays established while ss looks
      const job = fileSender()!.send(p.fd, f, 0, data.length, 60_000, cc);
      await vi.waitFor(() => expect(ccOf(p.server.localPort!)).toBe(expected));
      job.cancel();
      await job.done;
      p.close();
    }
    fs.closeSync(f);
    expect(tcpCongestionControlProblem(asked)).toBeUndefined();
    expect(tcpCongestionControlProblem('')).toBeUndefined();
    expect(tcpCongestionControlProblem('nosuchcc')).toMatch(/^TCP congestion control nosuchcc is not among the kernel's (available|allowed) ones/);
  });

  it('a range past the end of the file fails rather than passing a short body off as whole', async () => {
    const p = await pair();
    const f = file();
    const r = await fileSender()!.send(p.fd, f, data.length - 100, 1000, 60_000, '').done;
    fs.closeSync(f);
    p.close();
    expect(r).toEqual({ result: 'failed', bytes: 100, message: 'the file ended before the range did' });
  });

  it('cancel ends a send whose client does not read; the client leaving ends one with aborted', async () => {
    const p = await pair();
    p.client.pause();
    const f = file();
    const job = fileSender()!.send(p.fd, f, 0, data.length, 60_000, '');
    await new Promise((r) => setTimeout(r, 50));
    job.cancel();
    const r = await job.done;
    expect(r.result).toBe('aborted');
    expect(r.message).toBe('cancelled');
    expect(r.bytes).toBeLessThan(data.length);
    job.cancel(); // after done: nothing (the native job is gone)
    p.close();

    const q = await pair();
    const job2 = fileSender()!.send(q.fd, f, 0, data.length, 60_000, '');
    q.client.once('data', () => q.client.resetAndDestroy());
    const r2 = await job2.done;
    fs.closeSync(f);
    q.close();
    expect(r2.result).toBe('aborted');
    expect(r2.message).toBe('the client closed the connection');
  });

  it('a client that stops reading is let go after stallMs without a byte', async () => {
    const p = await pair();
    p.client.pause();
    const f = file();
    const r = await fileSender()!.send(p.fd, f, 0, data.length, 300, '').done;
    fs.closeSync(f);
    p.close();
    expect(r.result).toBe('aborted');
    expect(r.message).toBe('the client stopped reading');
    expect(r.bytes).toBeGreaterThan(0);
    expect(r.bytes).toBeLessThan(data.length);
  });

  it('refuses what it cannot send to and takes nothing', async () => {
    const f = file();
    expect(() => fileSender()!.send(-1, f, 0, 10, 60_000, '')).toThrow(/bad parameters/);
    expect(() => fileSender()!.send(f, f, 0, 10, 60_000, '')).toThrow(/not a stream socket/);
    const p = await pair();
    expect(() => fileSender()!.send(p.fd, f, 0, 0, 60_000, '')).toThrow(/bad parameters/);
    expect(() => fileSender()!.send(p.fd, f, 0, 10, 0, '')).toThrow(/bad parameters/);
    fs.closeSync(f);
    p.close();
  });
});

describe('the boot images route over TLS (no sendfile: the bytes pass through OpenSSL)', () => {
  let server: https.Server;
  let url = '';
  beforeAll(async () => {
    const key = path.join(dir, 'key.pem');
    const cert = path.join(dir, 'cert.pem');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    expect(r.status).toBe(0);
    server = https.createServer({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) }, app());
    url = await listen(server);
  });
  afterAll(() => new Promise((r) => server.close(r)));

  it('streams the whole image and a range byte-exact, and says once why it is not using sendfile', async () => {
    expect(sha((await curl(url)).body)).toBe(sha(data));
    const r = await curl(url, ['-r', '100-199']);
    expect(r.status).toBe(206);
    expect(r.body.equals(data.subarray(100, 200))).toBe(true);
    expect(logLines.filter((l) => /JavaScript/.test(l.msg)).map((l) => l.reason)).toEqual(['TLS connection']);
  });

  it('a client that leaves mid-stream: the stream closes the file, and the next download is whole', async () => {
    const before = openDescriptors();
    const sock = await partialClient(url, MIB);
    sock.destroy();
    await until(() => openDescriptors() <= before, 'the connection and the file closed');
    expect(sha((await curl(url)).body)).toBe(sha(data));
    await until(() => openDescriptors() <= before, 'the file of the whole download closed');
  });
});
