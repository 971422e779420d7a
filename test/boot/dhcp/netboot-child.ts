// Integration-test child run inside the lab namespace: rackhand's DhcpServer + a minimal per-host iPXE script server.

import http from 'node:http';
import type { BootLookup, DiscoveredClient, HostBootInfo } from '../../../src/boot/boot-lookup.js';
import { DhcpServer, type DhcpLogger } from '../../../src/boot/dhcp/dhcp-server.js';
import { TftpServer } from '../../../src/boot/tftp/tftp-server.js';

interface ChildConfig {
  mode: 'reservation' | 'proxy';
  serverIp: string;
  /** Serve iPXE scripts on this port; absent = DHCP only (the "site" server of the proxy test). */
  httpPort?: number;
  hosts: HostBootInfo[];
  reuseAddr?: boolean;
  /** Serve this directory with rackhand's own TFTP server on serverIp:69. */
  tftpRoot?: string;
}

const cfg = JSON.parse(process.argv[2]) as ChildConfig;
/** One JSON object per line on stdout: the parent's event log. */
const emit = (ev: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(ev)}\n`);
};

const lookup: BootLookup = {
  findByMac: (mac) => cfg.hosts.find((h) => h.mac === mac),
  findByIp: (ip) => cfg.hosts.find((h) => h.ip === ip),
  recordDiscovered: (c: DiscoveredClient) => {
    emit({ ev: 'discovered', client: c });
  },
};

const logAt =
  (level: string) =>
  (obj: object, msg?: string): void =>
    emit({ ev: 'log', level, msg, ...obj });
const logger: DhcpLogger = { debug: logAt('debug'), info: logAt('info'), warn: logAt('warn'), error: logAt('error') };

const dhcp = new DhcpServer({
  mode: cfg.mode,
  reuseAddr: cfg.reuseAddr,
  lookup,
  serverIp: cfg.serverIp,
  bootFiles: { bios: 'undionly.kpxe', uefiX64: 'ipxe.efi' },
  scriptUrl: 'http://{serverIp}:{port}/boot/{mac}.ipxe',
  httpPort: cfg.httpPort,
  leaseSeconds: 600,
  logger,
});

const httpServer = http.createServer((req, res) => {
  let url = req.url ?? '';
  try {
    url = decodeURIComponent(url); // iPXE sends the MAC's colons as %3A
  } catch {
    /* keep it raw: no route will match */
  }
  emit({ ev: 'http', method: req.method, url, from: req.socket.remoteAddress });
  const m = /^\/boot\/([0-9a-f:]{17})\.ipxe$/.exec(url);
  if (m) {
    const host = lookup.findByMac(m[1]);
    // A script only for the host that owns this address (what rackhand's HTTP boot will enforce too).
    if (!host || host.ip !== req.socket.remoteAddress?.replace(/^::ffff:/, '')) {
      res.writeHead(403).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(
      [
        '#!ipxe',
        `echo RACKHAND-SCRIPT host=${host.name} mac=\${net0/mac} ip=\${net0/ip} platform=\${platform}`,
        `chain http://${cfg.serverIp}:${cfg.httpPort}/done?mac=\${net0/mac}&platform=\${platform}`,
        '',
      ].join('\n'),
    );
    return;
  }
  if (url.startsWith('/done')) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('#!ipxe\necho RACKHAND-DONE\n:idle\nsleep 600\ngoto idle\n');
    return;
  }
  res.writeHead(404).end();
});

await dhcp.start();
const tftp = cfg.tftpRoot ? new TftpServer({ address: cfg.serverIp, port: 69, roots: [cfg.tftpRoot], logger }) : undefined;
if (tftp) {
  await tftp.start();
  // The TFTP server keeps counters rather than logging each transfer: report them as they change.
  let last = '';
  setInterval(() => {
    const s = JSON.stringify(tftp.stats());
    if (s !== last) emit({ ev: 'tftp-stats', stats: JSON.parse(s) });
    last = s;
  }, 250).unref();
}
if (cfg.httpPort) await new Promise<void>((r) => httpServer.listen(cfg.httpPort, cfg.serverIp, () => r()));
emit({ ev: 'ready', dhcpPort: dhcp.port, proxyPort: dhcp.proxyPort });

const shutdown = async () => {
  emit({ ev: 'counters', counters: dhcp.counters });
  await dhcp.stop();
  await tftp?.stop();
  if (httpServer.listening) {
    httpServer.closeAllConnections();
    httpServer.close();
  }
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
