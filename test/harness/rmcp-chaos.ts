// Test harness: a lossy, corrupting network between an RMCP+ client and a BMC, as a UdpProxy interceptor. Each
// datagram, either way, is hit with probability `rate` by the mode's fault; everything else passes untouched.
import type { Delivery, Interceptor, ProxiedDatagram } from './udp-proxy.js';
import { SETUP_AUTH_CODE_OFFSET, SETUP_SESSION_ID_OFFSETS, rmcpDatagram, seededRandom } from './rmcp-datagram.js';

export const CHAOS_MODES = ['flip', 'truncate', 'duplicate', 'replay', 'drop', 'delay', 'reorder', 'swap-session', 'bad-hmac'] as const;
export type ChaosMode = (typeof CHAOS_MODES)[number];

export interface ChaosOptions {
  rate: number;
  seed: number;
  /** delay: how late a delayed datagram arrives (ms); default 300..1500. */
  delayMs?: [number, number];
  /** Integrity code length of the cipher suite in use (12 for suite 3, 16 for 17). */
  authCodeLength?: number;
}

export interface Chaos {
  interceptor: Interceptor;
  /** Datagrams the fault was applied to. */
  readonly hits: number;
}

const HISTORY = 64;

export function rmcpChaos(mode: ChaosMode, o: ChaosOptions): Chaos {
  const random = seededRandom(o.seed);
  const int = (n: number): number => Math.floor(random() * n);
  const [dMin, dMax] = o.delayMs ?? [300, 1500];
  const authLen = o.authCodeLength ?? 12;
  const history: Record<string, Buffer[]> = { 'to-server': [], 'to-client': [] };
  const sessionIds: number[] = [];
  /** reorder: the datagram held back per flow and direction, released after the next one. */
  const held = new Map<string, { data: Buffer; timer: NodeJS.Timeout }>();
  const state = { hits: 0 };

  const remember = (d: ProxiedDatagram): void => {
    const h = history[d.dir];
    h.push(d.data);
    if (h.length > HISTORY) h.shift();
    const v = rmcpDatagram(d.data, authLen);
    if (v.sessionIdOffset !== undefined && d.data.length >= v.sessionIdOffset + 4) {
      const id = d.data.readUInt32LE(v.sessionIdOffset);
      if (id !== 0 && !sessionIds.includes(id)) sessionIds.push(id);
      if (sessionIds.length > HISTORY) sessionIds.shift();
    }
  };

  const otherSessionId = (current: number): number => {
    const choices = sessionIds.filter((x) => x !== current);
    return choices.length > 0 && random() < 0.5 ? choices[int(choices.length)] : (int(0xffffffff) + 1) >>> 0;
  };

  const fault = (d: ProxiedDatagram): Delivery | undefined => {
    const b = d.data;
    switch (mode) {
      case 'flip': {
        if (b.length === 0) return undefined;
        const c = Buffer.from(b);
        c[int(c.length)] ^= 1 << int(8);
        return [{ data: c }];
      }
      case 'truncate':
        return b.length === 0 ? undefined : [{ data: Buffer.from(b.subarray(0, int(b.length))) }];
      case 'duplicate':
        return [{ data: b }, { data: b, delayMs: int(50) }];
      case 'replay': {
        const h = history[d.dir].filter((x) => x !== b);
        return h.length === 0 ? [] : [{ data: h[int(h.length)] }];
      }
      case 'drop':
        return [];
      case 'delay':
        return [{ data: b, delayMs: dMin + int(dMax - dMin + 1) }];
      case 'swap-session': {
        const v = rmcpDatagram(b, authLen);
        const at: number[] = [];
        if (v.sessionIdOffset !== undefined) at.push(v.sessionIdOffset);
        if (v.kind === 'ipmi20' && v.payloadType !== undefined && v.payloadOffset !== undefined) {
          for (const off of SETUP_SESSION_ID_OFFSETS[v.payloadType] ?? []) at.push(v.payloadOffset + off);
        }
        const where = at.filter((x) => b.length >= x + 4);
        if (where.length === 0) return undefined;
        const c = Buffer.from(b);
        // The header id of a setup message is 0: swap the one inside the payload instead.
        const pick = where.find((x) => c.readUInt32LE(x) !== 0) ?? where[0];
        c.writeUInt32LE(otherSessionId(c.readUInt32LE(pick)), pick);
        return [{ data: c }];
      }
      case 'bad-hmac': {
        const v = rmcpDatagram(b, authLen);
        let from: number | undefined;
        let len = 0;
        if (v.kind === 'ipmi20' && v.authenticated && v.authCodeOffset !== undefined) {
          from = v.authCodeOffset;
          len = b.length - from;
        } else if (v.kind === 'ipmi20' && v.payloadType !== undefined && SETUP_AUTH_CODE_OFFSET[v.payloadType] !== undefined) {
          from = v.payloadOffset! + SETUP_AUTH_CODE_OFFSET[v.payloadType];
          len = b.length - from;
        }
        if (from === undefined || len <= 0) return undefined;
        const c = Buffer.from(b);
        c[from + int(len)] ^= 1 << int(8);
        return [{ data: c }];
      }
      case 'reorder':
        return undefined; // handled with state below
    }
  };

  const interceptor: Interceptor = (d) => {
    const key = `${d.client}/${d.dir}`;
    const before = held.get(key);
    let out: Delivery | undefined;
    if (mode === 'reorder' && !before && random() < o.rate) {
      // Hold this one; it goes out right after the next datagram of this flow (or on its own after 500 ms).
      const timer = setTimeout(() => {
        held.delete(key);
        d.send(d.data);
      }, 500);
      timer.unref();
      held.set(key, { data: d.data, timer });
      state.hits++;
      remember(d);
      return [];
    }
    if (mode !== 'reorder' && random() < o.rate) {
      out = fault(d);
      if (out !== undefined) state.hits++;
    }
    remember(d);
    if (before) {
      clearTimeout(before.timer);
      held.delete(key);
      return [...(out ?? [{ data: d.data }]), { data: before.data }];
    }
    return out;
  };

  return {
    interceptor,
    get hits() {
      return state.hits;
    },
  };
}
