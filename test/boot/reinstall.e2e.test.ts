// END TO END: `eq reinstall` against a qemu VM behind an ipmi_sim BMC whose power hook really starts, stops and
// resets the VM; rackhand (in the same private namespace) serves DHCP, TFTP and HTTP boot, the VM netboots a real
// kernel + initramfs whose /init calls the installer callback, and the workflow leaves netboot disarmed and the
// BMC's boot device on disk. An installer that powers off right after calling back (racing rackhand's reset)
// still ends with the host on, from disk; a failing install (no callback) ends BOOT_ERROR with the same clean state.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { DISK_BOOT_MARKER, startVmBmc, type VmBmc } from '../harness/vm-bmc.js';
import { startNetbootLab, waitTask, type NetbootLab } from '../harness/vm-bmc-netboot-lab.js';
import { testInstallerEntry } from '../harness/fixtures.js';

const MAC = '52:54:00:e3:00:01';
const BMC_PORT = 6230;
const ROOT_PASS = 'Str0ng-Pass!';
const SERVER = 10;

let L: NetbootLab;
let vm: VmBmc;

/** The test installer, but rebooting at the end; and a variant whose /init is told a dead callback URL. */
function osCatalogue(bridgeIp: string) {
  // /init takes the last rackhand.callback= on the command line: the one after the template's own
  const entry = (ids: number[], extra: string[]) => testInstallerEntry(ids, ['console=ttyS0', 'quiet', ...extra], `rackhand test installer ${ids[0]}`);
  return {
    'rackhand-test': entry([900], ['rackhand.after=reboot']),
    'rackhand-test-poweroff': entry([951], ['rackhand.after=poweroff']),
    'rackhand-test-nocallback': entry([950], [`rackhand.callback=http://${bridgeIp}:9/never`, 'rackhand.after=poweroff']),
  };
}

async function reinstall(osId: number) {
  const r = await L.api.eq({ action: 'reinstall', id: SERVER, os_id: osId, root_pass: ROOT_PASS }, L.admin);
  expect(r.status, r.text).toBe(200);
  expect(r.json).toMatchObject({ result: 'OK', task: expect.any(Number) });
  return r.json.task as number;
}

/** Step names in the order they started (the journal has a started entry and a final entry per step). */
const stepNames = (t: any): string[] => t.steps.filter((s: any) => s.state === 'started').map((s: any) => s.name);
/** The last journal entry's state for a step. */
const finalState = (t: any, name: string): string | undefined => t.steps.filter((s: any) => s.name === name).at(-1)?.state;

