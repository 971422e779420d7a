// Fuzzing the RMCP+ response decoders through the live session socket (fast-check; bench/fuzz-ipmi.ts runs 10^5
// cases): mutated replies of every handshake stage from a real ipmi_sim, and authenticated garbage from a fake BMC
// for each driver operation. Nothing escapes a socket handler, every call ends in a value or a stable code, and
// the bad datagrams are counted as rejected.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  INNER_OPS, WIRE_STAGES, innerAnswerArb, mutationArb, startInnerFuzz, startWireFuzz, type InnerFuzz, type WireFuzz,
} from './rmcp-fuzz.js';

let wire: WireFuzz;
let inner: InnerFuzz;
beforeAll(async () => {
  wire = await startWireFuzz();
  inner = await startInnerFuzz();
});
afterAll(async () => {
  await wire?.stop();
  await inner?.stop();
});

describe('RMCP+ decoders fuzzed on the live socket', () => {
  it('mutated handshake and in-session replies from ipmi_sim: stable outcomes, rejected datagrams counted', async () => {
    let delivered = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...WIRE_STAGES), fc.array(mutationArb, { minLength: 1, maxLength: 12 }), async (stage, mutations) => {
        const r = await wire.run(stage, mutations);
        delivered += r.delivered;
        expect(r.outcome).not.toMatch(/^UNSTABLE/);
      }),
      { numRuns: 60 },
    );
    const s = wire.driver.stats();
    expect(delivered).toBeGreaterThan(60);
    expect(s.handlerErrors).toBe(0);
    expect(s.rejectedDatagrams).toBeGreaterThan(0);
  }, 180_000);

  it('authenticated garbage for every driver operation: values or stable codes, never another exception', async () => {
    let delivered = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...INNER_OPS),
        fc.array(fc.array(innerAnswerArb, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 6 }),
        async (op, answers) => {
          const r = await inner.run(op, answers);
          delivered += r.delivered;
          expect(r.outcome).not.toMatch(/^UNSTABLE/);
        },
      ),
      { numRuns: 100 },
    );
    expect(delivered).toBeGreaterThan(100);
    expect(inner.driver.stats().handlerErrors).toBe(0);
    expect(inner.driver.stats().rejectedDatagrams).toBeGreaterThan(0);
  }, 180_000);
});
