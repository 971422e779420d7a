// A hostile or broken "BMC" behind the redfish driver: arbitrary JSON where resources should be, arbitrary statuses,
// arbitrary bytes instead of HTTP. Every driver operation ends in a value or a RackhandError, never anything else.

import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RackhandError } from '../../../src/errors.js';
import { MemoryCertificatePins } from '../../harness/redfish-bmc/memory-certificate-pins.js';
import type { BmcTarget } from '../../../src/bmc/bmc-driver.js';
import { RedfishDriver } from '../../../src/bmc/redfish/redfish-driver.js';
import { allowedResetTypes, bootSettingOf, logEntryOf, powerReadingFromPower, resetStepsFor, sensorFromResource, sensorsFromThermalPower, userOf } from '../../../src/bmc/redfish/redfish-resources.js';
import { extendedMessage, memberLinks, shownValues } from '../../../src/bmc/redfish/redfish-json.js';
import { thrown } from '../../thrown.js';

const VOCAB = [
  'Systems', 'Managers', 'Chassis', 'Members', 'Links', 'Sessions', 'ManagedBy', 'PowerState', 'Boot', 'Actions', '#ComputerSystem.Reset',
  '#Manager.Reset', '#VirtualMedia.InsertMedia', '#LogService.ClearLog', 'target', 'Thermal', 'Power', 'Sensors', 'Temperatures', 'Fans',
  'Voltages', 'PowerControl', 'PowerSupplies', 'AccountService', 'Accounts', 'UserName', 'LogServices', 'Entries', 'VirtualMedia', 'MediaTypes',
  'UpdateService', 'FirmwareInventory', '@odata.id', 'Reading', 'ReadingType', 'ReadingCelsius', 'PowerConsumedWatts', 'Status', 'Health',
  'State', 'FirmwareVersion', 'Members@odata.nextLink', 'LogEntryType', 'Id', 'Name', 'Inserted', 'Image', 'ImageName', 'Message', 'Severity',
  'BootSourceOverrideEnabled', 'BootSourceOverrideTarget', 'BootSourceOverrideMode', 'ResetType@Redfish.AllowableValues', 'Thresholds',
  'BootSourceOverrideTarget@Redfish.AllowableValues', 'TaskState', 'error', '@Message.ExtendedInfo',
];
const { value } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.jsonValue({ maxDepth: 1 }),
    fc.constantFrom('/S/1', '/C/1/T', '/AS/A/1', '/nowhere').map((p) => ({ '@odata.id': p })),
    fc.constantFrom('On', 'Off', 'PoweringOn', 'Once', 'Pxe', 'UEFI', 'SEL', 'CD', 'Critical', 'Temperature', 'Power', 'Exception', '/S/1', '/VM/CD'),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...VOCAB), tie('value'), { maxKeys: 6 }),
  ),
}));

