// rackhand's DHCP server: reservation mode (known MACs get their reserved lease + boot info) and proxyDHCP mode.

import dgram from 'node:dgram';
import { isIPv4, type AddressInfo } from 'node:net';
import { RackhandError } from '../../errors.js';
import type { BootEventKind, BootEventSink } from '../boot-event.js';
import type { BootLookup, HostBootInfo } from '../boot-lookup.js';
import { chooseBootFile, isHttpClient, isIpxeClient, isPxeClient, type BootChoice, type BootFiles } from './choose-boot-file.js';
import { DiscoveredSightings } from './discovered-sightings.js';
import {
  BROADCAST_FLAG,
  DhcpDecodeError,
  DhcpMessageType,
  IPXE_NO_PXEDHCP,
  PXE_DISCOVERY_CONTROL,
  macOf,
  messageTypeName,
  parseDhcpPacket,
  serializeDhcpPacket,
  type DhcpOptions,
  type DhcpPacket,
} from './dhcp-codec.js';

export type DhcpMode = 'off' | 'reservation' | 'proxy';

/** The subset of pino.Logger we call; pass a pino logger or nothing. */
export interface DhcpLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface DhcpServerOptions {
  mode: DhcpMode;
  lookup: BootLookup;
  /**
   * Address the sockets bind to. Keep the default '0.0.0.0' on Linux: a socket bound to a unicast address
   * never sees the clients' 255.255.255.255 broadcasts. Restrict to one interface with a network namespace
   * or a firewall instead.
   */
  listenAddress?: string;
  /** DHCP server port, 67 (tests use 0 = any free port). */
  port?: number;
  /** proxyDHCP boot-server port, 4011 (proxy mode only; tests use 0). */
  proxyPort?: number;
  /**
   * SO_REUSEADDR on the sockets, so proxy mode can share port 67 with the site's DHCP server on the same host
   * (Linux hands broadcasts to every such socket). Default false: a second server on 67 is otherwise a mistake.
   */
  reuseAddr?: boolean;
  /** Where broadcast and ciaddr replies go, 68 (tests change it). */
  clientPort?: number;
  /** Where replies to a relay (giaddr) go, 67 (tests change it). */
  relayPort?: number;
  /** Our address on the clients' network: siaddr / next-server, option 54, {serverIp} in the script URL. */
  serverIp: string;
  /** Destination of broadcast replies: '255.255.255.255' (needs a route for it in a namespace without default route). */
  broadcastAddress?: string;
  bootFiles: BootFiles;
  /**
   * iPXE script URL for clients whose user-class is iPXE: a template with {serverIp}, {port}, {mac}
   * (aa:bb:cc:dd:ee:ff), {macHyphen} (aa-bb-…), {serverId}; or a function of the MAC.
   */
  scriptUrl: string | ((mac: string, host: HostBootInfo) => string);
  /**
   * HTTP URL of a boot file, for UEFI HTTP boot clients (vendor class HTTPClient): a template with
   * {serverIp}, {port} and {file}, or a function of the file name. Without it they get no answer.
   */
  bootFileUrl?: string | ((file: string) => string);
  /** {port} in the scriptUrl and bootFileUrl templates (the HTTP boot port). */
  httpPort?: number;
  /** Option 51 in reservation mode; default 3600. */
  leaseSeconds?: number;
  /**
   * Unknown MACs are summed per interval (one log line, repeats written once) and at most
   * `maxNewDiscoveredPerInterval` new ones are recorded per interval: a spoofed-MAC flood costs
   * bounded memory, rows and log lines. Defaults 10 s and 256.
   */
  discoveredIntervalMs?: number;
  maxNewDiscoveredPerInterval?: number;
  /** What was done for each known host's message (and each newly discovered MAC): the per-host boot history. */
  onBootEvent?: BootEventSink;
  logger?: DhcpLogger;
}

