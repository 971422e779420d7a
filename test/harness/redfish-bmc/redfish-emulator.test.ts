// The emulated Redfish BMC checked by independent clients from Debian (DMTF redfishtool, OpenStack sushy): power,
// boot override, virtual media, sessions, accounts, logs, ETags, task monitors and manager reset, on an in-memory
// machine (test/harness/redfish-bmc/redfish-emulator-vm.test.ts does power, boot and media on a real VM).

import { createServer, type Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MemoryMachine } from './emulated-machine.js';
import { redfishtool, redfishtoolJson, sushy, type RedfishPeer } from './redfish-clients.js';
import { RedfishEmulator, WELL_BEHAVED } from './redfish-emulator.js';
import { startUnreachableBmc } from './unreachable-bmc.js';

const ISO_BYTES = Buffer.from('pretend ISO 9660 image '.repeat(500));

let images: Server;
let imageUrl: string;
const emulators: RedfishEmulator[] = [];

beforeAll(async () => {
  images = createServer((req, res) => {
    if (req.url === '/images/host-7.iso') res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(ISO_BYTES);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => images.listen(0, '127.0.0.1', () => r()));
  imageUrl = `http://127.0.0.1:${(images.address() as { port: number }).port}/images/host-7.iso`;
});

afterAll(async () => {
  await new Promise((r) => images.close(r));
});

afterEach(async () => {
  await Promise.all(emulators.splice(0).map((e) => e.stop()));
});

async function bmc(opts: Partial<ConstructorParameters<typeof RedfishEmulator>[0]> = {}): Promise<{ emu: RedfishEmulator; machine: MemoryMachine; peer: RedfishPeer }> {
  const machine = (opts.machine as MemoryMachine | undefined) ?? new MemoryMachine({ power: 'Off' });
  const emu = await new RedfishEmulator({ machine, username: 'admin', password: 'rf-Secret-42', ...opts }).start();
  emulators.push(emu);
  return { emu, machine, peer: { host: '127.0.0.1', port: emu.port, username: 'admin', password: 'rf-Secret-42', tls: opts.tls ?? true } };
}

describe('redfishtool against the emulator', () => {
  it('finds the system by links from the service root, whatever its id', async () => {
    const { emu, peer } = await bmc();
    const root = await redfishtoolJson(peer, ['root']);
    expect(root.Systems).toEqual({ '@odata.id': '/redfish/v1/Systems' });
    const sys = await redfishtoolJson(peer, ['Systems', '-1']);
    expect(sys.Id).toBe(emu.systemId);
    expect(emu.systemId).not.toMatch(/^(1|System\.Embedded\.1)$/);
    expect(sys.PowerState).toBe('Off');
  });

  it('powers the machine on and off, and PowerState follows', async () => {
    const { machine, peer } = await bmc();
    expect((await redfishtool(peer, ['Systems', '-1', 'reset', 'On'])).code).toBe(0);
    expect(machine.powerState()).toBe('On');
    expect(await redfishtoolJson(peer, ['Systems', '-1', '-P', 'PowerState'])).toEqual({ PowerState: 'On' });
    expect((await redfishtool(peer, ['Systems', '-1', 'reset', 'ForceOff'])).code).toBe(0);
    expect(machine.powerState()).toBe('Off');
  });

  it('sets a one-time PXE override that the next power-on consumes', async () => {
    const { emu, machine, peer } = await bmc();
    expect((await redfishtool(peer, ['Systems', '-1', 'setBootOverride', 'Once', 'Pxe'])).code).toBe(0);
    expect(emu.boot).toMatchObject({ enabled: 'Once', target: 'Pxe' });
    await redfishtool(peer, ['Systems', '-1', 'reset', 'On']);
    expect(machine.boots.at(-1)).toMatchObject({ target: 'Pxe', how: 'power-on' });
    expect(emu.boot.enabled).toBe('Disabled');
    await redfishtool(peer, ['Systems', '-1', 'reset', 'ForceRestart']);
    expect(machine.boots.at(-1)).toMatchObject({ target: 'None', how: 'reset' });
  });

  it('inserts and ejects virtual media with raw actions; the BMC fetches the image', async () => {
    const { emu, machine, peer } = await bmc();
    const vm = `${emu.managerPath}/VirtualMedia/CD1`;
    const ins = await redfishtool(peer, ['raw', 'POST', `${vm}/Actions/VirtualMedia.InsertMedia`, '-d', JSON.stringify({ Image: imageUrl })]);
    expect(ins.code).toBe(0);
    expect(readFileSync(machine.media!)).toEqual(ISO_BYTES);
    const got = await redfishtoolJson(peer, ['raw', 'GET', vm]);
    expect(got).toMatchObject({ Inserted: true, Image: imageUrl, ImageName: 'host-7.iso', ConnectedVia: 'URI' });
    expect((await redfishtool(peer, ['raw', 'POST', `${vm}/Actions/VirtualMedia.EjectMedia`, '-d', '{}'])).code).toBe(0);
    expect(machine.media).toBeUndefined();
    expect(await redfishtoolJson(peer, ['raw', 'GET', vm])).toMatchObject({ Inserted: false, Image: null, ImageName: '' });
  });

  it('logs in with a session and deletes it on the way out', async () => {
    const { emu, peer } = await bmc();
    const r = await redfishtool(peer, ['-A', 'Session', 'Systems', '-1', 'reset', 'On']);
    expect(r.code).toBe(0);
    const used = emu.requests.filter((q) => q.auth === 'session');
    expect(used.length).toBeGreaterThan(0);
    expect(emu.requests.some((q) => q.method === 'POST' && q.path === '/redfish/v1/SessionService/Sessions' && q.status === 201)).toBe(true);
    expect(emu.requests.some((q) => q.method === 'DELETE' && q.path.startsWith('/redfish/v1/SessionService/Sessions/') && q.status === 204)).toBe(true);
    expect(emu.sessions.size).toBe(0);
  });

  it('refuses a wrong password', async () => {
    const { machine, peer } = await bmc();
    const r = await redfishtool({ ...peer, password: 'wrong-password' }, ['Systems', '-1', 'reset', 'On']);
    expect(r.code).not.toBe(0);
    expect(machine.powerState()).toBe('Off');
  });

  it('adds an account that can log in, and deletes it', async () => {
    const { emu, peer } = await bmc();
    expect((await redfishtool(peer, ['AccountService', 'adduser', 'ops1', 'ops-Secret-7', 'Operator'])).code).toBe(0);
    expect(emu.accounts.map((a) => a.userName)).toContain('ops1');
    const asOps = { ...peer, username: 'ops1', password: 'ops-Secret-7' };
    expect((await redfishtool(asOps, ['Systems', '-1', 'reset', 'On'])).code).toBe(0);
    // An Operator may not manage accounts.
    expect((await redfishtool(asOps, ['AccountService', 'adduser', 'ops2', 'ops-Secret-8', 'Operator'])).code).not.toBe(0);
    expect((await redfishtool(peer, ['AccountService', 'deleteuser', 'ops1'])).code).toBe(0);
    expect(emu.accounts.map((a) => a.userName)).toEqual(['admin']);
    expect((await redfishtool(asOps, ['Systems', '-1'])).code).not.toBe(0);
  });

  it('reads and clears the system event log', async () => {
    const { emu, peer } = await bmc();
    emu.addLogEntry({ severity: 'Critical', message: 'CPU1 Temp upper critical going high', messageId: 'Platform.1.0.TemperatureAboveUpperCriticalThreshold', sensorType: 'Temperature', entryCode: 'Assert' });
    const log = await redfishtoolJson<{ Members: { Message: string; Severity: string }[] }>(peer, ['Systems', '-1', 'Logs', '-i', 'SEL', '-E']);
    expect(log.Members).toEqual([expect.objectContaining({ Message: 'CPU1 Temp upper critical going high', Severity: 'Critical' })]);
    const sel = await redfishtoolJson<{ Actions: Record<string, { target: string }> }>(peer, ['Systems', '-1', 'Logs', '-i', 'SEL']);
    expect((await redfishtool(peer, ['raw', 'POST', sel.Actions['#LogService.ClearLog'].target, '-d', '{}'])).code).toBe(0);
    expect(emu.sel).toEqual([]);
  });

  it('reads temperatures, fans, voltages and power consumption', async () => {
    const { emu, peer } = await bmc();
    const thermal = await redfishtoolJson<{ Temperatures: { Name: string; ReadingCelsius: number }[] }>(peer, ['raw', 'GET', `${emu.chassisPath}/Thermal`]);
    expect(thermal.Temperatures[0]).toMatchObject({ Name: 'CPU1 Temp', ReadingCelsius: 45 });
    const power = await redfishtoolJson<{ PowerControl: { PowerConsumedWatts: number }[] }>(peer, ['raw', 'GET', `${emu.chassisPath}/Power`]);
    expect(power.PowerControl[0].PowerConsumedWatts).toBe(emu.power.offWatts);
    const fan = await redfishtoolJson(peer, ['raw', 'GET', `${emu.chassisPath}/Sensors/FAN1`]);
    expect(fan).toMatchObject({ ReadingType: 'Rotational', Reading: 4800, ReadingUnits: 'RPM' });
  });

  it('waits on the task monitor of an asynchronous reset', async () => {
    // The task outlasts redfishtool's first poll (it honours Retry-After: 1), so it sees 202 before the 200.
    const { emu, machine, peer } = await bmc({ quirks: { asyncTasks: true }, taskLatencyMs: 1500 });
    const r = await redfishtool(peer, ['Systems', '-1', 'reset', 'On']);
    expect(r.code).toBe(0);
    const polls = emu.requests.filter((q) => q.path.startsWith('/redfish/v1/TaskService/TaskMonitors/')).map((q) => q.status);
    expect(polls[0]).toBe(202);
    expect(polls.at(-1)).toBe(200);
    expect(machine.powerState()).toBe('On');
  });

  it('sends If-Match where the BMC demands it; a PATCH without one gets 428', async () => {
    const { emu, peer } = await bmc({ quirks: { etagRequired: true } });
    expect((await redfishtool(peer, ['Systems', '-1', 'setBootOverride', 'Continuous', 'Hdd'])).code).toBe(0);
    expect(emu.boot).toMatchObject({ enabled: 'Continuous', target: 'Hdd' });
    expect(emu.requests.find((q) => q.method === 'PATCH')?.ifMatch).toMatch(/^W\/"[0-9a-f]+"$/);
    const bare = await rawPatch(emu, peer, emu.systemPath, { Boot: { BootSourceOverrideEnabled: 'Disabled' } });
    expect(bare).toBe(428);
    expect(emu.boot.enabled).toBe('Continuous');
  });

  it('speaks plain HTTP when asked', async () => {
    const { machine, peer } = await bmc({ tls: false });
    expect((await redfishtool(peer, ['Systems', '-1', 'reset', 'On'])).code).toBe(0);
    expect(machine.powerState()).toBe('On');
  });

  it('drops off the network during a manager reset and comes back', async () => {
    const { emu, peer } = await bmc({ managerResetDowntimeMs: 800 });
    await redfishtool(peer, ['-A', 'Session', 'Systems', '-1']);
    expect((await redfishtool(peer, ['Managers', '-1', 'reset', 'GracefulRestart'])).code).toBe(0);
    await waitFor(async () => !(await tcpOpen(emu.port)));
    await waitFor(() => tcpOpen(emu.port));
    expect(emu.managerResets).toBe(1);
    expect((await redfishtool(peer, ['Systems', '-1'])).code).toBe(0);
  });
});

describe('sushy against the emulator', () => {
  it('powers, sets boot options and reads them back over a session', async () => {
    const { emu, machine, peer } = await bmc();
    const out = await sushy(peer, [
      { op: 'reset', value: 'On' },
      { op: 'boot', target: 'Cd', enabled: 'Once', mode: 'UEFI' },
      { op: 'state' },
      { op: 'session' },
    ], 'session');
    expect(out.error).toBeUndefined();
    expect(machine.powerState()).toBe('On');
    expect(out.results[2]).toMatchObject({ power: 'On', boot: { enabled: 'Once', target: 'Cd', mode: 'UEFI' } });
    expect(emu.boot).toMatchObject({ enabled: 'Once', target: 'Cd', mode: 'UEFI' });
    expect(out.results[3].session_uri).toMatch(/^\/redfish\/v1\/SessionService\/Sessions\/\d+$/);
    expect(emu.requests.filter((q) => q.path === emu.systemPath).every((q) => q.auth === 'session')).toBe(true);
  });

  it('inserts and ejects virtual media through the manager', async () => {
    const { machine, peer } = await bmc();
    const out = await sushy(peer, [{ op: 'insert', image: imageUrl }, { op: 'eject' }, { op: 'insert', image: imageUrl }]);
    expect(out.error).toBeUndefined();
    expect(out.results[0]).toMatchObject({ inserted: true, image: imageUrl, image_name: 'host-7.iso' });
    expect(out.results[1]).toMatchObject({ inserted: false, image: null });
    expect(readFileSync(machine.media!)).toEqual(ISO_BYTES);
  });

  it('falls back to Basic auth on a BMC without a session service', async () => {
    const { emu, machine, peer } = await bmc({ quirks: { noSessionService: true } });
    const out = await sushy(peer, [{ op: 'reset', value: 'On' }]);
    expect(out.error).toBeUndefined();
    expect(machine.powerState()).toBe('On');
    expect(emu.requests.filter((q) => q.path === emu.systemPath).every((q) => q.auth === 'basic')).toBe(true);
  });

  it('meets the minimal-payload quirk: its full boot PATCH is refused, Enabled + Target alone work', async () => {
    const { emu, peer } = await bmc({ quirks: { minimalBootPatch: true } });
    const full = await sushy(peer, [{ op: 'boot', target: 'Pxe', enabled: 'Once', mode: 'UEFI' }]);
    expect(full.error).toMatch(/BootSourceOverrideMode/);
    const two = await sushy(peer, [{ op: 'boot', target: 'Pxe', enabled: 'Once' }]);
    expect(two.error).toBeUndefined();
    expect(emu.boot).toMatchObject({ enabled: 'Once', target: 'Pxe' });
  });

  it('meets the stale-image quirk: after an eject its insert is refused', async () => {
    const { emu, peer } = await bmc({ quirks: { staleImageAfterEject: true } });
    const out = await sushy(peer, [{ op: 'insert', image: imageUrl }, { op: 'eject' }, { op: 'insert', image: imageUrl }]);
    expect(out.results[1]).toMatchObject({ inserted: false, image_name: 'host-7.iso' });
    expect(out.error).toMatch(/409|ResourceInUse/);
    expect(emu.media.inserted).toBe(false);
  });

  it('meets the Supermicro USB-CD quirk the way sushy knows it: its Cd becomes UsbCd; redfishtool\'s plain Cd boots the board\'s own drive', async () => {
    const { emu, machine, peer } = await bmc({ quirks: { virtualCdIsUsbCd: true } });
    const out = await sushy(peer, [{ op: 'boot', target: 'Cd', enabled: 'Once' }]);
    expect(out.error).toBeUndefined();
    expect(emu.boot.target).toBe('UsbCd'); // sushy's own Supermicro rule kicked in
    await redfishtool(peer, ['Systems', '-1', 'reset', 'On']);
    expect(machine.boots.at(-1)?.target).toBe('Cd'); // the virtual CD
    await redfishtool(peer, ['Systems', '-1', 'reset', 'ForceOff']);
    expect((await redfishtool(peer, ['Systems', '-1', 'setBootOverride', 'Once', 'Cd'])).code).toBe(0);
    await redfishtool(peer, ['Systems', '-1', 'reset', 'On']);
    expect(machine.boots.at(-1)?.target).toBe('None'); // not the virtual media
  });

  it('meets the revert quirk: a one-time UEFI PXE override reads back as it was', async () => {
    const { emu, peer } = await bmc({ quirks: { revertOnceUefiPxe: 1 } });
    const out = await sushy(peer, [{ op: 'boot', target: 'Pxe', enabled: 'Once', mode: 'UEFI' }, { op: 'state' }]);
    expect(out.error).toBeUndefined(); // answered 200
    expect(out.results[1]).toMatchObject({ boot: { enabled: 'Disabled', target: 'None' } });
    expect(emu.boot.enabled).toBe('Disabled');
  });
});

describe('unreachable BMCs', () => {
  it('a blackholed port drops the SYN: redfishtool gives up on its connect timeout', async () => {
    const bh = await startUnreachableBmc('blackholed');
    try {
      const r = await redfishtool({ host: bh.host, port: bh.port, username: 'admin', password: 'x', tls: true }, ['-W', '1:1', '-T', '2', 'Systems']);
      expect(r.code).not.toBe(0);
      expect(await tcpOpen(bh.port, 300)).toBe(false);
    } finally {
      await bh.stop();
    }
  });
});

it('has no quirk switched on by default', () => {
  expect(Object.values(WELL_BEHAVED).filter((v) => v === true)).toEqual([]);
});

/** A PATCH with Basic auth and no If-Match, as a careless client sends it; resolves with the HTTP status. */
function rawPatch(emu: RedfishEmulator, peer: RedfishPeer, path: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: peer.host, port: emu.port, path, method: 'PATCH', rejectUnauthorized: false, auth: `${peer.username}:${peer.password}`, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function tcpOpen(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const done = (v: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
