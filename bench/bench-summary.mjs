// Benchmark summaries: the one JSON line a bench prints last under --json, which `npm run bench` (bench/all.mjs) reads.

/**
 * One row of the table `npm run bench` prints. `rackhand` and `anchor` (the number of the anchor `tool`) are shown as
 * given, with their units; `ratio` is the bench's own (its goal says which way is better); `met` null when the row
 * has no goal.
 * @typedef {{ name: string, rackhand: string, tool: string, anchor: string, ratio: number | null, goal: string, met: boolean | null }} SummaryRow
 */

/** Prints `{"bench":NAME,"rows":[…]}` on one line of stdout. */
export function printSummary(bench, rows) {
  process.stdout.write(`${JSON.stringify({ bench, rows })}\n`);
}

/** The summary in one line of a bench's output, or undefined: the last line that is such an object. */
export function findSummary(output) {
  const lines = output.split('\n').reverse();
  for (const line of lines) {
    if (!line.startsWith('{"bench":')) continue;
    try {
      const j = JSON.parse(line);
      if (typeof j.bench === 'string' && Array.isArray(j.rows)) return j;
    } catch {
      // not the summary
    }
  }
  return undefined;
}
