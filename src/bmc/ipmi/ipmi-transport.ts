// UDP for RMCP+ sessions: a few shared sockets, each serving many BMCs, demultiplexed by the BMC's address:port.
// Sharing saves a socket (create/bind/epoll/close) per session, which dominates a fan-out to hundreds of BMCs.
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { RackhandError } from '../../errors.js';

/** One session's view of the transport: datagrams to and from exactly one BMC endpoint. */
export interface IpmiLink {
  send(buf: Buffer): void;
  close(): void;
}

export interface IpmiTransport {
  /** Routes datagrams from host:port to onDatagram until the link is closed. */
  open(host: string, port: number, onDatagram: (buf: Buffer) => void): Promise<IpmiLink>;
  close(): Promise<void>;
}

interface SharedSocket {
  socket: dgram.Socket;
  routes: Map<string, (buf: Buffer) => void>;
  ready: Promise<void>;
}

export interface UdpTransportOptions {
  /** BMC endpoints per socket before another socket is opened (each socket has one receive buffer). */
  endpointsPerSocket?: number;
  /** Requested SO_RCVBUF; the kernel caps it at net.core.rmem_max. */
  receiveBufferBytes?: number;
}

export class UdpTransport implements IpmiTransport {
  /** Datagrams from endpoints no session listens to (late answers after close, strangers). */
  strays = 0;
  private readonly pools: Record<'udp4' | 'udp6', SharedSocket[]> = { udp4: [], udp6: [] };
  private readonly perSocket: number;
  private readonly rcvbuf: number;
  private closed = false;

  constructor(opts: UdpTransportOptions = {}) {
    this.perSocket = Math.max(1, opts.endpointsPerSocket ?? 128);
    this.rcvbuf = opts.receiveBufferBytes ?? 4 * 1024 * 1024;
  }

  private static key(address: string, port: number): string {
    return `${address}|${port}`;
  }

  /** Creates and registers a socket at once (so concurrent open() calls share it); bound when `ready` settles. */
  private newSocket(type: 'udp4' | 'udp6'): SharedSocket {
    // Addresses are resolved once in open(): answer dgram's per-send lookup synchronously instead of paying
    // dns.lookup's nextTick round for every datagram.
    const socket = dgram.createSocket({
      type,
      lookup: ((address: string, _family: unknown, cb: (err: null, address: string, family: number) => void) => cb(null, address, type === 'udp6' ? 6 : 4)) as unknown as dgram.SocketOptions['lookup'],
    });
    const routes = new Map<string, (buf: Buffer) => void>();
    // An unconnected UDP socket reports no ICMP errors on Linux; lost answers surface as session timeouts.
    socket.on('error', () => undefined);
    socket.on('message', (buf, rinfo) => {
      const route = routes.get(UdpTransport.key(rinfo.address, rinfo.port));
      if (route) route(buf);
      else this.strays++;
    });
    const ready = new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.off('error', reject);
        try {
          socket.setRecvBufferSize(this.rcvbuf);
        } catch {
          // capped or refused: the default buffer still works for modest fan-outs
        }
        resolve();
      });
    });
    ready.catch(() => undefined);
    return { socket, routes, ready };
  }

  async open(host: string, port: number, onDatagram: (buf: Buffer) => void): Promise<IpmiLink> {
    if (this.closed) throw new RackhandError('BMC_ERROR', 'ipmi transport is closed');
    let address = host;
    if (!isIP(host)) {
      try {
        address = (await lookup(host)).address;
      } catch (e) {
        throw new RackhandError('BMC_UNREACHABLE', `cannot resolve ${host}: ${(e as Error).message}`);
      }
    }
    const type = isIP(address) === 6 ? 'udp6' : 'udp4';
    const key = UdpTransport.key(address, port);
    const pool = this.pools[type];
    let shared = pool.find((s) => s.routes.size < this.perSocket && !s.routes.has(key));
    if (!shared) {
      shared = this.newSocket(type);
      pool.push(shared);
    }
    const s = shared;
    s.routes.set(key, onDatagram);
    try {
      await s.ready;
    } catch (e) {
      s.routes.delete(key);
      throw new RackhandError('BMC_UNREACHABLE', `cannot open a UDP socket: ${(e as Error).message}`);
    }
    let open = true;
    return {
      send: (buf) => {
        if (!open) return;
        try {
          s.socket.send(buf, port, address);
        } catch {
          // socket closed under us: the session's retransmit timer reports the failure
        }
      },
      close: () => {
        if (!open) return;
        open = false;
        if (s.routes.get(key) === onDatagram) s.routes.delete(key);
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pools.udp4, ...this.pools.udp6];
    this.pools.udp4 = [];
    this.pools.udp6 = [];
    await Promise.all(all.map((s) => new Promise<void>((resolve) => {
      s.routes.clear();
      try {
        s.socket.close(() => resolve());
      } catch {
        resolve();
      }
    })));
  }
}
