// Serving the console page and noVNC files over real HTTP: the plain node handler and the Express routes.
import fs from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_CLOSE } from '../../src/console/close-codes.js';
import { consolePageRouter, createConsolePageHandler } from '../../src/console/console-page.js';
import { serveFaces, type FaceServer } from '../harness/face-server.js';

/** A raw GET (no client-side path normalisation, so traversal attempts reach the server as written). */
function rawGet(port: number, target: string, method = 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: target, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const TRAVERSALS = [
  '/console/../package.json',
  '/console/%2e%2e/package.json',
  '/console/novnc/%2e%2e/%2e%2e/%2e%2e/package.json',
  '/console/novnc/core/..%2f..%2fpackage.json',
  '/console/novnc/core/%2e%2e%2f%2e%2e%2f%2e%2e%2fsrc%2fconsole%2fvnc-proxy.ts',
  '/console/novnc/package.json',
  '/console/novnc/core/rfb.js%00.html',
  '/console/..%5c..%5cpackage.json',
  '/console/novnc/core/',
];

function checkServing(getPort: () => number) {
  it('serves the page with a strict CSP and noVNC modules as javascript', async () => {
    const port = getPort();
    const page = await rawGet(port, '/console/?name=x');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).toContain('console.js');
    const js = await rawGet(port, '/console/console.js');
    expect(js.headers['content-type']).toMatch(/^text\/javascript/);
    expect(js.body).toContain("from './novnc/core/rfb.js'");
    const css = await rawGet(port, '/console/console.css');
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    const rfb = await rawGet(port, '/console/novnc/core/rfb.js');
    expect(rfb.status).toBe(200);
    expect(rfb.headers['content-type']).toMatch(/^text\/javascript/);
    expect(rfb.body).toBe(fs.readFileSync('node_modules/@novnc/novnc/core/rfb.js', 'utf8'));
    const pako = await rawGet(port, '/console/novnc/vendor/pako/lib/zlib/inflate.js');
    expect(pako.status).toBe(200);
    const head = await rawGet(port, '/console/novnc/core/rfb.js', 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
    const redirect = await rawGet(port, '/console?name=a');
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe('/console/?name=a');
  });

  it('refuses path traversal and files outside core/ and vendor/', async () => {
    for (const t of TRAVERSALS) {
      const r = await rawGet(getPort(), t);
      expect(r.status, t).toBe(404);
      expect(r.body, t).not.toContain('"name"');
    }
  });
}

describe('createConsolePageHandler on node:http', () => {
  let server: http.Server;
  let port = 0;
  beforeAll(async () => {
    const handler = createConsolePageHandler();
    server = http.createServer((req, res) => {
      if (!handler(req, res)) res.writeHead(418).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });
  checkServing(() => port);
  it('leaves other paths to the caller and allows only GET/HEAD', async () => {
    expect((await rawGet(port, '/api/v1/x')).status).toBe(418);
    expect((await rawGet(port, '/console/', 'POST')).status).toBe(405);
  });
});

describe('consolePageRouter in the HTTP server', () => {
  let app: FaceServer;
  let port = 0;
  beforeAll(async () => {
    app = await serveFaces([{ name: 'console', router: consolePageRouter() }]);
    port = Number(new URL(app.url).port);
  });
  afterAll(async () => {
    await app.close();
  });
  checkServing(() => port);
});

describe('console page messages', () => {
  it('has a message for every close code the proxy sends', () => {
    const js = fs.readFileSync('src/console/page/console.js', 'utf8');
    for (const [name, code] of Object.entries(CONSOLE_CLOSE)) expect(js, name).toMatch(new RegExp(`\\b${code}: '`));
  });
});