const ref = (p: string) => ({ '@odata.id': p });
/** A small well-formed Redfish tree: the hostile BMCs are this with parts replaced. */
function baseTree(): Record<string, Record<string, unknown>> {
  return {
    '/redfish/v1/': { Systems: ref('/S'), Managers: ref('/M'), Chassis: ref('/C'), AccountService: ref('/AS'), UpdateService: ref('/US'), Links: { Sessions: ref('/SS') } },
    '/S': { Members: [ref('/S/1')] },
    '/S/1': {
      PowerState: 'On',
      Boot: { BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Pxe', BootSourceOverrideMode: 'UEFI' },
      Actions: { '#ComputerSystem.Reset': { target: '/S/1/reset', 'ResetType@Redfish.AllowableValues': ['On', 'ForceOff'] } },
      Links: { ManagedBy: [ref('/M/1')], Chassis: [ref('/C/1')] },
      LogServices: ref('/S/1/LS'),
      VirtualMedia: ref('/VM'),
    },
    '/M': { Members: [ref('/M/1')] },
    '/M/1': { FirmwareVersion: '1.0', Actions: { '#Manager.Reset': { target: '/M/1/reset' } } },
    '/C': { Members: [ref('/C/1')] },
    '/C/1': { Thermal: ref('/C/1/T'), Power: ref('/C/1/P'), Sensors: ref('/C/1/SN') },
    '/C/1/T': { Temperatures: [{ Name: 't', ReadingCelsius: 40, Status: { Health: 'OK' } }], Fans: [{ Name: 'f', Reading: 100 }] },
    '/C/1/P': { PowerControl: [{ PowerConsumedWatts: 100, PowerMetrics: { MinConsumedWatts: 1 } }], Voltages: [{ Name: 'v', ReadingVolts: 12 }] },
    '/C/1/SN': { Members: [ref('/C/1/SN/x')] },
    '/C/1/SN/x': { ReadingType: 'Temperature', Reading: 20, Thresholds: { UpperCritical: { Reading: 90 } } },
    '/AS': { Accounts: ref('/AS/A') },
    '/AS/A': { Members: [ref('/AS/A/1')] },
    '/AS/A/1': { Id: '3', UserName: 'other', RoleId: 'Operator', Enabled: true },
    '/US': { FirmwareInventory: ref('/US/FI') },
    '/US/FI': { Members: [ref('/US/FI/1')] },
    '/US/FI/1': { Id: 'BMC', Version: '1.0' },
    '/S/1/LS': { Members: [ref('/S/1/LS/SEL')] },
    '/S/1/LS/SEL': { LogEntryType: 'SEL', Entries: ref('/S/1/LS/SEL/E'), Actions: { '#LogService.ClearLog': { target: '/clear' } } },
    '/S/1/LS/SEL/E': { Members: [{ Id: '1', Message: 'm', Severity: 'OK' }], 'Members@odata.nextLink': '/S/1/LS/SEL/E2' },
    '/S/1/LS/SEL/E2': { Members: [ref('/S/1/LS/SEL/E/9')] },
    '/S/1/LS/SEL/E/9': { Id: '9', Message: 'n', Severity: 'Critical' },
    '/VM': { Members: [ref('/VM/CD')] },
    '/VM/CD': { MediaTypes: ['CD'], Inserted: true, Image: 'http://x/y.iso', Actions: { '#VirtualMedia.InsertMedia': { target: '/VM/CD/i' }, '#VirtualMedia.EjectMedia': { target: '/VM/CD/e' } } },
  };
}
const PATHS = Object.keys(baseTree());

/** One hostile BMC: the base tree with properties replaced, some answers given other statuses or bodies. */
const hostileBmc = fc.record({
  replace: fc.array(fc.record({ path: fc.constantFrom(...PATHS), key: fc.constantFrom(...VOCAB), value }), { maxLength: 5 }),
  statuses: fc.array(fc.record({ path: fc.constantFrom(...PATHS, 'write'), status: fc.constantFrom(200, 201, 202, 204, 400, 401, 403, 404, 405, 412, 428, 500, 503) }), { maxLength: 3 }),
  garbage: fc.option(fc.record({ path: fc.constantFrom(...PATHS), body: fc.string({ maxLength: 20 }) }), { nil: undefined }),
  loginToken: fc.constantFrom('tok', 'tok', 'tok', '', undefined),
});
type Hostile = typeof hostileBmc extends fc.Arbitrary<infer T> ? T : never;

let tree: Record<string, Record<string, unknown>> = {};
let current: Hostile | undefined;
let http: Server;
let port = 0;

function arrange(h: Hostile): void {
  current = h;
  tree = baseTree();
  for (const r of h.replace) tree[r.path]![r.key] = r.value;
}

beforeAll(async () => {
  http = createHttpServer((req, res) => {
    const h = current!;
    req.resume();
    let path = (req.url ?? '/').split('?')[0]!;
    if (path === '/redfish/v1') path = '/redfish/v1/';
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    let status = 200;
    let body: string | undefined;
    if (req.method === 'POST' && path === '/SS') {
      status = 201;
      if (h.loginToken !== undefined) headers['X-Auth-Token'] = h.loginToken;
      headers.Location = '/SS/1';
    } else if (req.method !== 'GET') {
      status = h.statuses.find((x) => x.path === 'write')?.status ?? 204;
      if (status === 202) headers.Location = '/US';
    } else {
      const r = tree[path];
      status = r ? (h.statuses.find((x) => x.path === path)?.status ?? 200) : 404;
      if (status === 202) status = 200;
      body = h.garbage?.path === path ? h.garbage.body : JSON.stringify(r ?? { error: { message: 'no' } });
    }
    res.writeHead(status, headers);
    res.end(status === 204 ? undefined : body);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  port = (http.address() as { port: number }).port;
});

afterAll(() => new Promise<void>((r) => http.close(() => r())));

const target = (p: number): BmcTarget => ({ host: '127.0.0.1', port: p, username: 'admin', password: 'pw', cipherSuite: 3, privilege: 'administrator', scheme: 'http' });

let succeeded = 0;
/** Resolves when `p` settles as a value or a RackhandError; anything else, or no answer within 10 s, fails. */
async function settles(p: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the operation neither resolved nor failed within 10 s')), 10_000);
  });
  try {
    await Promise.race([p, hung]);
    succeeded++;
  } catch (e) {
    if (!(e instanceof RackhandError)) throw new Error(`not a RackhandError: ${(e as Error)?.stack ?? String(e)}`);
    expect(e.message).not.toContain('pw:'); // no credentials in messages
  } finally {
    clearTimeout(timer);
  }
}

describe('a hostile Redfish service', () => {
  it('every operation resolves or fails with a RackhandError', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBmc, async (h) => {
        arrange(h);
        const d = new RedfishDriver({ trust: { mode: 'pin', pins: new MemoryCertificatePins() }, requestTimeoutMs: 1000, taskTimeoutMs: 1500, reassertPauseMs: 1, powerPollMs: 1 });
        const t = target(port);
        try {
          for (const op of [
            () => d.powerStatus(t),
            () => d.power(t, 'on'),
            () => d.getBootDevice(t),
            () => d.setBootDevice(t, { device: 'pxe', mode: 'uefi', persistent: false }),
            () => d.sensors(t),
            () => d.powerReading(t),
            () => d.listUsers(t),
            () => d.removeUser(t, 'other'),
            () => d.deviceInfo(t),
            () => d.readEventLog(t),
            () => d.insertMedia(t, 'http://127.0.0.1:9/x.iso'),
            () => d.resetBmc(t, 'warm'),
          ]) {
            await settles(op());
          }
        } finally {
          await d.close();
        }
      }),
      { numRuns: 150, endOnFailure: true },
    );
    // The tree is mostly well-formed: a good share of operations must get through, or the fuzz only tests the front door.
    expect(succeeded).toBeGreaterThan(150 * 3);
  }, 120_000);
});