/** Monotonic counters for metrics (a prom-client collector can read them). */
export interface DhcpCounters {
  received: number;
  malformed: number;
  ignored: number; // not for us: wrong op/htype, BOOTP, other server chosen, non-PXE in proxy mode, off
  unknownClients: number;
  notArmed: number;
  noAddress: number;
  offers: number;
  acks: number;
  naks: number;
  informs: number;
  releases: number;
  declines: number;
  proxyRequests: number;
  sendErrors: number;
  discoveredDropped: number; // unknown-MAC requests beyond the interval's budget of new MACs: not recorded
  handlerErrors: number; // exceptions caught in a socket handler (a bug, a failing lookup or logger), never fatal
}

const ZERO = '0.0.0.0';

export function expandScriptUrl(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m));
}

/**
 * Who gets what:
 * - reservation: only MACs the BootLookup knows. DISCOVER → OFFER, REQUEST → ACK (or NAK when the requested address is
 *   not the reservation; silence when the client chose another server), INFORM → ACK without lease, RELEASE/DECLINE
 *   logged. A host with netbootArmed=false still gets its address lease, but no boot file, so its firmware falls
 *   through to the disk; a host without a reserved IPv4 gets no answer.
 * - proxy: only PXE and UEFI HTTP boot clients (vendor class PXEClient…/HTTPClient…) the BootLookup knows and that
 *   are armed: boot info, never an address; port 67 DISCOVER → OFFER, port 4011 REQUEST → ACK (unicast back).
 *   Unarmed hosts: silence.
 * - unknown MAC (both modes): silence, and lookup.recordDiscovered().
 * Every silence is logged with its reason. Relayed requests (giaddr) are answered to giaddr:relayPort.
 * Boot file: user-class iPXE → the HTTP script URL (+ option 175.176 = 1); vendor class HTTPClient → option 60
 * HTTPClient and the HTTP URL of the boot file (arch 16 → uefiX64, 19 → arm64 when configured), no TFTP; else
 * option 93 arch 0 → bios, 7/9 → uefiX64, 11 → arm64 when configured, over TFTP.
 */
export class DhcpServer {
  readonly counters: DhcpCounters = {
    received: 0,
    malformed: 0,
    ignored: 0,
    unknownClients: 0,
    notArmed: 0,
    noAddress: 0,
    offers: 0,
    acks: 0,
    naks: 0,
    informs: 0,
    releases: 0,
    declines: 0,
    proxyRequests: 0,
    sendErrors: 0,
    discoveredDropped: 0,
    handlerErrors: 0,
  };

  private socket?: dgram.Socket;
  private proxySocket?: dgram.Socket;
  private readonly o: Required<Omit<DhcpServerOptions, 'logger' | 'httpPort' | 'bootFileUrl' | 'onBootEvent'>> &
    Pick<DhcpServerOptions, 'logger' | 'httpPort' | 'bootFileUrl' | 'onBootEvent'>;
  private readonly sightings: DiscoveredSightings;
  private sightingsTimer?: NodeJS.Timeout;

  constructor(options: DhcpServerOptions) {
    // An explicit `undefined` (e.g. an unset config key) must not override a default: port undefined would bind anywhere.
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as DhcpServerOptions;
    this.o = {
      listenAddress: '0.0.0.0',
      port: 67,
      proxyPort: 4011,
      clientPort: 68,
      relayPort: 67,
      broadcastAddress: '255.255.255.255',
      leaseSeconds: 3600,
      reuseAddr: false,
      discoveredIntervalMs: 10_000,
      maxNewDiscoveredPerInterval: 256,
      ...given,
    };
    this.sightings = new DiscoveredSightings({
      record: (c) => this.o.lookup.recordDiscovered(c),
      maxNewPerInterval: this.o.maxNewDiscoveredPerInterval,
      summary: (sum) =>
        this.o.logger?.info(
          { ...sum, seconds: Math.round(this.o.discoveredIntervalMs / 1000), reason: 'unknown MAC' },
          'dhcp: no answer to MACs not in the inventory, recorded as discovered',
        ),
    });
    if (!['off', 'reservation', 'proxy'].includes(this.o.mode)) {
      throw new RackhandError('INVALID_INPUT', `dhcp mode must be off, reservation or proxy`, { mode: this.o.mode });
    }
    if (this.o.mode !== 'off' && !isIPv4(this.o.serverIp)) {
      throw new RackhandError('INVALID_INPUT', 'dhcp serverIp must be an IPv4 address', { serverIp: this.o.serverIp });
    }
  }

