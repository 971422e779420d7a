// A small RFC 4180 CSV reader for `rackhand servers import FILE.csv`, and the writer of `rackhand servers list --csv`.
import { closestName } from '../config.js';
import type { ServerRecord } from '../domain/server.js';

/** The columns csvRowToServer reads; a file with any other is refused rather than half imported. */
export const SERVER_CSV_COLUMNS = [
  'id', 'name', 'status', 'type', 'location', 'location_id', 'datacenter', 'rack', 'rack_position', 'configuration', 'preset', 'owner_id',
  'interface', 'mac', 'ip', 'switch', 'switch_port',
  'bmc_driver', 'bmc_host', 'bmc_port', 'bmc_username', 'bmc_password', 'bmc_model', 'bmc_cipher_suite', 'bmc_scheme', 'bmc_legacy_tls',
  'console_host', 'console_port', 'console_password', 'boot_via',
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
/** A yes/no column (1/0, true/false, yes/no); anything else stays text, for validation to name. */
const flag = (v: string | undefined) => {
  const t = opt(v)?.toLowerCase();
  return t === undefined ? undefined : ['1', 'true', 'yes'].includes(t) ? true : ['0', 'false', 'no'].includes(t) ? false : v!.trim();
};

/** One CSV row → the server input shape (the columns of SERVER_CSV_COLUMNS). */
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
    boot_via: opt(r.boot_via),
  };
  if (opt(r.mac)) {
    s.interfaces = [
      { name: opt(r.interface) ?? 'eth0', mac: r.mac.trim(), ip: opt(r.ip), switch: opt(r.switch), switch_port: opt(r.switch_port) },
    ];
  }
  // Any BMC or console cell given makes the object: a merge import may change one field (the password) alone.
  const bmc = {
    driver: opt(r.bmc_driver),
    host: opt(r.bmc_host),
    port: num(r.bmc_port),
    username: opt(r.bmc_username),
    password: r.bmc_password === '' ? undefined : r.bmc_password,
    model: opt(r.bmc_model),
    cipher_suite: num(r.bmc_cipher_suite),
    scheme: opt(r.bmc_scheme),
    legacy_tls: flag(r.bmc_legacy_tls),
  };
  if (Object.values(bmc).some((v) => v !== undefined)) s.bmc = bmc;
  const vnc = { host: opt(r.console_host), port: num(r.console_port), password: opt(r.console_password) };
  if (Object.values(vnc).some((v) => v !== undefined)) s.console = vnc;
  return JSON.parse(JSON.stringify(s)); // drops undefined: a merge keeps those fields, a new server takes the defaults
}

/** The CSV column a server input field came from: interfaces.0.mac → mac, bmc.host → bmc_host. */
export function csvColumnOf(fieldPath: PropertyKey[]): string {
  const [head, ...rest] = fieldPath.map(String);
  if (head === 'interfaces') return rest[1] === 'name' ? 'interface' : (rest[1] ?? 'mac');
  if ((head === 'bmc' || head === 'console') && rest.length) return `${head}_${rest[0]}`;
  return head ?? '';
}

/**
 * The servers as CSV with the import's columns, one row per interface (a server without one gets one row): what
 * `servers import` reads back. Passwords are write-only and never written; an empty cell keeps the stored one.
 */
export function serversToCsv(servers: ServerRecord[]): string {
  const cell = (v: unknown) => {
    const t = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
  };
  const lines = [SERVER_CSV_COLUMNS.join(',')];
  for (const s of servers) {
    const common: Partial<Record<(typeof SERVER_CSV_COLUMNS)[number], unknown>> = {
      id: s.id, name: s.name, status: s.status, type: s.type, location: s.location, location_id: s.locationId, datacenter: s.datacenter,
      rack: s.rack, rack_position: s.rackPosition, configuration: s.configuration, preset: s.preset, owner_id: s.ownerId, boot_via: s.bootVia,
      ...(s.bmc
        ? {
            bmc_driver: s.bmc.driver, bmc_host: s.bmc.host, bmc_port: s.bmc.port, bmc_username: s.bmc.username, bmc_model: s.bmc.model,
            bmc_cipher_suite: s.bmc.cipherSuite, bmc_scheme: s.bmc.scheme, bmc_legacy_tls: s.bmc.legacyTls ? 1 : 0,
          }
        : {}),
      ...(s.console ? { console_host: s.console.host, console_port: s.console.port } : {}),
    };
    const ifaces = s.interfaces.length ? s.interfaces : [undefined];
    for (const i of ifaces) {
      const row = { ...common, ...(i ? { interface: i.name, mac: i.mac, ip: i.ip, switch: i.switch, switch_port: i.switchPort } : {}) };
      lines.push(SERVER_CSV_COLUMNS.map((c) => cell(row[c])).join(','));
    }
  }
  return `${lines.join('\n')}\n`;
}
