// `rackhand servers import FILE`: a JSON array or a CSV file read as server write records, and the import's
// problems said by where they are in the file (CSV line and column, or JSON item number), with the id and value.
import { readFileSync } from 'node:fs';
import { RackhandError } from '../errors.js';
import type { ImportProblem } from '../core/servers.js';
import { csvColumnOf, csvRowToServer, readCsv, SERVER_CSV_COLUMNS, type CsvRow } from './csv.js';

export interface ImportFile {
  items: unknown[];
  /** One problem of the import, as a line naming the file and where in it (`servers.csv line 4 (id 2): mac: …`). */
  describe(problem: ImportProblem): string;
}

/** A JSON array (or {servers: […]}) or a CSV file with a header line. Its records are checked by the import itself. */
export function readImportFile(file: string): ImportFile {
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
    return { items, describe: (p) => line(`${file} item ${p.item}`, p, p.field, p.value) };
  }
  let rows: CsvRow[];
  try {
    rows = readCsv(text, { columns: SERVER_CSV_COLUMNS });
  } catch (e) {
    throw new RackhandError('INVALID_INPUT', `${file} ${(e as Error).message}`);
  }
  return {
    items: rows.map((r) => csvRowToServer(r.record)),
    describe: (p) => {
      const row = rows[p.item - 1];
      const column = p.field === 'interfaces' ? 'mac' : csvColumnOf(p.field.split('.'));
      // The cell as written (never a password's); the import's own value when the problem is not one cell's.
      const cell = /password/.test(column) ? undefined : row?.record[column];
      return line(`${file} line ${row?.line ?? '?'}`, p, column, cell !== undefined && cell !== '' ? cell : p.value);
    },
  };
}

function line(where: string, p: ImportProblem, field: string, value: unknown): string {
  const id = p.id !== undefined ? ` (id ${JSON.stringify(p.id)})` : '';
  const shown = value === undefined || value === '' ? '' : `, got ${JSON.stringify(value)}`;
  return `${where}${id}: ${field || 'the record'}: ${p.message}${shown}`;
}
