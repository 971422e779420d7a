// `rackhand servers import FILE`: a JSON array or a CSV file read and checked, every bad record named at once.
import { readFileSync } from 'node:fs';
import { RackhandError } from '../errors.js';
import { serverInputSchema } from '../domain/server.js';
import { csvColumnOf, csvRowToServer, readCsv, SERVER_CSV_COLUMNS, type CsvRow } from './csv.js';
import { ProblemList } from './one-line-error.js';

/**
 * A JSON array (or {servers: […]}) or a CSV file with a header line, as server input records. Every invalid
 * record is reported at once, by CSV line (or JSON item number) and id, naming the column and its value.
 */
export function readImportFile(file: string): unknown[] {
  const text = readFileSync(file, 'utf8');
  if (/^\s*[[{]/.test(text)) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new RackhandError('INVALID_INPUT', `${file}: not valid JSON (${(e as Error).message}); expected an array of servers`);
    }
    const items = Array.isArray(doc) ? doc : (doc as { servers?: unknown }).servers;
    if (!Array.isArray(items)) throw new RackhandError('INVALID_INPUT', `${file}: expected a JSON array of servers (or {"servers": […]})`);
    checkRecords(items.map((item, i) => ({ where: `${file} item ${i + 1}`, item, column: (p: PropertyKey[]) => p.map(String).join('.') })));
    return items;
  }
  let rows: CsvRow[];
  try {
    rows = readCsv(text, { columns: SERVER_CSV_COLUMNS });
  } catch (e) {
    throw new RackhandError('INVALID_INPUT', `${file} ${(e as Error).message}`);
  }
  const items = rows.map((r) => csvRowToServer(r.record));
  checkRecords(rows.map((r, i) => ({ where: `${file} line ${r.line}`, item: items[i], column: csvColumnOf, raw: r.record })));
  return items;
}

function checkRecords(records: { where: string; item: unknown; column: (p: PropertyKey[]) => string; raw?: Record<string, string> }[]): void {
  const problems: string[] = [];
  for (const r of records) {
    const parsed = serverInputSchema.safeParse(r.item);
    if (parsed.success) continue;
    const id = (r.item as { id?: unknown })?.id;
    for (const issue of parsed.error.issues) {
      const column = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : r.column(issue.path);
      // never echo a secret back
      const value = /password/.test(column) ? undefined : r.raw ? r.raw[column] : valueAtPath(r.item, issue.path);
      const shown = value === undefined || value === '' ? '' : `, got ${JSON.stringify(value)}`;
      problems.push(`${r.where}${id !== undefined ? ` (id ${JSON.stringify(id)})` : ''}: ${column || 'the record'}: ${issue.message.replace(/^Invalid (input|option): /, '')}${shown}`);
    }
  }
  if (problems.length) throw new ProblemList([...problems, `nothing was imported (${problems.length} problem${problems.length === 1 ? '' : 's'})`]);
}

function valueAtPath(o: unknown, p: PropertyKey[]): unknown {
  let v = o;
  for (const k of p) v = v && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v !== null && typeof v === 'object' ? undefined : v;
}