  get mode(): DhcpMode {
    return this.o.mode;
  }

  /** Bound DHCP port (useful with port 0). */
  get port(): number | undefined {
    return this.socket ? (this.socket.address() as AddressInfo).port : undefined;
  }

  get proxyPort(): number | undefined {
    return this.proxySocket ? (this.proxySocket.address() as AddressInfo).port : undefined;
  }

  async start(): Promise<void> {
    if (this.o.mode === 'off' || this.socket) return;
    this.socket = await this.bind(this.o.port, 'dhcp');
    this.sightingsTimer = setInterval(() => this.guard('', () => this.sightings.flush()), this.o.discoveredIntervalMs);
    this.sightingsTimer.unref();
    if (this.o.mode === 'proxy') {
      try {
        this.proxySocket = await this.bind(this.o.proxyPort, 'proxy');
      } catch (e) {
        await this.stop();
        throw e;
      }
    }
    this.o.logger?.info(
      { mode: this.o.mode, listen: this.o.listenAddress, port: this.port, proxyPort: this.proxyPort },
      'dhcp server started',
    );
  }

  async stop(): Promise<void> {
    if (this.sightingsTimer) {
      clearInterval(this.sightingsTimer);
      this.sightingsTimer = undefined;
      this.guard('', () => this.sightings.flush());
    }
    const socks = [this.socket, this.proxySocket].filter((s): s is dgram.Socket => !!s);
    this.socket = undefined;
    this.proxySocket = undefined;
    await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  private bind(port: number, via: 'dhcp' | 'proxy'): Promise<dgram.Socket> {
    return new Promise((resolve, reject) => {
      const s = dgram.createSocket({ type: 'udp4', reuseAddr: this.o.reuseAddr });
      const onError = (e: Error) => {
        s.close();
        reject(new RackhandError('BOOT_ERROR', `dhcp: cannot bind ${this.o.listenAddress}:${port}: ${e.message}`));
      };
      s.once('error', onError);
      s.bind(port, this.o.listenAddress, () => {
        s.off('error', onError);
        s.setBroadcast(true);
        s.on('error', (e) => this.guard('', () => this.o.logger?.error({ err: e.message, via }, 'dhcp socket error')));
        s.on('message', (msg, rinfo) => this.guard(rinfo.address, () => this.onMessage(msg, rinfo, via)));
        resolve(s);
      });
    });
  }

  /**
   * Every socket and timer callback runs through here: whatever throws (a codec bug, a failing
   * lookup, a throwing logger) costs that one datagram, is counted, and never reaches the process.
   */
  private guard(from: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.counters.handlerErrors++;
      try {
        this.o.logger?.error({ from, err: e instanceof Error ? e.message : String(e) }, 'dhcp: handler error, datagram dropped');
      } catch {
        // the logger itself is what failed: the counter still says so
      }
    }
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo, via: 'dhcp' | 'proxy'): void {
    this.counters.received++;
    let req: DhcpPacket;
    try {
      req = parseDhcpPacket(msg);
    } catch (e) {
      this.counters.malformed++;
      // Anything but DhcpDecodeError would be a codec bug: louder, but still never fatal to the daemon.
      if (e instanceof DhcpDecodeError) this.o.logger?.debug({ from: rinfo.address, err: e.message }, 'dhcp: malformed packet dropped');
      else this.o.logger?.error({ from: rinfo.address, err: (e as Error).message }, 'dhcp: decoder failed');
      return;
    }
    this.handle(req, rinfo, via);
  }

