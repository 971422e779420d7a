// /metrics scraped over HTTP from the real agent and parsed strictly: families present, values sane. The boot
// plane and the console proxy see real traffic first (a DHCP client's packets, a tftp-hpa download, a websocket
// viewer of qemu's VNC server), so every mirrored counter is checked against something that happened.
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import WebSocket from 'ws';
import { createMetrics, metricsRoutes } from '../../src/metrics/metrics.js';
import { serveFaces } from '../harness/face-server.js';
import { RackhandError } from '../../src/errors.js';
import { bytes, uefiFirmwareDiscover } from '../boot/dhcp/dhcp-packets.js';
import { parsePrometheusText, type Family } from './prom-text-parser.js';
import { startTestSite, type TestSite } from '../web/test-site.js';
import { startQemuVnc, type QemuVnc } from '../console/console-peers.js';

let site: TestSite;
let vnc: QemuVnc | undefined;
let tmp: string;
let families: Map<string, Family>;
let contentType = '';
const TFTP_FILE_BYTES = 70_000;
const UNKNOWN_MAC = '02:de:00:00:ee:01';
let consoleBannerBytes = 0;
let reusedTicketClose = 0;

const samples = (name: string) => [...families.values()].flatMap((f) => f.samples).filter((s) => s.name === name);
const one = (name: string, labels: Record<string, string> = {}) =>
  samples(name).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));

/** A free loopback UDP port (bound, read, released). */
function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A PXE client's DISCOVER from `mac`, sent once to the agent's DHCP port. */
async function dhcpDiscover(port: number, mac: string, xid: number): Promise<void> {
  const packet = bytes({ ...uefiFirmwareDiscover(mac), xid });
  const sock = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r, j) => sock.send(packet, port, '127.0.0.1', (e) => (e ? j(e) : r())));
  } finally {
    sock.close();
  }
}

/** One console viewer: websocket to the proxy with a ticket; resolves with the bytes received and the close code. */
function viewer(ticket: string, until: (got: Buffer) => boolean): Promise<{ bytes: number; code: number }> {
  return new Promise((resolve, reject) => {
    const u = new URL(site.url);
    const ws = new WebSocket(`ws://${u.host}/console/ws?ticket=${encodeURIComponent(ticket)}`, ['binary'], { origin: site.url });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('console viewer timed out'));
    }, 20_000);
    ws.on('message', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (until(got)) ws.close(1000);
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      clearTimeout(timer);
      resolve({ bytes: got.length, code });
    });
  });
}

