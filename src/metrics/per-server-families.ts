// The families with a sample per server (and sensor), written straight to the text format in slices.
//
// Why not prom-client, as every other family: at 50,000 servers a scrape set hundreds of thousands of label sets
// (an object, a hash and a map entry each) and rendered them in one go, which held the event loop, so every API
// request, for 270-600 ms per scrape (bench/api.mjs). Here each sample is one line written from the stored rows as
// they are read (the sources read their rows a page at a time), and the writer yields to the event loop between
// slices, so a scrape delays a request by one slice at most.

export interface FamilyHead {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
}

export interface PerServerSample {
  /** Index of the sample's family in the heads. */
  family: number;
  /** Label names and values, in the order written. */
  labels: readonly (readonly [string, string | number])[];
  value: number;
}

/** Samples written between two yields to the event loop. */
const SLICE = 2_000;

/**
 * Appends every family (HELP, TYPE, then its samples) to `out`, its samples a slice per element: the route writes
 * them one by one, never one string of the whole scrape (2 MiB at 50,000 servers, which held the event loop for
 * 20-30 ms to build and to send). Each slice's lines are joined into one string as soon as it is full, so what the
 * scrape holds until it is written is a few flat strings, not one small string per sample for every young-generation
 * collection to copy (at 50,000 servers those collections took 6-12 ms each, every 25-30 ms of a scrape). The
 * sources are drained in turn, lazily, one slice at a time; a source may feed several families (one pass over the
 * sensor rows fills five).
 */
export async function writePerServerFamilies(heads: readonly FamilyHead[], sources: readonly Iterable<PerServerSample>[], out: string[]): Promise<void> {
  const bodies = heads.map(() => ({ slices: [] as string[], lines: [] as string[] }));
  let sinceYield = 0;
  for (const source of sources) {
    for (const s of source) {
      const body = bodies[s.family];
      body.lines.push(`${heads[s.family].name}{${s.labels.map(([k, v]) => `${k}="${escapeLabel(String(v))}"`).join(',')}} ${formatValue(s.value)}\n`);
      if (body.lines.length >= SLICE) {
        body.slices.push(body.lines.join(''));
        body.lines = [];
      }
      if (++sinceYield >= SLICE) {
        sinceYield = 0;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
  }
  heads.forEach((h, i) => {
    out.push(`# HELP ${h.name} ${escapeHelp(h.help)}\n# TYPE ${h.name} ${h.type}\n`, ...bodies[i].slices);
    if (bodies[i].lines.length) out.push(bodies[i].lines.join(''));
  });
}

/** Label values: backslash, double quote and line feed escaped (the text format's rule). */
function escapeLabel(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`)) : v;
}

function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\\\'));
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