  private handle(req: DhcpPacket, rinfo: dgram.RemoteInfo, via: 'dhcp' | 'proxy'): void {
    if (req.op !== 1 || req.htype !== 1 || req.hlen !== 6) return this.ignore(req, 'not an ethernet BOOTREQUEST');
    const type = req.options.messageType;
    if (type === undefined) return this.ignore(req, 'plain BOOTP (no option 53)');
    const mac = macOf(req);
    const log = { mac, type: messageTypeName(type), xid: req.xid, relay: req.giaddr !== ZERO ? req.giaddr : undefined };

    if (this.o.mode === 'proxy' && !isPxeClient(req.options) && !isHttpClient(req.options)) {
      return this.ignore(req, 'proxy mode: not a PXE or HTTP boot client');
    }
    if (via === 'proxy' && type !== DhcpMessageType.REQUEST && type !== DhcpMessageType.INFORM) {
      return this.ignore(req, 'port 4011 only takes REQUEST/INFORM');
    }

    const host = this.o.lookup.findByMac(mac);
    if (!host) {
      if (type === DhcpMessageType.DISCOVER || type === DhcpMessageType.REQUEST || type === DhcpMessageType.INFORM) {
        this.counters.unknownClients++;
        const o = req.options;
        const noted = this.sightings.note({
          mac,
          arch: o.clientArch?.[0],
          vendorClass: o.vendorClass,
          uuid: o.uuid,
          userClass: o.userClass?.join(','),
          relay: req.giaddr !== ZERO ? req.giaddr : undefined,
        });
        if (noted === 'dropped') this.counters.discoveredDropped++;
        if (noted === 'recorded') this.event('dhcp-discovered', req, ZERO, 'not in the inventory: no answer');
      } else this.ignore(req, 'unknown MAC');
      return;
    }

    if (this.o.mode === 'proxy') return this.handleProxy(req, rinfo, via, host, log);
    this.handleReservation(req, host, log);
  }

  private handleReservation(req: DhcpPacket, host: HostBootInfo, log: Record<string, unknown>): void {
    const type = req.options.messageType;
    switch (type) {
      case DhcpMessageType.DISCOVER: {
        if (!host.ip) return this.noAddress(req, host, log);
        const boot = this.bootFor(req, host, log);
        this.send(this.reply(req, DhcpMessageType.OFFER, host, boot), req);
        this.counters.offers++;
        this.o.logger?.info({ ...log, ip: host.ip, boot: describe(boot) }, 'dhcp: offer');
        this.event('dhcp-offer', req, host.ip, `${host.ip}, ${describe(boot)}`);
        return;
      }
      case DhcpMessageType.REQUEST: {
        const sid = req.options.serverId;
        if (sid !== undefined && sid !== this.o.serverIp) return this.ignoreHost(req, `client chose server ${sid}`);
        if (!host.ip) return this.noAddress(req, host, log);
        const want = req.options.requestedIp ?? (req.ciaddr !== ZERO ? req.ciaddr : undefined);
        if (want !== host.ip) {
          this.send(this.nak(req, `requested ${want ?? 'nothing'}, reserved ${host.ip}`), req);
          this.counters.naks++;
          this.o.logger?.info({ ...log, requested: want, reserved: host.ip }, 'dhcp: nak');
          this.event('dhcp-nak', req, want ?? ZERO, `requested ${want ?? 'nothing'}, reserved ${host.ip}`);
          return;
        }
        const boot = this.bootFor(req, host, log);
        this.send(this.reply(req, DhcpMessageType.ACK, host, boot), req);
        this.counters.acks++;
        this.o.logger?.info({ ...log, ip: host.ip, boot: describe(boot) }, 'dhcp: ack');
        this.event('dhcp-ack', req, host.ip, `${host.ip}, ${describe(boot)}`);
        return;
      }
      case DhcpMessageType.INFORM: {
        const boot = this.bootFor(req, host, log);
        this.send(this.reply(req, DhcpMessageType.ACK, host, boot, { inform: true }), req);
        this.counters.informs++;
        this.o.logger?.info({ ...log, boot: describe(boot) }, 'dhcp: inform ack');
        this.event('dhcp-ack', req, req.ciaddr, describe(boot));
        return;
      }
      case DhcpMessageType.RELEASE:
        // Reservations are static: nothing to free, but the client said goodbye.
        this.counters.releases++;
        this.o.logger?.info(log, 'dhcp: release');
        this.event('dhcp-release', req, req.ciaddr, 'released its address');
        return;
      case DhcpMessageType.DECLINE:
        this.counters.declines++;
        this.o.logger?.warn({ ...log, ip: host.ip }, 'dhcp: client declined its reserved address (address conflict?)');
        this.event('dhcp-decline', req, host.ip ?? ZERO, 'declined its reserved address (address conflict?)');
        return;
      default:
        return this.ignoreHost(req, `message type ${type} not handled`);
    }
  }

