// Fuzz run: 10^5 fuzzed datagrams per RMCP+ decoder stage, delivered on the live session socket of rackhand's
// native driver (see test/bmc/ipmi/rmcp-fuzz.ts): mutated replies of a real ipmi_sim per handshake stage, and
// authenticated garbage from a fake BMC for each driver operation. Prints cases, crashes, unstable outcomes and
// rejected datagrams per stage. Run via fuzz-ipmi.sh; CASES sets the datagrams per stage (default 100000).
import fc from 'fast-check';
import {
  INNER_OPS, WIRE_STAGES, innerAnswerArb, mutationArb, startInnerFuzz, startWireFuzz, type InnerAnswer, type Mutation,
} from '../test/bmc/ipmi/rmcp-fuzz.js';

const CASES = Number(process.env.CASES ?? 100_000);
const SEED = Number(process.env.SEED ?? 1);

let crashes = 0;
// A throw out of a socket handler would end a daemon; here it is counted, and the run goes on.
process.on('uncaughtException', (e) => {
  crashes++;
  console.error(`uncaught: ${(e as Error).stack ?? String(e)}`);
});

interface Row {
  stage: string;
  cases: number;
  reads: number;
  crashes: number;
  unstable: number;
  rejected: number;
  outcomes: Record<string, number>;
}

function print(r: Row): void {
  const top = Object.entries(r.outcomes).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v]) => `${k} ${v}`).join(', ');
  console.log(`${r.stage.padEnd(22)}${String(r.cases).padStart(8)}${String(r.reads).padStart(8)}${String(r.crashes).padStart(8)}${String(r.unstable).padStart(9)}${String(r.rejected).padStart(10)}   ${top}`);
}

/** Runs `step` until CASES fuzzed datagrams went out; the driver's counters before and after give the rest. */
async function stage(
  name: string,
  step: (batch: number) => Promise<{ delivered: number; outcome: string; label: string }[]>,
  counters: () => { rejectedDatagrams: number; handlerErrors: number },
): Promise<Row> {
  const row: Row = { stage: name, cases: 0, reads: 0, crashes: 0, unstable: 0, rejected: 0, outcomes: {} };
  const before = counters();
  const crashesBefore = crashes;
  for (let batch = 0; row.cases < CASES; batch++) {
    for (const r of await step(batch)) {
      row.reads++;
      row.cases += r.delivered;
      row.outcomes[r.label] = (row.outcomes[r.label] ?? 0) + 1;
      if (r.outcome.startsWith('UNSTABLE')) {
        row.unstable++;
        console.error(`unstable: ${name}: ${r.label}`);
      }
    }
  }
  const after = counters();
  row.rejected = after.rejectedDatagrams - before.rejectedDatagrams;
  row.crashes = crashes - crashesBefore + after.handlerErrors - before.handlerErrors;
  print(row);
  return row;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  console.log(`RMCP+ fuzz on the live socket: ${CASES} fuzzed datagrams per stage, seed ${SEED}`);
  console.log(`${'stage'.padEnd(22)}${'cases'.padStart(8)}${'reads'.padStart(8)}${'crashes'.padStart(8)}${'unstable'.padStart(9)}${'rejected'.padStart(10)}   outcomes of the reads`);
  const rows: Row[] = [];
  const wire = await startWireFuzz();
  try {
    for (const [si, name] of WIRE_STAGES.entries()) {
      rows.push(await stage(`wire ${name}`, async (batch) => {
        const inputs: Mutation[][] = fc.sample(fc.array(mutationArb, { minLength: 10, maxLength: 40 }), { numRuns: 50, seed: SEED * 1_000_003 + si * 10_007 + batch });
        const out = [];
        for (const mutations of inputs) {
          const r = await wire.run(name, mutations);
          out.push({ ...r, label: r.outcome });
        }
        return out;
      }, () => wire.driver.stats()));
    }
  } finally {
    await wire.stop();
  }
  const inner = await startInnerFuzz();
  try {
    rows.push(await stage('inner (all operations)', async (batch) => {
      const inputs: [string, InnerAnswer[][]][] = fc.sample(
        fc.tuple(fc.constantFrom(...INNER_OPS), fc.array(fc.array(innerAnswerArb, { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 8 })),
        { numRuns: 50, seed: SEED * 7_000_001 + batch },
      );
      const out = [];
      for (const [op, answers] of inputs) {
        const r = await inner.run(op as (typeof INNER_OPS)[number], answers);
        out.push({ ...r, label: `${op} ${r.outcome}` });
      }
      return out;
    }, () => inner.driver.stats()));
  } finally {
    await inner.stop();
  }
  const sum = (k: 'cases' | 'crashes' | 'unstable' | 'rejected'): number => rows.reduce((n, r) => n + r[k], 0);
  console.log('');
  console.log(`total: ${sum('cases')} cases, ${sum('crashes')} crashes, ${sum('unstable')} unstable outcomes, ${sum('rejected')} rejected datagrams, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  process.exitCode = sum('crashes') + sum('unstable') > 0 ? 1 : 0;
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(2);
});
