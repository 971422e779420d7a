// Types of bench-summary.mjs for the TypeScript benches.
export interface SummaryRow {
  name: string;
  rackhand: string;
  /** The anchor's name (ipmipower, tftpd-hpa, …). */
  tool: string;
  anchor: string;
  ratio: number | null;
  goal: string;
  met: boolean | null;
}
export function printSummary(bench: string, rows: SummaryRow[]): void;
export function findSummary(output: string): { bench: string; rows: SummaryRow[] } | undefined;