  private handleProxy(
    req: DhcpPacket,
    rinfo: dgram.RemoteInfo,
    via: 'dhcp' | 'proxy',
    host: HostBootInfo,
    log: Record<string, unknown>,
  ): void {
    const type = req.options.messageType;
    if (!host.netbootArmed) {
      this.counters.notArmed++;
      this.o.logger?.info({ ...log, reason: 'netboot not armed' }, 'dhcp: proxy mode, no answer (boots from disk)');
      this.event('dhcp-ignored', req, req.ciaddr, 'proxy mode: netboot not armed, boots from disk');
      return;
    }
    const boot = this.bootFor(req, host, log);
    if (boot.kind === 'none') return this.event('dhcp-ignored', req, req.ciaddr, `proxy mode: ${describe(boot)}`);
    if (via === 'dhcp') {
      if (type === DhcpMessageType.DISCOVER) {
        this.send(this.proxyReply(req, DhcpMessageType.OFFER, boot), req);
        this.counters.offers++;
        this.o.logger?.info({ ...log, boot: describe(boot) }, 'dhcp: proxy offer');
        this.event('dhcp-offer', req, req.ciaddr, `proxy, ${describe(boot)}`);
        return;
      }
      // REQUESTs on 67 belong to the site's server, even when it runs on this host and shares our address:
      // PXE firmware and iPXE ask the proxy on port 4011.
      return this.ignoreHost(req, 'proxy mode: the site DHCP server handles this');
    }
    // Port 4011: unicast back to whoever asked (PXE spec boot server exchange).
    this.counters.proxyRequests++;
    this.sendTo(this.proxyReply(req, DhcpMessageType.ACK, boot), rinfo.address, rinfo.port, 'proxy');
    this.counters.acks++;
    this.o.logger?.info({ ...log, boot: describe(boot), to: `${rinfo.address}:${rinfo.port}` }, 'dhcp: proxy ack (port 4011)');
    this.event('dhcp-ack', req, req.ciaddr, `proxy port 4011, ${describe(boot)}`);
  }

  /** Boot info for a known host; in reservation mode an unarmed host still gets its address (and boots from disk). */
  private bootFor(req: DhcpPacket, host: HostBootInfo, log: Record<string, unknown>): BootChoice {
    const arch = req.options.clientArch?.[0] ?? 0;
    if (!host.netbootArmed) {
      this.counters.notArmed++;
      this.o.logger?.info({ ...log, reason: 'netboot not armed' }, 'dhcp: address only, no boot file');
      return { kind: 'none', reason: 'netboot not armed', arch };
    }
    if (!isPxeClient(req.options) && !isIpxeClient(req.options) && !isHttpClient(req.options)) {
      return { kind: 'none', reason: 'not a PXE client', arch };
    }
    const choice = chooseBootFile(req.options, this.o.bootFiles, () => this.scriptUrlFor(host), this.bootFileUrlFor());
    if (choice.kind === 'none') this.o.logger?.warn({ ...log, reason: choice.reason }, 'dhcp: no boot file for this client');
    return choice;
  }

