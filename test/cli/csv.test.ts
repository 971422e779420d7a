import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { csvRowToServer, parseCsv, SERVER_CSV_COLUMNS } from '../../src/cli/csv.js';
import { serverInputSchema } from '../../src/domain/server.js';

describe('CSV import', () => {
  it('parses quoted fields, CRLF and embedded commas, and maps a row to a valid server', () => {
    const rows = parseCsv('id,name,mac,ip,rack,bmc_host,bmc_username,bmc_password\r\n7,"srv, seven",52:54:00:00:00:07,10.0.0.7,R1,10.9.0.7,ADMIN,"p""w"\r\n');
    expect(rows).toEqual([
      { id: '7', name: 'srv, seven', mac: '52:54:00:00:00:07', ip: '10.0.0.7', rack: 'R1', bmc_host: '10.9.0.7', bmc_username: 'ADMIN', bmc_password: 'p"w' },
    ]);
    const s = serverInputSchema.parse(csvRowToServer(rows[0]));
    expect(s).toMatchObject({ id: 7, name: 'srv, seven', interfaces: [{ mac: '52:54:00:00:00:07', ip: '10.0.0.7' }], bmc: { host: '10.9.0.7', password: 'p"w', scheme: 'https', legacy_tls: false } });
  });

  it('rejects a row with the wrong number of fields, and unterminated quotes', () => {
    expect(() => parseCsv('id,name\n1,a,b\n')).toThrow(/line 2/);
    expect(() => parseCsv('id,name\n1,"a\n')).toThrow(/line 2: a quoted field is not closed/);
  });

  it('round-trips arbitrary field text', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 5 }), (fields) => {
        const quote = (f: string) => '"' + f.replace(/"/g, '""') + '"';
        const header = fields.map((_, i) => `c${i}`).join(',');
        const rows = parseCsv(header + '\n' + fields.map(quote).join(',') + '\n');
        if (fields.every((f) => f.trim() === '')) return;
        expect(rows).toEqual([Object.fromEntries(fields.map((f, i) => [`c${i}`, f]))]);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a header with an unknown or repeated column, naming it and the column it probably meant', () => {
    expect(() => parseCsv('id,name,bmc_host,bmc_pasword\n1,a,10.0.0.1,secret\n', { columns: SERVER_CSV_COLUMNS })).toThrow(
      /^line 1: unknown column bmc_pasword \(did you mean bmc_password\?\); the columns are id, name, /,
    );
    expect(() => parseCsv('\nid,name,name\n1,a,b\n', { columns: SERVER_CSV_COLUMNS })).toThrow(/^line 2: column name appears twice/);
    expect(parseCsv('id,name,bmc_password\n1,a,b\n', { columns: SERVER_CSV_COLUMNS })).toEqual([{ id: '1', name: 'a', bmc_password: 'b' }]);
  });
});
