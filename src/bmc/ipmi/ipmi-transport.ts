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
  /** Retransmit deadlines of every session on this transport; sessions bring their own when absent. */
  readonly clock?: DeadlineClock;
}

/** Something that expires at `deadline` (ms on the performance.now() clock) unless taken off the clock first. */
export interface Deadline {
  deadline: number;
  expire(): void;
}

/**
 * One interval timer for every pending exchange instead of a setTimeout per packet (a fan-out arms and clears
 * thousands): deadlines are checked every `resolutionMs` while anything waits, and the timer stops when nothing
 * does. A retransmit may thus go out up to `resolutionMs` late, against timeouts of hundreds of ms.
 */
export class DeadlineClock {
  private readonly waiting = new Set<Deadline>();
  private timer?: NodeJS.Timeout;

  constructor(private readonly resolutionMs = 10) {}

  /** Exchanges waiting for an answer right now. */
  get size(): number {
    return this.waiting.size;
  }

  add(d: Deadline): void {
    this.waiting.add(d);
    this.timer ??= setInterval(this.tick, this.resolutionMs);
  }

  delete(d: Deadline): void {
    this.waiting.delete(d);
    if (this.waiting.size === 0) this.stop();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private readonly tick = (): void => {
    const now = performance.now();
    for (const d of this.waiting) {
      if (d.deadline > now) continue;
      this.waiting.delete(d);
      d.expire(); // may put d back with a later deadline (a retransmit)
    }
    if (this.waiting.size === 0) this.stop();
  };
}

/** One BMC endpoint on a shared socket; endpoints on the same port (other hosts) chain through `next`. */
interface Route {
  address: string;
  onDatagram: (buf: Buffer) => void;
  next?: Route;
}

interface SharedSocket {
  socket: dgram.Socket;
  /** Routes by source port first: a number key needs no string built per datagram. */
  routes: Map<number, Route>;
  endpoints: number;
  ready: Promise<void>;
}

function findRoute(routes: Map<number, Route>, address: string, port: number): Route | undefined {
  for (let r = routes.get(port); r; r = r.next) if (r.address === address) return r;
  return undefined;
}

function removeRoute(routes: Map<number, Route>, port: number, route: Route): boolean {
  let prev: Route | undefined;
  for (let r = routes.get(port); r; prev = r, r = r.next) {
    if (r !== route) continue;
    if (prev) prev.next = r.next;
    else if (r.next) routes.set(port, r.next);
    else routes.delete(port);
    return true;
  }
  return false;
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
  /** Datagrams whose session handler threw; sessions catch their own errors, so this stays 0 unless one has a bug. */
  handlerErrors = 0;
  readonly clock = new DeadlineClock();
  private readonly pools: Record<'udp4' | 'udp6', SharedSocket[]> = { udp4: [], udp6: [] };
  private readonly perSocket: number;
  private readonly rcvbuf: number;
  private closed = false;

  constructor(opts: UdpTransportOptions = {}) {
    this.perSocket = Math.max(1, opts.endpointsPerSocket ?? 128);
    this.rcvbuf = opts.receiveBufferBytes ?? 4 * 1024 * 1024;
  }

  /** Creates and registers a socket at once (so concurrent open() calls share it); bound when `ready` settles. */
  private newSocket(type: 'udp4' | 'udp6'): SharedSocket {
    // Addresses are resolved once in open(): answer dgram's per-send lookup synchronously instead of paying
    // dns.lookup's nextTick round for every datagram.
    const socket = dgram.createSocket({
      type,
      lookup: ((address: string, _family: unknown, cb: (err: null, address: string, family: number) => void) => cb(null, address, type === 'udp6' ? 6 : 4)) as unknown as dgram.SocketOptions['lookup'],
    });
    const routes = new Map<number, Route>();
    // An unconnected UDP socket reports no ICMP errors on Linux; lost answers surface as session timeouts.
    socket.on('error', () => undefined);
    socket.on('message', (buf, rinfo) => {
      const route = findRoute(routes, rinfo.address, rinfo.port);
      if (!route) {
        this.strays++;
        return;
      }
      // The last guard between a datagram and the process: an exception here would be uncaught.
      try {
        route.onDatagram(buf);
      } catch {
        this.handlerErrors++;
      }
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
    return { socket, routes, endpoints: 0, ready };
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
    const pool = this.pools[type];
    let shared = pool.find((s) => s.endpoints < this.perSocket && !findRoute(s.routes, address, port));
    if (!shared) {
      shared = this.newSocket(type);
      pool.push(shared);
    }
    const s = shared;
    const route: Route = { address, onDatagram, next: s.routes.get(port) };
    s.routes.set(port, route);
    s.endpoints++;
    const unroute = (): void => {
      if (removeRoute(s.routes, port, route)) s.endpoints--;
    };
    try {
      await s.ready;
    } catch (e) {
      unroute();
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
        unroute();
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
      s.endpoints = 0;
      try {
        s.socket.close(() => resolve());
      } catch {
        resolve();
      }
    })));
  }
}