  private scriptUrlFor(host: HostBootInfo): string {
    const s = this.o.scriptUrl;
    if (typeof s === 'function') return s(host.mac, host);
    return expandScriptUrl(s, {
      serverIp: this.o.serverIp,
      port: this.o.httpPort ?? 80,
      mac: host.mac,
      macHyphen: host.mac.replace(/:/g, '-'),
      serverId: host.serverId,
    });
  }

  private bootFileUrlFor(): ((file: string) => string) | undefined {
    const u = this.o.bootFileUrl;
    if (u === undefined || typeof u === 'function') return u;
    return (file) => expandScriptUrl(u, { serverIp: this.o.serverIp, port: this.o.httpPort ?? 80, file });
  }

  private base(req: DhcpPacket, type: number): DhcpPacket {
    return {
      op: 2,
      htype: req.htype,
      hlen: req.hlen,
      hops: 0,
      xid: req.xid,
      secs: 0,
      flags: req.flags,
      ciaddr: ZERO,
      yiaddr: ZERO,
      siaddr: ZERO,
      giaddr: req.giaddr,
      chaddr: req.chaddr,
      sname: '',
      file: '',
      options: { messageType: type, serverId: this.o.serverIp },
    };
  }

  private applyBoot(p: DhcpPacket, req: DhcpPacket, boot: BootChoice): void {
    if (boot.kind === 'none') return;
    const name = boot.kind === 'tftp' ? boot.file : boot.url;
    p.siaddr = this.o.serverIp;
    // The 128-byte file field is what firmware PXE reads; iPXE prefers option 67, which has no such limit.
    if (Buffer.byteLength(name, 'latin1') < 128) p.file = name;
    p.options.bootfileName = name;
    if (boot.kind === 'tftp') p.options.tftpServerName = this.o.serverIp;
    // UEFI HTTP boot takes an offer as an HTTP boot offer only with vendor class HTTPClient in it.
    if (boot.kind === 'http') p.options.vendorClass = 'HTTPClient';
    if (isIpxeClient(req.options)) p.options.ipxe = new Map([[IPXE_NO_PXEDHCP, Buffer.from([1])]]);
  }

  private reply(req: DhcpPacket, type: number, host: HostBootInfo, boot: BootChoice, f: { inform?: boolean } = {}): DhcpPacket {
    const p = this.base(req, type);
    const o: DhcpOptions = p.options;
    if (f.inform) p.ciaddr = req.ciaddr;
    else {
      if (type === DhcpMessageType.ACK) p.ciaddr = req.ciaddr;
      p.yiaddr = host.ip ?? ZERO;
      o.leaseTime = this.o.leaseSeconds;
      o.renewalTime = Math.floor(this.o.leaseSeconds / 2);
      o.rebindingTime = Math.floor((this.o.leaseSeconds * 7) / 8);
    }
    if (host.netmask) o.subnetMask = host.netmask;
    if (host.gateway) o.routers = [host.gateway];
    if (host.dns?.length) o.dnsServers = host.dns;
    if (host.hostname) o.hostname = host.hostname;
    if (host.domain) o.domainName = host.domain;
    this.applyBoot(p, req, boot);
    return p;
  }

  private proxyReply(req: DhcpPacket, type: number, boot: BootChoice): DhcpPacket {
    const p = this.base(req, type);
    if (type === DhcpMessageType.ACK) p.ciaddr = req.ciaddr;
    this.applyBoot(p, req, boot);
    if (boot.kind !== 'http') {
      // Vendor class "PXEClient" marks a proxy offer; firmware then asks us again on port 4011 for the boot file.
      // (Never in reservation mode: there it would make EDK2 treat the offer as BINL and wait for a 4011 answer.)
      p.options.vendorClass = 'PXEClient';
      // PXE spec: the boot file is in this packet, skip boot-server discovery.
      p.options.pxe = new Map([[PXE_DISCOVERY_CONTROL, Buffer.from([8])]]);
    }
    // PXE spec: proxy replies echo the client's machine UUID.
    if (req.options.uuid) p.options.uuid = req.options.uuid;
    return p;
  }