const scrape = async () => parsePrometheusText(await (await fetch(`${site.url}/metrics`)).text());

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), `rackhand-metrics-${process.pid}-`));
  fs.writeFileSync(path.join(tmp, 'boot.bin'), Buffer.alloc(TFTP_FILE_BYTES, 0x5a));
  const [dhcpPort, tftpPort] = [await freeUdpPort(), await freeUdpPort()];
  vnc = await startQemuVnc();
  site = await startTestSite({
    vnc: { host: '127.0.0.1', port: vnc.port },
    config: {
      boot: {
        serverIp: '127.0.0.1',
        // Replies broadcast on loopback only.
        dhcp: { mode: 'reservation', listenAddress: '127.0.0.1', port: dhcpPort, broadcastAddress: '127.255.255.255' },
        tftp: { enabled: true, listen: `127.0.0.1:${tftpPort}`, roots: [tmp] },
      },
    },
  });
  const auth = { authorization: `Bearer ${site.tokens.tech}`, 'content-type': 'application/json' };
  // Traffic for the histograms and counters: a list, a show, a 404, a power task, a sensor pass.
  await fetch(`${site.url}/api/v1/servers?q=a01`, { headers: auth });
  await fetch(`${site.url}/api/v1/servers/1003`, { headers: auth });
  await fetch(`${site.url}/api/v1/servers/999999`, { headers: auth });
  await fetch(`${site.url}/no/such/path`);
  const t = await (await fetch(`${site.url}/api/v1/servers/1002/power`, { method: 'POST', headers: auth, body: JSON.stringify({ action: 'on' }) })).json();
  await site.agent.tasks.wait(t.id);
  site.driver.injectFault(site.bmcKey(1012), { kind: 'unreachable' }); // server 1012's BMC stops answering
  await site.agent.parts.sampler.sampleOnce();
  await fetch(`${site.url}/api/v1/servers/1012/power`, { method: 'POST', headers: auth, body: JSON.stringify({ action: 'on' }) }).then((r) => r.json()).then((x) => site.agent.tasks.wait(x.id));

  // The boot plane: a known host (1001's eno1, reserved 192.0.2.11) and a stranger ask for an address...
  await dhcpDiscover(dhcpPort, '02:de:00:00:01:01', 0x1001);
  await dhcpDiscover(dhcpPort, UNKNOWN_MAC, 0x2002);
  // ...and tftp-hpa downloads a file.
  const out = path.join(tmp, 'got.bin');
  await promisify(execFile)('tftp', ['-m', 'binary', '127.0.0.1', String(tftpPort), '-c', 'get', 'boot.bin', out], { timeout: 30_000 });
  expect(fs.statSync(out).size).toBe(TFTP_FILE_BYTES);

  // The console: a viewer reads qemu's RFB banner through the proxy; its ticket, used again, is refused.
  const opened = await (await fetch(`${site.url}/api/v1/servers/1003/console`, { method: 'POST', headers: { authorization: auth.authorization } })).json();
  const ticket = new URL(opened.url).hash.replace(/^#ticket=/, '');
  const first = await viewer(ticket, (got) => got.length >= 12);
  expect(first.code).toBe(1000);
  expect(first.bytes).toBeGreaterThanOrEqual(12);
  consoleBannerBytes = first.bytes;
  reusedTicketClose = (await viewer(ticket, () => false)).code;

  // Counters settle a moment after the peers are done (the last TFTP ACK, the DHCP datagrams, the viewer's close).
  const deadline = Date.now() + 15_000;
  for (;;) {
    const f = await scrape();
    const get = (n: string, l: Record<string, string>) => f.get(n)?.samples.find((x) => Object.entries(l).every(([k, v]) => x.labels[k] === v))?.value;
    const settled =
      get('rackhand_dhcp_events_total', { event: 'received' }) === 2 &&
      get('rackhand_tftp_events_total', { event: 'transfers_ok' }) === 1 &&
      get('rackhand_console_active_connections', {}) === 0;
    if (settled || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const res = await fetch(`${site.url}/metrics`);
  expect(res.status).toBe(200);
  contentType = res.headers.get('content-type') ?? '';
  families = parsePrometheusText(await res.text());
}, 120_000);
afterAll(async () => {
  await site?.close();
  await vnc?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('/metrics', () => {
  it('is the Prometheus text format, scraped without a token by default', () => {
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(one('rackhand_info', { site: 'test-site' })?.value).toBe(1);
  });

  it('has the HTTP request histogram by route pattern, never by raw URL', () => {
    const f = families.get('rackhand_http_request_duration_seconds')!;
    expect(f.type).toBe('histogram');
    const routes = new Set(f.samples.map((s) => s.labels.route));
    expect(routes).toContain('/api/v1/servers/:id');
    expect(routes).toContain('/api/v1/servers');
    expect(routes).toContain('unmatched');
    expect([...routes].some((r) => /\d{4}/.test(r))).toBe(false);
    expect(one('rackhand_http_request_duration_seconds_count', { route: '/api/v1/servers/:id', status: '404' })?.value).toBe(1);
    expect(one('rackhand_http_request_duration_seconds_count', { route: '/api/v1/servers/:id/power', method: 'POST', status: '202' })?.value).toBe(2);
  });

  it('counts tasks by kind and state', () => {
    expect(families.get('rackhand_tasks')!.type).toBe('gauge');
    expect(one('rackhand_tasks', { kind: 'power', state: 'succeeded' })?.value).toBe(1);
    expect(one('rackhand_tasks', { kind: 'power', state: 'failed' })?.value).toBe(1);
  });

  it('has BMC reachability and command latency', () => {
    expect(one('rackhand_bmc_reachable', { server_id: '1002' })?.value).toBe(1);
    expect(one('rackhand_bmc_reachable', { server_id: '1005' })?.value).toBe(1); // no power read, but the sensor pass reached it
    expect(one('rackhand_bmc_reachable', { server_id: '1012' })).toBeUndefined(); // never answered, never swept
    expect(families.get('rackhand_bmc_command_duration_seconds')!.type).toBe('histogram');
    const count = (labels: Record<string, string>) => one('rackhand_bmc_command_duration_seconds_count', { driver: 'simulated', ...labels })?.value;
    expect(count({ op: 'sensors', result: 'ok' })).toBe(11);
    expect(count({ op: 'sensors', result: 'error' })).toBe(1); // the dead BMC
    expect(count({ op: 'power', result: 'ok' })).toBe(1);
    expect(count({ op: 'power_status', result: 'ok' })).toBeGreaterThanOrEqual(3); // read, then two confirming reads
    expect(count({ op: 'power_status', result: 'error' })).toBe(1);
  });

  it('mirrors the DHCP, TFTP and console counters of what really happened', async () => {
    expect(families.get('rackhand_dhcp_events_total')!.type).toBe('counter');
    expect(one('rackhand_dhcp_events_total', { event: 'received' })?.value).toBe(2);
    expect(one('rackhand_dhcp_events_total', { event: 'offers' })?.value).toBe(1); // the known host
    expect(one('rackhand_dhcp_events_total', { event: 'unknown_clients' })?.value).toBe(1); // the stranger...
    const discovered = await (await fetch(`${site.url}/api/v1/discovered`, { headers: { authorization: `Bearer ${site.tokens.tech}` } })).json();
    expect(discovered.list.map((d: { mac: string }) => d.mac)).toContain(UNKNOWN_MAC); // ...is now a discovered host
    expect(one('rackhand_tftp_events_total', { event: 'requests' })?.value).toBe(1);
    expect(one('rackhand_tftp_events_total', { event: 'transfers_ok' })?.value).toBe(1);
    expect(one('rackhand_tftp_events_total', { event: 'bytes_sent' })?.value).toBe(TFTP_FILE_BYTES);
    expect(families.get('rackhand_tftp_events_total')!.type).toBe('counter');
    expect(one('rackhand_tftp_events_total', { event: 'active_transfers' })).toBeUndefined();
    expect(one('rackhand_tftp_active_transfers')?.value).toBe(0);
    expect(one('rackhand_console_active_sessions')?.value).toBe(0);
    expect(one('rackhand_console_active_connections')?.value).toBe(0);
    expect(one('rackhand_console_connections_total')?.value).toBeGreaterThanOrEqual(1);
    expect(one('rackhand_console_bytes_total', { direction: 'down' })?.value).toBeGreaterThanOrEqual(consoleBannerBytes);
    expect(reusedTicketClose).toBe(4401); // a ticket is single-use
    expect(one('rackhand_console_closes_total', { reason: '4401' })?.value).toBe(1);
  });

  it('exports the latest sensor values per server by kind', () => {
    const temps = samples('rackhand_sensor_temperature_celsius');
    expect(new Set(temps.map((s) => s.labels.server_id)).size).toBe(11); // 12 servers, one BMC dead
    expect(one('rackhand_sensor_temperature_celsius', { server_id: '1001', sensor: 'Inlet Temp' })?.value).toBe(83);
    expect(one('rackhand_sensor_fan_rpm', { server_id: '1001', sensor: 'FAN1' })?.value).toBe(0); // powered off
    expect(one('rackhand_sensor_fan_rpm', { server_id: '1002', sensor: 'FAN1' })?.value).toBeGreaterThan(4000); // powered on
    expect(one('rackhand_sensor_voltage_volts', { server_id: '1002', sensor: '12V' })?.value).toBeCloseTo(12, 0);
    expect([...families.values()].some((f) => f.samples.some((s) => s.labels.sensor === 'PS1 Status'))).toBe(false);
    const at = one('rackhand_sensor_sample_timestamp_seconds', { server_id: '1001' })!.value;
    expect(Math.abs(at - Date.now() / 1000)).toBeLessThan(3600);
  });

  it('reports the host: CPU, memory, the state dir disk, interfaces, and the process', () => {
    const cpu = one('rackhand_host_cpu_load_ratio')!.value;
    expect(cpu).toBeGreaterThanOrEqual(0);
    expect(cpu).toBeLessThanOrEqual(1);
    const total = one('rackhand_host_memory_bytes', { kind: 'total' })!.value;
    const used = one('rackhand_host_memory_bytes', { kind: 'used' })!.value;
    expect(total).toBeGreaterThan(64 * 2 ** 20);
    expect(used).toBeGreaterThan(0);
    expect(used).toBeLessThanOrEqual(total);
    const size = samples('rackhand_host_state_disk_bytes').find((s) => s.labels.kind === 'size')!;
    const avail = one('rackhand_host_state_disk_bytes', { kind: 'available', mount: size.labels.mount })!;
    expect(size.value).toBeGreaterThan(0);
    expect(avail.value).toBeLessThanOrEqual(size.value);
    expect(site.agent.config.stateDir.startsWith(size.labels.mount)).toBe(true);
    expect(one('rackhand_host_network_up', { iface: 'lo' })?.value).toBe(1);
    expect(one('rackhand_host_network_bytes_total', { iface: 'lo', direction: 'rx' })!.value).toBeGreaterThan(0);
    expect(one('process_resident_memory_bytes')!.value).toBeGreaterThan(0);
    expect(families.get('nodejs_eventloop_lag_seconds')).toBeDefined();
  });
});

describe('createMetrics on its own', () => {
  it('with no sources every family is declared and the text still parses', async () => {
    const m = createMetrics({ processMetrics: false });
    m.observeBmcCommand('ipmi', 'power_status', 0.02, true);
    m.observeBmcCommand('ipmi', 'power_status', Number.NaN, true); // ignored
    const fams = parsePrometheusText(await m.text());
    expect(fams.get('rackhand_tasks')?.samples).toEqual([]);
    expect(fams.get('rackhand_bmc_command_duration_seconds_count' as string)).toBeUndefined();
    expect(fams.get('rackhand_bmc_command_duration_seconds')!.samples.find((s) => s.name.endsWith('_count'))!.value).toBe(1);
    expect(fams.has('process_resident_memory_bytes')).toBe(false);
    expect(fams.has('rackhand_host_cpu_load_ratio')).toBe(true);
  });

  it('two instances do not share a registry (no global default registry)', async () => {
    const a = createMetrics({ processMetrics: false, taskCounts: () => [{ kind: 'power', state: 'running', count: 3 }] });
    const b = createMetrics({ processMetrics: false });
    expect(await a.text()).toContain('rackhand_tasks{kind="power",state="running"} 3');
    expect(await b.text()).not.toContain('kind="power"');
  });

  it('escapes label values (sensor names are BMC-provided text)', async () => {
    const m = createMetrics({
      processMetrics: false,
      sensors: () => [{ serverId: 1, name: 'CPU "1"\\temp\nx', type: 'temperature', value: 40, at: new Date().toISOString() }],
    });
    const fams = parsePrometheusText(await m.text());
    expect(fams.get('rackhand_sensor_temperature_celsius')!.samples[0].labels.sensor).toBe('CPU "1"\\temp\nx');
  });

  it('reads the sensors once per scrape, and afresh for the next one', async () => {
    let reads = 0;
    let value = 40;
    const m = createMetrics({
      processMetrics: false,
      sensors: () => {
        reads++;
        return [
          { serverId: 1, name: 'CPU', type: 'temperature', value, at: new Date().toISOString() },
          { serverId: 1, name: 'FAN1', type: 'fan', value: 3000, at: new Date().toISOString() },
        ];
      },
    });
    expect(await m.text()).toContain('rackhand_sensor_temperature_celsius{server_id="1",sensor="CPU"} 40');
    expect(reads).toBe(1);
    value = 41;
    expect(await m.text()).toContain('rackhand_sensor_temperature_celsius{server_id="1",sensor="CPU"} 41');
    expect(reads).toBe(2);
  });

  it('a scrape of 50,000 servers lets the event loop run between slices (API requests are not held up)', async () => {
    const servers = Array.from({ length: 50_000 }, (_, i) => ({ serverId: i + 1, reachable: i % 7 !== 0 }));
    const at = new Date().toISOString();
    const m = createMetrics({
      processMetrics: false,
      bmcReachability: () => servers,
      sensors: () => servers.map((x) => ({ serverId: x.serverId, name: 'CPU Temp', type: 'temperature', value: 40, at })),
    });
    let turns = 0;
    let scraping = true;
    const tick = () => {
      turns++;
      if (scraping) setImmediate(tick);
    };
    setImmediate(tick);
    const text = await m.text();
    scraping = false;
    // (counted by pattern: the strict parser is quadratic, made for small texts)
    expect(text.match(/^rackhand_bmc_reachable\{server_id="\d+"\} 1$/gm)).toHaveLength(50_000 - Math.ceil(50_000 / 7));
    expect(text.match(/^rackhand_bmc_reachable\{server_id="\d+"\} 0$/gm)).toHaveLength(Math.ceil(50_000 / 7));
    expect(text.match(/^rackhand_sensor_temperature_celsius\{server_id="\d+",sensor="CPU Temp"\} 40$/gm)).toHaveLength(50_000);
    expect(text).toContain('rackhand_bmc_reachable{server_id="50000"} 1\n');
    // 150,000 samples in slices of 5,000: the loop turned between them (prom-client rendered it all in one turn)
    expect(turns).toBeGreaterThanOrEqual(20);
  });

  it('a scrape of 50,000 servers is sent in pieces of at most 256 KiB, chunked, never as one string hashed for an ETag', async () => {
    const servers = Array.from({ length: 50_000 }, (_, i) => ({ serverId: i + 1, reachable: i % 7 !== 0 }));
    const m = createMetrics({ processMetrics: false, bmcReachability: () => servers });
    const pieces = await m.chunks();
    expect(Math.max(...pieces.map((p) => p.length))).toBeLessThanOrEqual(256 * 1024);
    const app = await serveFaces([metricsRoutes(m)]);
    try {
      const r = await app.request('/metrics');
      expect(r.status).toBe(200);
      expect(r.headers.get('transfer-encoding')).toBe('chunked');
      expect(r.headers.get('etag')).toBeNull();
      expect(r.text.match(/^rackhand_bmc_reachable\{server_id="\d+"\} [01]$/gm)).toHaveLength(50_000);
      expect(r.text).toBe(pieces.join(''));
    } finally {
      await app.close();
    }
  });

  it('can require a token for scrapes', async () => {
    const route = metricsRoutes(createMetrics({ processMetrics: false }), {
      authenticate: (req) => {
        if (req.headers.authorization !== 'Bearer good') throw new RackhandError('UNAUTHORIZED', 'token required');
        return {};
      },
    });
    const app = await serveFaces([route]);
    expect((await app.request('/metrics')).status).toBe(401);
    const ok = await app.request('/metrics', { headers: { authorization: 'Bearer good' } });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('# TYPE rackhand_tasks gauge');
    await app.close();
  });
});

describe('the test parser is strict', () => {
  it('rejects malformed expositions', () => {
    const bad = [
      'x 1', // no trailing newline
      'x{a="1} 1\n',
      'x{a="1",a="2"} 1\n',
      'x 1 2 3\n',
      'x one\n',
      '# TYPE x counter\nx -1\n',
      '# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx{a="b"} 2\n',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
      'x{a="\\q"} 1\n',
      '# TYPE x nonsense\n',
    ];
    for (const text of bad) expect(() => parsePrometheusText(text), text).toThrow();
  });

  it('round-trips random label values through the per-server writer', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 40 }), fc.double({ noNaN: true, noDefaultInfinity: true }), async (label, value) => {
        const m = createMetrics({ processMetrics: false, sensors: () => [{ serverId: 7, name: label, type: 'voltage', value, at: new Date(0).toISOString() }] });
        const s = parsePrometheusText(await m.text()).get('rackhand_sensor_voltage_volts')!.samples[0];
        expect(s.labels.sensor).toBe(label);
        expect(s.value).toBe(value === 0 ? 0 : value);
      }),
      { numRuns: 300 },
    );
  });
});
