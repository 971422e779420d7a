// The native driver through a lossy, corrupting proxy in front of real ipmi_sim BMCs, every chaos mode (a small
// version of bench/ipmi-chaos): never a wrong power state, every failure a stable BMC code, nothing thrown out of a
// socket handler, and the corrupt datagrams are counted as rejected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimFarm, type SimFarm } from '../../harness/ipmi-sim.js';
import { startUdpProxy, type UdpProxy } from '../../harness/udp-proxy.js';
import { CHAOS_MODES, rmcpChaos } from '../../harness/rmcp-chaos.js';
import { IpmiDriver } from '../../../src/bmc/ipmi/ipmi-driver.js';

const READS = 5;
const STABLE = ['BMC_TIMEOUT', 'BMC_ERROR', 'BMC_AUTH_FAILED', 'BMC_UNSUPPORTED', 'BMC_BUSY', 'BMC_UNREACHABLE'];
/** Modes that put a bad datagram in front of the session (not just lose or delay one). */
const CORRUPTING = new Set(['flip', 'truncate', 'duplicate', 'replay', 'swap-session', 'bad-hmac']);

let farm: SimFarm;
const proxies: UdpProxy[] = [];

beforeAll(async () => {
  farm = await startSimFarm({ count: CHAOS_MODES.length, maxSessions: 63 });
  for (const b of farm.bmcs) proxies.push(await startUdpProxy({ host: b.host, port: b.port }));
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  await farm?.stop();
});

describe('native driver through a chaos proxy (rate 0.2 per datagram, both ways)', () => {
  it.each(CHAOS_MODES.map((m, i) => [m, i] as const))('%s: no wrong result, stable codes only, bad datagrams rejected', async (mode, i) => {
    const chaos = rmcpChaos(mode, { rate: 0.2, seed: 4242 + i, delayMs: [50, 400] });
    proxies[i].setInterceptor(chaos.interceptor);
    const driver = new IpmiDriver({ timeoutMs: 200, retries: 3, reuseSessions: false });
    const outcomes: string[] = [];
    try {
      for (let r = 0; r < READS; r++) {
        const truth = r % 2 === 0 ? 'off' : 'on';
        farm.setPower(i, truth);
        const t = { host: '127.0.0.1', port: proxies[i].port, username: 'admin', password: farm.bmcs[i].password, cipherSuite: 3, privilege: 'administrator' as const };
        try {
          const got = await driver.powerStatus(t);
          outcomes.push(got === truth ? 'ok' : `WRONG: ${got}, truth ${truth}`);
        } catch (e) {
          const code = (e as { code?: string }).code ?? 'THROWN';
          expect(STABLE, `${code}: ${(e as Error).message}`).toContain(code);
          outcomes.push(code);
        }
      }
      expect(outcomes.filter((o) => o.startsWith('WRONG'))).toEqual([]);
      expect(chaos.hits).toBeGreaterThan(0);
      const stats = driver.stats();
      expect(stats.handlerErrors).toBe(0);
      if (CORRUPTING.has(mode)) expect(stats.rejectedDatagrams).toBeGreaterThan(0);
    } finally {
      proxies[i].setInterceptor(undefined);
      await driver.close();
    }
  }, 120_000);
});