  private nak(req: DhcpPacket, message: string): DhcpPacket {
    const p = this.base(req, DhcpMessageType.NAK);
    p.options.message = message;
    // RFC 2131 4.3.2: a relayed NAK must be broadcast by the relay.
    if (req.giaddr !== ZERO) p.flags |= BROADCAST_FLAG;
    return p;
  }

  private send(p: DhcpPacket, req: DhcpPacket): void {
    if (req.giaddr !== ZERO) return this.sendTo(p, req.giaddr, this.o.relayPort, 'dhcp');
    const type = p.options.messageType;
    // RFC 2131 4.1: a client that already has its address (renew, INFORM) gets unicast; everyone else broadcast,
    // since a userspace socket cannot unicast to a MAC that has no address yet.
    if (req.ciaddr !== ZERO && type !== DhcpMessageType.NAK) return this.sendTo(p, req.ciaddr, this.o.clientPort, 'dhcp');
    this.sendTo(p, this.o.broadcastAddress, this.o.clientPort, 'dhcp');
  }

  private sendTo(p: DhcpPacket, address: string, port: number, via: 'dhcp' | 'proxy'): void {
    const sock = via === 'proxy' ? this.proxySocket : this.socket;
    if (!sock) return;
    const buf = serializeDhcpPacket(p);
    sock.send(buf, port, address, (err) => {
      if (err) {
        this.counters.sendErrors++;
        this.o.logger?.warn({ err: err.message, to: `${address}:${port}` }, 'dhcp: send failed');
      }
    });
  }

  private noAddress(req: DhcpPacket, host: HostBootInfo, log: Record<string, unknown>): void {
    this.counters.noAddress++;
    this.o.logger?.warn({ ...log, server: host.name, reason: 'no reserved IPv4 address' }, 'dhcp: no answer');
    this.event('dhcp-ignored', req, ZERO, 'no reserved IPv4 address');
  }

  private ignore(req: DhcpPacket, reason: string): void {
    this.counters.ignored++;
    this.o.logger?.debug({ mac: macOf(req), xid: req.xid, reason }, 'dhcp: ignored');
  }

  /** A known host's message left unanswered: also part of its boot history. */
  private ignoreHost(req: DhcpPacket, reason: string): void {
    this.ignore(req, reason);
    this.event('dhcp-ignored', req, req.ciaddr, reason);
  }

  /** Reports to the boot history; the detail starts with what the client asked, e.g. `DISCOVER arch 7 PXEClient`. */
  private event(kind: BootEventKind, req: DhcpPacket, ip: string, outcome: string): void {
    const sink = this.o.onBootEvent;
    if (!sink) return;
    const o = req.options;
    const who = [messageTypeName(o.messageType), `arch ${o.clientArch?.[0] ?? '-'}`, o.vendorClass?.split(':')[0], isIpxeClient(o) ? 'iPXE' : undefined];
    if (req.giaddr !== ZERO) who.push(`via relay ${req.giaddr}`);
    try {
      sink({ at: Date.now(), kind, mac: macOf(req), ip, detail: `${who.filter(Boolean).join(' ')} → ${outcome}` });
    } catch (e) {
      this.counters.handlerErrors++;
      this.o.logger?.error({ err: e instanceof Error ? e.message : String(e), kind }, 'dhcp: boot event sink failed');
    }
  }
}

function describe(b: BootChoice): string {
  return b.kind === 'tftp' ? `tftp:${b.file}` : b.kind === 'none' ? `none (${b.reason})` : `${b.kind}:${b.url}`;
}
