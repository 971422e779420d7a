// A small RFC 4180 CSV reader for `rackhand servers import FILE.csv`.
import { closestName } from '../config.js';

/** The columns csvRowToServer reads; a file with any other is refused rather than half imported. */
export const SERVER_CSV_COLUMNS = [
  'id', 'name', 'status', 'type', 'location', 'location_id', 'datacenter', 'rack', 'rack_position', 'configuration', 'preset', 'owner_id',
  'interface', 'mac', 'ip', 'switch', 'switch_port',
  'bmc_driver', 'bmc_host', 'bmc_port', 'bmc_username', 'bmc_password', 'bmc_model', 'bmc_cipher_suite',
  'console_host', 'console_port', 'console_password',
] as const;

/**
 * Records keyed by the header line. With `columns`, a header naming anything else (a misspelt `bmc_pasword`
 * would otherwise be dropped silently) or naming a column twice is refused.
 */
export function parseCsv(text: string, opts: { columns?: readonly string[] } = {}): Record<string, string>[] {
  return readCsv(text, opts).map((r) => r.record);
}

/** A data row and the file line it starts on (for messages). */
export interface CsvRow {
  line: number;
  record: Record<string, string>;
}

/** parseCsv with each row's line number. */
export function readCsv(text: string, opts: { columns?: readonly string[] } = {}): CsvRow[] {
  const rows: { fields: string[]; line: number }[] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let rowLine = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field), rows.push({ fields: row, line: rowLine }), (row = []), (field = '');
      rowLine = ++line;
    } else field += c;
  }
  if (quoted) throw new Error(`line ${rowLine}: a quoted field is not closed (a " is missing)`);
  if (field !== '' || row.length) row.push(field), rows.push({ fields: row, line: rowLine });
  const nonEmpty = rows.filter((r) => r.fields.some((f) => f.trim() !== ''));
  const [header, ...data] = nonEmpty;
  if (!header) return [];
  const names = header.fields.map((h) => h.trim());
  if (opts.columns) checkHeader(names, opts.columns, header.line);
  return data.map((r) => {
    if (r.fields.length !== names.length) {
      throw new Error(`line ${r.line}: ${r.fields.length} fields, the header has ${names.length} (every row needs one field per column; quote a field that contains a comma)`);
    }
    return { line: r.line, record: Object.fromEntries(names.map((h, i) => [h, r.fields[i]])) };
  });
}

function checkHeader(names: string[], columns: readonly string[], line: number): void {
  const problems: string[] = [];
  names.forEach((n, i) => {
    if (names.indexOf(n) !== i) problems.push(`column ${n} appears twice`);
    else if (!columns.includes(n)) {
      const near = closestName(n, [...columns]);
      problems.push(`unknown column ${n || '(empty)'}${near ? ` (did you mean ${near}?)` : ''}`);
    }
  });
  if (problems.length) throw new Error(`line ${line}: ${problems.join('; ')}; the columns are ${columns.join(', ')}`);
}

/** A number column; anything else stays text, so validation names the column and the value instead of a null. */
const num = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v.trim());
const opt = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());

/**
 * One CSV row → the server input shape. Columns: id, name, status, type, location, location_id, datacenter, rack,
 * rack_position, configuration, preset, owner_id, interface, mac, ip, switch, switch_port, bmc_driver, bmc_host,
 * bmc_port, bmc_username, bmc_password, bmc_model, bmc_cipher_suite, console_host, console_port, console_password.
 */
export function csvRowToServer(r: Record<string, string>): Record<string, unknown> {
  const s: Record<string, unknown> = {
    id: num(r.id),
    name: opt(r.name),
    status: opt(r.status),
    type: opt(r.type),
    location: opt(r.location),
    location_id: num(r.location_id),
    datacenter: opt(r.datacenter),
    rack: opt(r.rack),
    rack_position: num(r.rack_position),
    configuration: opt(r.configuration),
    preset: opt(r.preset),
    owner_id: num(r.owner_id),
  };
  if (opt(r.mac)) {
    s.interfaces = [
      { name: opt(r.interface) ?? 'eth0', mac: r.mac.trim(), ip: opt(r.ip), switch: opt(r.switch), switch_port: opt(r.switch_port) },
    ];
  }
  if (opt(r.bmc_host)) {
    s.bmc = {
      driver: opt(r.bmc_driver),
      host: r.bmc_host.trim(),
      port: num(r.bmc_port),
      username: opt(r.bmc_username),
      password: r.bmc_password === '' ? undefined : r.bmc_password,
      model: opt(r.bmc_model),
      cipher_suite: num(r.bmc_cipher_suite),
    };
  }
  if (opt(r.console_host)) {
    s.console = { host: r.console_host.trim(), port: num(r.console_port), password: opt(r.console_password) };
  }
  return JSON.parse(JSON.stringify(s)); // drops undefined so schema defaults apply
}

/** The CSV column a server input field came from: interfaces.0.mac → mac, bmc.host → bmc_host. */
export function csvColumnOf(fieldPath: PropertyKey[]): string {
  const [head, ...rest] = fieldPath.map(String);
  if (head === 'interfaces') return rest[1] === 'name' ? 'interface' : (rest[1] ?? 'mac');
  if ((head === 'bmc' || head === 'console') && rest.length) return `${head}_${rest[0]}`;
  return head ?? '';
}
