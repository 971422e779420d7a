// Test harness: a UDP proxy between clients and one server (a BMC) that hands every datagram, both ways, to an
// interceptor which may pass it, drop it, change it, send it twice or later; one upstream socket per client.
import { createSocket, type Socket } from 'node:dgram';

export type Direction = 'to-server' | 'to-client';

export interface ProxiedDatagram {
  dir: Direction;
  data: Buffer;
  /** "address:port" of the client this flow belongs to. */
  client: string;
  /** Sends a datagram on this datagram's path at any later time (for interceptors that hold one back). */
  send(b: Buffer): void;
}

/** What to send in place of one datagram: nothing (drop), or these buffers, each after its delay. */
export type Delivery = { data: Buffer; delayMs?: number }[];

/** Returns undefined to pass the datagram unchanged. */
export type Interceptor = (d: ProxiedDatagram) => Delivery | undefined;

export interface UdpProxy {
  port: number;
  /** Datagrams seen per direction, and how many the interceptor changed (anything but a plain pass). */
  readonly stats: { toServer: number; toClient: number; intercepted: number };
  setInterceptor(i: Interceptor | undefined): void;
  stop(): Promise<void>;
}

interface Flow {
  upstream: Socket;
  address: string;
  port: number;
}

export async function startUdpProxy(server: { host: string; port: number }, interceptor?: Interceptor): Promise<UdpProxy> {
  let intercept = interceptor;
  const stats = { toServer: 0, toClient: 0, intercepted: 0 };
  const flows = new Map<string, Flow>();
  const timers = new Set<NodeJS.Timeout>();
  const front = createSocket('udp4');
  front.on('error', () => undefined);
  let stopped = false;

  const deliver = (d: Omit<ProxiedDatagram, 'send'>, raw: (b: Buffer) => void): void => {
    const send = (b: Buffer): void => {
      if (!stopped) raw(b);
    };
    let out: Delivery | undefined;
    try {
      out = intercept?.({ ...d, send });
    } catch {
      out = undefined; // a broken interceptor must not stop the proxy
    }
    if (out === undefined) return send(d.data);
    stats.intercepted++;
    for (const o of out) {
      if (!o.delayMs) {
        send(o.data);
        continue;
      }
      const t = setTimeout(() => {
        timers.delete(t);
        send(o.data);
      }, o.delayMs);
      timers.add(t);
    }
  };

  const flowFor = async (address: string, port: number): Promise<Flow> => {
    const key = `${address}:${port}`;
    let f = flows.get(key);
    if (f) return f;
    const upstream = createSocket('udp4');
    upstream.on('error', () => undefined);
    f = { upstream, address, port };
    flows.set(key, f);
    upstream.on('message', (buf) => {
      stats.toClient++;
      deliver({ dir: 'to-client', data: buf, client: key }, (b) => front.send(b, port, address));
    });
    await new Promise<void>((r) => upstream.bind(0, '127.0.0.1', () => r()));
    return f;
  };

  front.on('message', (buf, rinfo) => {
    stats.toServer++;
    void flowFor(rinfo.address, rinfo.port).then((f) => {
      deliver({ dir: 'to-server', data: buf, client: `${rinfo.address}:${rinfo.port}` }, (b) => f.upstream.send(b, server.port, server.host));
    });
  });
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));

  return {
    port: front.address().port,
    stats,
    setInterceptor: (i) => {
      intercept = i;
    },
    stop: async () => {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const all = [front, ...[...flows.values()].map((f) => f.upstream)];
      flows.clear();
      await Promise.all(all.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