describe('bytes that are not HTTP', () => {
  let raw: NetServer;
  let rawPort = 0;
  let reply: Buffer = Buffer.alloc(0);
  let hangUp = true;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    raw = createNetServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
      s.once('data', () => {
        s.write(reply);
        if (hangUp) s.end();
      });
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', () => r()));
    rawPort = (raw.address() as { port: number }).port;
  });
  afterAll(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => raw.close(() => r()));
  });

  it('garbage, truncated headers and cut-off bodies end in a RackhandError', async () => {
    const valid = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{"PowerState":"On","Links":{"Sessions"';
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
      fc.nat({ max: valid.length }).map((n) => Buffer.from(valid.slice(0, n))),
      fc.string({ maxLength: 80 }).map((s) => Buffer.from(`HTTP/1.1 200 OK\r\n${s}\r\n\r\n{`)),
    );
    await fc.assert(
      fc.asyncProperty(bytes, fc.boolean(), async (b, end) => {
        reply = b;
        hangUp = end;
        const d = new RedfishDriver({ trust: { mode: 'pin', pins: new MemoryCertificatePins() }, requestTimeoutMs: 300 });
        try {
          await settles(d.powerStatus(target(rawPort)));
        } finally {
          await d.close();
        }
      }),
      { numRuns: 80 },
    );
  }, 120_000);
});

describe('resource decoders', () => {
  it('take any JSON without throwing anything but a RackhandError', () => {
    fc.assert(
      fc.property(value, fc.nat(), (v, i) => {
        const o = (v && typeof v === 'object' && !Array.isArray(v) ? v : {}) as Record<string, unknown>;
        sensorsFromThermalPower(o, o);
        sensorFromResource(o);
        powerReadingFromPower(o);
        userOf(o, i);
        logEntryOf(o, i);
        bootSettingOf(o);
        extendedMessage(v);
        memberLinks(v);
        allowedResetTypes(o, o);
        shownValues(Array.isArray(v) ? v : undefined);
      }),
      // The first example is the counterexample CI found: Number() of an object without a prototype throws a TypeError.
      { numRuns: 2000, examples: [[{ UserName: 'On', Id: Object.create(null) }, 0]] },
    );
  });

  it("put a BMC's allowed values into one short error line, however many and however long they are", () => {
    const huge = Array.from({ length: 10_000 }, (_, i) => `Reset${i}-${'x'.repeat(1_000)}`);
    const e = thrown(() => resetStepsFor('off', huge));
    expect(e).toMatchObject({ code: 'BMC_UNSUPPORTED', message: expect.stringContaining('and 9990 more') });
    expect(e.message.length).toBeLessThan(600);
    expect(JSON.stringify(e.details).length).toBeLessThan(100);
    // Only its strings are shown: an object without a prototype, numbers and nulls are left out, never converted.
    expect(shownValues(['Pxe', Object.create(null), 7, null, 'Hdd'])).toBe('Pxe, Hdd');
    expect(shownValues([])).toBe('none');
  });

  it('number an account by its Id only when the Id is a whole number, else by its place', () => {
    const ids = ['3', 7, Object.create(null), { '@odata.id': '/x' }, '', ' 4', '0x10', '1e2', -2, 2.5, null].map((Id, i) => userOf({ UserName: 'u', Id }, i)?.id);
    expect(ids).toEqual([3, 7, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });
});