describe('reinstall end to end: BMC-powered qemu VM, real installer kernel, callback', () => {
  beforeAll(async () => {
    L = await startNetbootLab({ boot: (lab) => ({ osCatalogue: osCatalogue(lab.bridgeIp) }) });
    vm = await startVmBmc({ lab: L.lab, name: 'r1', mac: MAC, bmcPort: BMC_PORT, initialBoot: 'default' });
    const imp = await L.api.post('/api/v1/servers/import', [
      {
        id: SERVER,
        name: 'vm-r1',
        interfaces: [{ name: 'eth0', mac: MAC, ip: `${L.lab.prefix}.60` }],
        bmc: { driver: 'ipmi', host: vm.bmc.host, port: vm.bmc.port, username: vm.bmc.username, password: vm.bmc.password },
      },
    ]);
    expect(imp.status, imp.text).toBe(200);
  }, 180_000);

  afterAll(async () => {
    await vm?.stop().catch(() => undefined);
    await L?.destroy();
  });

  it('the BMC harness: power status is the VM, boot device read back through ipmitool', async () => {
    expect(vm.poweredOn()).toBe(false);
    expect((await vm.ipmitool(['chassis', 'power', 'status'])).stdout).toMatch(/Chassis Power is off/);
    expect((await vm.ipmitool(['chassis', 'bootparam', 'get', '5'])).stdout).toMatch(/Force Boot from default Hard-Drive/);
  });

  it('eq reinstall: netboots the VM, the installer calls back, netboot disarmed, boot device disk, every step journalled', async () => {
    const from = vm.serialOffset();
    const taskId = await reinstall(900);
    // the VM was powered on by rackhand through the BMC, network first
    await vm.waitForSerial(/rackhand: booting rackhand-test \(install\) on vm-r1/, 120_000, from);
    expect(vm.events()).toContain('power on: boot=pxe');
    // The kernel and initramfs came over HTTP and /init ran. Its DONE line may never reach the console: the
    // callback is the installer's last word, and rackhand resets the VM into its disk right after it.
    await vm.waitForSerial(/RACKHAND-INSTALLER-START action=install/, 150_000, from);
    const task = await waitTask(L.api, taskId, 150_000);
    expect(task.state, JSON.stringify(task, null, 1)).toBe('succeeded');
    expect(task.kind).toBe('deploy');
    expect(task.result).toMatchObject({ os_id: 'rackhand-test', purpose: 'install' });

    // the journal: every step, in order, each succeeded
    expect(stepNames(task)).toEqual([
      'arm netboot (install)',
      'boot device pxe (legacy, next boot)',
      'power on or reset into the network boot',
      'wait for installer callback',
      'disarm netboot',
      'boot device disk (legacy, persistent)',
      'grace for the installer to finish (3 s)',
      'reboot into the installed system',
    ]);
    for (const name of stepNames(task)) expect(finalState(task, name), name).toBe('succeeded');
    expect(task.steps.filter((s: any) => s.state === 'succeeded')).toHaveLength(8);

    // the callback arrived (rackhand's log), netboot is disarmed, the BMC boots from disk
    expect(L.logs().some((l) => l.msg === 'installer called back' && l.server === SERVER)).toBe(true);
    expect(L.logs().some((l) => l.msg === 'serving the armed boot script' && l.mac === MAC)).toBe(true);
    expect((await L.api.get(`/api/v1/servers/${SERVER}/netboot`)).json).toEqual({ armed: false });
    expect(vm.bootDevice()).toBe('default');
    expect((await vm.ipmitool(['chassis', 'bootparam', 'get', '5'])).stdout).toMatch(/Force Boot from default Hard-Drive/);
    // and the VM came up from its disk ("the installed system"), still powered
    await vm.waitForSerial(new RegExp(DISK_BOOT_MARKER), 60_000, from);
    expect(vm.poweredOn()).toBe(true);
    expect((await vm.ipmitool(['chassis', 'power', 'status'])).stdout).toMatch(/Chassis Power is on/);
    // the server is back to its previous status
    expect((await L.api.get(`/api/v1/servers/${SERVER}`)).json.status).toBe('free');
  }, 300_000);

  it('the installer powers off right after its callback, before the BMC carries out the reset: the deploy still ends on, from disk', async () => {
    // No grace after the callback: the reset races the installer's own poweroff.
    await L.restartDaemon({ boot: { rebootGraceMs: 0 } });
    const from = vm.serialOffset();
    const taskId = await reinstall(951);
    await vm.waitForSerial(/rackhand: booting rackhand-test-poweroff \(install\) on vm-r1/, 120_000, from);
    // Past the network-boot reset, before the callback: a BMC slow to carry out the next reset lets the installer's
    // poweroff win the race; the reset then finds the host off.
    vm.setResetDelay(20);
    onTestFinished(() => vm.setResetDelay(0));
    const task = await waitTask(L.api, taskId, 150_000);
    expect(task.state, JSON.stringify(task, null, 1)).toBe('succeeded');
    expect(finalState(task, 'reboot into the installed system')).toBe('succeeded');
    expect((await L.api.get(`/api/v1/servers/${SERVER}/netboot`)).json).toEqual({ armed: false });
    expect(vm.bootDevice()).toBe('default');
    await vm.waitForSerial(/RACKHAND-INSTALLER-DONE status=ok reason=called-back/, 10_000, from);
    await vm.waitForSerial(new RegExp(DISK_BOOT_MARKER), 60_000, from);
    expect(vm.poweredOn()).toBe(true);
    // what the BMC saw: the late reset found the host off; rackhand powered it on into its disk
    const ev = vm.events();
    const ack = ev.lastIndexOf('reset: acknowledged, carried out late');
    expect(ack, ev.join('\n')).toBeGreaterThanOrEqual(0);
    expect(ev.slice(ack), ev.join('\n')).toContain('power on: boot=default');
    expect(task.steps.some((s: any) => s.name === 'reboot into the installed system' && s.state === 'succeeded')).toBe(true);
  }, 300_000);

  it('an installer that never calls back: task failed BOOT_ERROR, netboot disarmed, boot device disk', async () => {
    await L.restartDaemon({ boot: { installTimeoutMs: 30_000 } });
    const from = vm.serialOffset();
    const taskId = await reinstall(950);
    const task = await waitTask(L.api, taskId, 150_000);
    expect(task.state).toBe('failed');
    expect(task.error).toMatchObject({ code: 'BOOT_ERROR' });
    const steps = stepNames(task);
    expect(steps).toContain('power on or reset into the network boot');
    expect(finalState(task, 'wait for installer callback')).toBe('failed');
    // cleanups run even after an abort, outside ctx.step: journalled as notes
    for (const name of ['cleanup: disarm netboot', 'cleanup: boot device disk']) {
      expect(task.steps.filter((x: any) => x.name === name).at(-1), `${name}: ${JSON.stringify(task.steps)}`).toMatchObject({ state: 'note', message: 'done' });
    }
    expect(steps).not.toContain('reboot into the installed system');
    // the VM really ran the installer, which could not reach its (broken) callback
    await vm.waitForSerial(/rackhand: booting rackhand-test-nocallback \(install\) on vm-r1/, 60_000, from);
    await vm.waitForSerial(/RACKHAND-INSTALLER-DONE status=fail reason=callback-failed/, 120_000, from);
    expect((await L.api.get(`/api/v1/servers/${SERVER}/netboot`)).json).toEqual({ armed: false });
    expect(vm.bootDevice()).toBe('default');
    expect((await vm.ipmitool(['chassis', 'bootparam', 'get', '5'])).stdout).toMatch(/Force Boot from default Hard-Drive/);
    // a late callback with nothing armed is refused
    expect((await L.api.get('/boot/callback/not-a-real-token')).status).toBe(404);
  }, 240_000);

  it('the root password never appears in clear: not in the log, the task, the database, or on the console', async () => {
    const tasks = (await L.api.get(`/api/v1/tasks?server_id=${SERVER}`)).text;
    const dbFiles = readdirSync(L.rh.stateDir).filter((f) => f.startsWith('rackhand.db'));
    expect(dbFiles).toContain('rackhand.db');
    for (const [what, text] of [
      ['daemon output', L.logs().map((l) => JSON.stringify(l)).join('\n')],
      ['tasks', tasks],
      ['serial console', vm.serial()],
    ] as const) {
      expect(text.includes(ROOT_PASS), what).toBe(false);
    }
    for (const f of dbFiles) expect(readFileSync(join(L.rh.stateDir, f)).includes(Buffer.from(ROOT_PASS)), f).toBe(false);
  });
});
