// Test harness: a farm of OpenIPMI `ipmi_sim` LAN BMC simulators with file-backed chassis state and fault injection.
//
// Every sim gets its own free UDP port on 127.0.0.1, its own state dir, the same sensors (CPU1 Temp 45 C,
// FAN1 4800 RPM, 12V 12.00 V, PS1 presence) and a chassis_control hook that keeps power and boot device in
// plain files the tests read as independent truth. Sims run under `setpriv --pdeathsig KILL` in their own
// process group, so a crashed test process takes them down with it and stop() can kill hook children too.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SimBmc {
  index: number;
  /** 127.0.0.1, or the sim's own loopback address with `ownAddresses`. */
  host: string;
  port: number;
  username: string;
  password: string;
  /** The sim's own state dir (power, boot, chassis.log, resets, ipmi_sim.log, fault_* files). */
  dir: string;
}

export type SimFault =
  | 'down' // SIGKILL: the port closes, clients see ICMP port unreachable
  | 'up' // start a downed sim again on the same port (persisted users survive)
  | 'restart' // down + up: a BMC reboot, sessions lost
  | 'hang' // SIGSTOP: port stays bound, nothing answers
  | 'resume' // SIGCONT
  | 'slow' // chassis hook sleeps `arg` seconds; the single-threaded sim answers nothing meanwhile
  | 'fast' // undo slow
  | 'fail' // chassis hook exits non-zero: completion code 0xff on power/boot commands
  | 'ok'; // undo fail

export interface SimFarmOptions {
  count: number;
  /** Parent directory for the farm's state; a fresh temp dir is made (and removed on stop) when absent. */
  statedir?: string;
  /** Power state every sim starts with. Default 'on'. */
  initialPower?: 'on' | 'off';
  username?: string; // default 'admin'
  password?: string; // default 'password'
  /** Max sessions for the admin user in lan.conf (OpenIPMI's per-user limit). Default 10. */
  maxSessions?: number;
  /** Upper bound for all sims to answer an RMCP ping. Default 30 s. */
  readyTimeoutMs?: number;
  /**
   * Each sim on its own loopback address (127.1.x.y; Linux routes all of 127/8 to lo), so tools that name a host
   * without its port in their output (ipmipower) can be told apart. Default: all on 127.0.0.1.
   */
  ownAddresses?: boolean;
  /**
   * How a sim knows its power. 'hook' (default): the chassis_control hook keeps power and boot device in files; every
   * power read forks a shell, which on this 2-core machine costs more CPU than the client being measured. 'process':
   * ipmi_sim's own model, power on while the child it started (a `sleep`) lives: reads cost no process. Power can
   * then only go off behind the BMC's back (the child killed), and the boot device, resets, chassis log and the
   * hook's faults (slow, fail) do not exist. For benchmarks of power reads.
   */
  power?: 'hook' | 'process';
}

export interface SimFarm {
  bmcs: SimBmc[];
  root: string;
  fault(index: number, kind: SimFault, arg?: number): Promise<void>;
  /** Power as the hook file says (power 'process': whether the sim's child lives): the independent truth behind the BMC. */
  powerState(index: number): 'on' | 'off';
  /** Set power behind the BMC's back (as if someone pressed the button). power 'process': off only. */
  setPower(index: number, state: 'on' | 'off'): void;
  /** Boot device as the hook file says: none | pxe | default | cdrom | bios. */
  bootDevice(index: number): string;
  /** How many `reset` chassis controls the hook has seen. */
  resets(index: number): number;
  /** Every `set` the hook received, one entry per call, e.g. "power 1". */
  chassisLog(index: number): string[];
  pid(index: number): number | undefined;
  /**
   * Opens `n` RMCP+ sessions that stay open (ipmitool shells waiting on stdin). ipmi_sim allows 63; the next
   * client then gets "insufficient resources for session". The sessions outlive release() by ~30 s (the sim's
   * idle timeout): use fault 'restart' to clear them at once.
   */
  holdSessions(index: number, n: number): Promise<() => Promise<void>>;
  stop(): Promise<void>;
}

const SIM_USER = 'admin';
const SIM_PASS = 'password';

// ---------------------------------------------------------------- generated files

const HOOK = `#!/bin/sh
# chassis_control hook: ipmi_sim runs "<hook> <dir> get power boot" or "<hook> <dir> set <parm> <val> ...".
# "get" prints "<parm>:<value>" lines; a non-zero exit becomes completion code 0xff.
# ipmi_sim is single-threaded and calls this for every power status read: builtins only on the get path.
d=$1; op=$2; shift 2 || exit 1
if [ -f "$d/fault_delay" ]; then read -r s < "$d/fault_delay"; sleep "$s"; fi
if [ -f "$d/fault_fail" ]; then echo "injected failure"; exit 1; fi
case $op in
get)
  for p in "$@"; do
    case $p in
      power) v=1; [ -f "$d/power" ] && read -r v < "$d/power" ;;
      boot) v=none; [ -f "$d/boot" ] && read -r v < "$d/boot" ;;
      *) echo "unknown parameter $p"; exit 1 ;;
    esac
    echo "$p:$v"
  done ;;
set)
  echo "$*" >> "$d/chassis.log"
  while [ $# -ge 2 ]; do
    p=$1; v=$2; shift 2
    case $p in
      power) echo "$v" > "$d/power.tmp" && mv "$d/power.tmp" "$d/power" ;;
      shutdown) [ "$v" = 1 ] && echo 0 > "$d/power" ;;
      reset) r=0; [ -f "$d/resets" ] && read -r r < "$d/resets"; echo $((r + 1)) > "$d/resets" ;;
      boot) case $v in none|pxe|default|cdrom|bios) echo "$v" > "$d/boot" ;; *) exit 1 ;; esac ;;
      identify) echo "$v" > "$d/identify" ;;
      *) echo "unknown parameter $p"; exit 1 ;;
    esac
  done ;;
*) exit 1 ;;
esac
exit 0
`;

// Sensor numbers, raw values and thresholds; the SDRs below turn them into 45 C, 4800 RPM, 12.00 V.
const EMU = `mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
sensor_add 0x20 0 0 35 0x6f event-only
sensor_set_event_support 0x20 0 0 enable scanning per-state 000000000001111 000000000000000 000000000001111 000000000000000
sensor_add 0x20 0 1 0x01 0x01
sensor_set_value 0x20 0 1 45 0
sensor_set_threshold 0x20 0 1 settable 111000 100 90 80 0 0 0
sensor_set_event_support 0x20 0 1 enable scanning per-state 000111111000000 000111111000000 000111111000000 000111111000000
sensor_add 0x20 0 2 0x04 0x01
sensor_set_value 0x20 0 2 96 0
sensor_set_threshold 0x20 0 2 settable 000111 0 0 0 5 10 20
sensor_set_event_support 0x20 0 2 enable scanning per-state 000000000010101 000000000010101 000000000010101 000000000010101
sensor_add 0x20 0 3 0x02 0x01
sensor_set_value 0x20 0 3 200 0
sensor_set_threshold 0x20 0 3 settable 011011 0 220 210 0 180 190
sensor_set_event_support 0x20 0 3 enable scanning per-state 000001010000101 000001010000101 000001010000101 000001010000101
sensor_add 0x20 0 4 0x08 0x6f
sensor_set_bit_clr_rest 0x20 0 4 0 1 0
sensor_set_event_support 0x20 0 4 enable scanning per-state 000000000001011 000000000001011 000000000001011 000000000001011
mc_enable 0x20
`;

function fullSensor(o: {
  num: number;
  entity: string;
  type: string;
  unit: string;
  m: number;
  rexp: number;
  readable: string[];
  name: string;
}): string {
  return `sdr type 1
  sensor_owner_id 0x20
  sensor_owner_lun 0
  channel_number 0
  sensor_number ${o.num}
  entity_id ${o.entity}
  entity_instance 1
  sensor_type ${o.type}
  init_scanning true
  init_sensor_type true
  default_sensor_scan_on true
  sensor_threshold_access settable
${o.readable.map((r) => `  ${r}_thrsh_readable true`).join('\n')}
  event_reading_type_code 1
  analog_data_format unsigned
  base_unit ${o.unit}
  linearization linear
  m ${o.m}
  b 0
  accuracy 1
  sensor_direction input
  r_exp ${o.rexp}
  b_exp 0
  sensor_maximum 255
  sensor_minimum 0
  id_string "${o.name}"
endsdr
`;
}

const SDRS = `sdr type 18
  device_slave_address 0x20
  device_channel_number 0
  chassis true
  ipmb_event_gen false
  ipmb_event_recv false
  fru_inventory true
  sel true
  sdr true
  sensor true
  entity_id system_board
  entity_instance 1
  id_string "SIM BMC"
endsdr
sdr type 3
  sensor_owner_id 0x20
  sensor_owner_lun 0
  channel_number 0
  sensor_number 0
  entity_id system_board
  entity_instance 1
  sensor_type Watchdog_2
  event_reading_type_code 0x6f
  id_string "Watchdog"
endsdr
${fullSensor({ num: 1, entity: 'processor', type: 'Temperature', unit: 'degrees_C', m: 1, rexp: 0, readable: ['unr', 'uc', 'unc'], name: 'CPU1 Temp' })}${fullSensor({ num: 2, entity: 'fan_cooling_device', type: 'Fan', unit: 'RPM', m: 50, rexp: 0, readable: ['lnr', 'lc', 'lnc'], name: 'FAN1' })}${fullSensor({ num: 3, entity: 'system_board', type: 'Voltage', unit: 'Volts', m: 6, rexp: -2, readable: ['uc', 'unc', 'lc', 'lnc'], name: '12V' })}sdr type 2
  sensor_owner_id 0x20
  sensor_owner_lun 0
  channel_number 0
  sensor_number 4
  entity_id power_supply
  entity_instance 1
  sensor_type Power_Supply
  event_reading_type_code 0x6f
  event0_state_ret true
  event1_state_ret true
  event3_state_ret true
  id_string "PS1 Status"
endsdr
`;

/** lan.conf's power model: the chassis hook, run as `hook dir` for every power read and chassis command. */
export function hookPower(hook: string, dir: string): string {
  return `chassis_control "${hook} ${dir}"`;
}

/** lan.conf's power model without a hook: on while ipmi_sim's child lives (ipmi_sim puts `exec` in front). */
function processPower(on: boolean): string {
  return `startcmd "sleep infinity"\n  startnow ${on}`;
}

/** An ipmi_sim LAN config: one LAN channel on address:port, an admin user, the given power model. */
export function lanConf(name: string, port: number, power: string, user: string, pass: string, maxSessions: number, address = '127.0.0.1'): string {
  const guid = `f00dface${port.toString(16).padStart(8, '0')}${process.pid.toString(16).padStart(16, '0')}`;
  const auths = 'none md2 md5 straight';
  return `name "${name}"
set_working_mc 0x20
  startlan 1
    addr ${address} ${port}
    priv_limit admin
    allowed_auths_callback ${auths}
    allowed_auths_user ${auths}
    allowed_auths_operator ${auths}
    allowed_auths_admin ${auths}
    guid ${guid}
  endlan
  ${power}
  user 1 true "" "" user 10 ${auths}
  user 2 true "${user}" "${pass}" admin ${maxSessions} ${auths}
`;
}

// ---------------------------------------------------------------- processes

interface SimProc {
  child: ChildProcess;
  exited: Promise<void>;
}

const livePids = new Set<number>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when a test forgets stop() or throws past it; pdeathsig covers a hard crash.
  process.on('exit', () => {
    for (const pid of livePids) killGroup(pid, 'SIGKILL');
  });
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

/** Kill ipmi_sims left behind by a crashed earlier run of this harness (their owner pid is dead). */
function reapOrphans(): void {
  const mark = /rackhand-ipmisim-(\d+)-/;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    let cmd: string;
    try {
      cmd = readFileSync(`/proc/${e}/cmdline`, 'latin1');
    } catch {
      continue;
    }
    if (!cmd.startsWith('ipmi_sim\0') && !cmd.includes('/ipmi_sim\0')) continue;
    const m = mark.exec(cmd);
    if (!m) continue;
    const owner = Number(m[1]);
    if (owner === process.pid || existsSync(`/proc/${owner}`)) continue;
    killGroup(Number(e), 'SIGCONT');
    killGroup(Number(e), 'SIGKILL');
  }
}

function hasSetpriv(): boolean {
  return existsSync('/usr/bin/setpriv') || existsSync('/bin/setpriv');
}

// ---------------------------------------------------------------- ports and readiness

/** UDP ports bound on this host right now (any address), from /proc: no fork. */
function boundUdpPorts(): Map<number, number> {
  const counts = new Map<number, number>();
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (!local) continue;
      const port = parseInt(local.split(':')[1] ?? '', 16);
      if (Number.isFinite(port)) counts.set(port, (counts.get(port) ?? 0) + 1);
    }
  }
  return counts;
}

function tryBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket({ type: 'udp4', reuseAddr: false });
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

// Below the kernel's ephemeral range (32768+), so a client socket cannot grab the port between our
// probe and ipmi_sim's bind; random so parallel workers rarely race for the same one.
async function pickPorts(n: number, avoid: Set<number>): Promise<number[]> {
  const bound = boundUdpPorts();
  const out: number[] = [];
  let tries = 0;
  while (out.length < n) {
    if (++tries > n * 50 + 1000) throw new Error('ipmi-sim: no free UDP ports');
    const p = 20000 + Math.floor(Math.random() * 12000);
    if (avoid.has(p) || bound.has(p) || out.includes(p)) continue;
    if (await tryBind(p)) out.push(p);
  }
  return out;
}

// RMCP ASF Presence Ping; the sim answers with a Pong once its LAN socket is up.
const ASF_PING = Buffer.from([0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x80, 0x01, 0x00, 0x00]);

async function waitAnswering(ports: number[], timeoutMs: number, alive: (port: number) => boolean, hostOf: (port: number) => string = () => '127.0.0.1'): Promise<void> {
  const pending = new Set(ports);
  const sock: Socket = createSocket('udp4');
  sock.on('error', () => {}); // ICMP unreachable before the sim binds
  sock.on('message', (msg, rinfo) => {
    if (msg.length >= 9 && msg[0] === 0x06 && msg[3] === 0x06 && msg[8] === 0x40) pending.delete(rinfo.port);
  });
  await new Promise<void>((r) => sock.bind(0, () => r()));
  const deadline = Date.now() + timeoutMs;
  try {
    while (pending.size > 0) {
      for (const p of pending) {
        if (!alive(p)) throw new Error(`ipmi-sim on port ${p} exited during start-up`);
        sock.send(ASF_PING, p, hostOf(p));
      }
      if (Date.now() > deadline) throw new Error(`ipmi-sim: ${pending.size} sims not answering after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    sock.close();
  }
}

// ---------------------------------------------------------------- the farm

export async function startSimFarm(opts: SimFarmOptions): Promise<SimFarm> {
  const count = opts.count;
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new Error('ipmi-sim: count must be 1..1000');
  const username = opts.username ?? SIM_USER;
  const password = opts.password ?? SIM_PASS;
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;
  const processModel = opts.power === 'process';
  installExitHook();
  reapOrphans();

  const parent = opts.statedir ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const root = mkdtempSync(join(parent, `rackhand-ipmisim-${process.pid}-`));
  const removeRoot = opts.statedir === undefined;
  const shared = join(root, '_shared');
  mkdirSync(shared);
  const hook = join(shared, 'chassis-control.sh');
  writeFileSync(hook, HOOK);
  chmodSync(hook, 0o755);
  const emu = join(shared, 'bmc.emu');
  writeFileSync(emu, EMU);
  writeFileSync(join(shared, 'sensors.sdrs'), SDRS);
  const sdrMain = join(shared, 'sdr.20.main');
  // -8: 8-bit ASCII id strings; ipmitool does not decode 6-bit packed names.
  await run('sdrcomp', ['-8', '-o', sdrMain, join(shared, 'sensors.sdrs')]);
  const sdrBytes = readFileSync(sdrMain);

  const procs = new Map<number, SimProc>();
  const bmcs: SimBmc[] = [];
  const ports = await pickPorts(count, new Set());
  const useSetpriv = hasSetpriv();

  const launch = (i: number): void => {
    const b = bmcs[i]!;
    const conf = join(b.dir, 'lan.conf');
    const log = openSync(join(b.dir, 'ipmi_sim.log'), 'a');
    const simArgs = ['-n', '-c', conf, '-f', emu, '-s', b.dir];
    const [cmd, args] = useSetpriv
      ? ['setpriv', ['--pdeathsig', 'KILL', '--', 'ipmi_sim', ...simArgs]]
      : ['ipmi_sim', simArgs];
    const child = spawn(cmd as string, args as string[], { detached: true, stdio: ['ignore', log, log] });
    closeSync(log);
    const pid = child.pid;
    if (pid === undefined) throw new Error('ipmi-sim: spawn failed');
    livePids.add(pid);
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        livePids.delete(pid);
        resolve();
      });
      child.once('error', () => {
        livePids.delete(pid);
        resolve();
      });
    });
    procs.set(i, { child, exited });
  };

  const isUp = (i: number): boolean => {
    const p = procs.get(i);
    return p !== undefined && p.child.exitCode === null && p.child.signalCode === null;
  };

  const killSim = async (i: number): Promise<void> => {
    const p = procs.get(i);
    if (!p) return;
    if (isUp(i) && p.child.pid !== undefined) {
      killGroup(p.child.pid, 'SIGKILL');
      killGroup(p.child.pid, 'SIGCONT');
    }
    await p.exited;
    procs.delete(i);
  };

  const holders = new Set<ChildProcess>();
  const stop = async (): Promise<void> => {
    for (const h of holders) h.kill('SIGKILL');
    holders.clear();
    await Promise.all([...procs.keys()].map((i) => killSim(i)));
    if (removeRoot) rmSync(root, { recursive: true, force: true });
  };

  try {
    for (let i = 0; i < count; i++) {
      const name = `bmc-${i}`;
      const dir = join(root, name);
      const host = opts.ownAddresses ? `127.1.${(i + 1) >> 8}.${(i + 1) & 255}` : '127.0.0.1';
      mkdirSync(join(dir, 'ipmi_sim', name), { recursive: true });
      writeFileSync(join(dir, 'ipmi_sim', name, 'sdr.20.main'), sdrBytes);
      const power = processModel ? processPower(opts.initialPower !== 'off') : hookPower(hook, dir);
      writeFileSync(join(dir, 'lan.conf'), lanConf(name, ports[i]!, power, username, password, opts.maxSessions ?? 10, host));
      if (!processModel) {
        writeFileSync(join(dir, 'power'), opts.initialPower === 'off' ? '0\n' : '1\n');
        writeFileSync(join(dir, 'boot'), 'none\n');
      }
      bmcs.push({ index: i, host, port: ports[i]!, username, password, dir });
    }
    for (let i = 0; i < count; i++) launch(i);
    const byPort = new Map(bmcs.map((b) => [b.port, b.index]));
    await waitAnswering(ports, readyTimeoutMs, (p) => isUp(byPort.get(p)!), (p) => bmcs[byPort.get(p)!]!.host);
    // ipmi_sim uses SO_REUSEADDR and would silently share a port someone bound in the meantime.
    const bound = boundUdpPorts();
    const shared = ports.filter((p) => (bound.get(p) ?? 0) > 1);
    if (shared.length > 0) throw new Error(`ipmi-sim: UDP ports shared with another process: ${shared.join(',')}`);
  } catch (e) {
    await stop();
    throw e;
  }

  const bmcOf = (i: number): SimBmc => {
    const b = bmcs[i];
    if (!b) throw new Error(`ipmi-sim: no sim ${i}`);
    return b;
  };
  const readFile = (i: number, f: string): string | undefined => {
    try {
      return readFileSync(join(bmcOf(i).dir, f), 'utf8').trim();
    } catch {
      return undefined;
    }
  };

  /** power 'process': the sim's power child (the `sleep` it started), if it has one and has not reaped it. */
  const powerChild = (i: number): number | undefined => {
    const pid = procs.get(i)?.child.pid;
    if (pid === undefined || !isUp(i)) return undefined;
    try {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
      return kids ? Number(kids.split(' ')[0]) : undefined;
    } catch {
      return undefined;
    }
  };
  const hookOnly = (what: string): void => {
    if (processModel) throw new Error(`ipmi-sim: ${what} needs the chassis hook (power 'hook')`);
  };

  const setPower = (i: number, s: 'on' | 'off'): void => {
    if (!processModel) {
      writeFileSync(join(bmcOf(i).dir, 'power'), s === 'on' ? '1\n' : '0\n');
      return;
    }
    if (s === 'on') throw new Error("ipmi-sim: power 'process' cannot power on behind the BMC's back");
    const child = powerChild(i);
    if (child === undefined) return;
    process.kill(child, 'SIGKILL');
    // Off once the sim has reaped it (it clears its record of the child then): a read before would say on.
    const deadline = Date.now() + 5_000;
    while (powerChild(i) === child) {
      if (Date.now() > deadline) throw new Error(`ipmi-sim: sim ${i} did not reap its power child`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  };

  const fault = async (i: number, kind: SimFault, arg?: number): Promise<void> => {
    const b = bmcOf(i);
    if (kind === 'slow' || kind === 'fast' || kind === 'fail' || kind === 'ok') hookOnly(`fault '${kind}'`);
    const pid = procs.get(i)?.child.pid;
    switch (kind) {
      case 'down':
        await killSim(i);
        return;
      case 'up': {
        if (isUp(i)) throw new Error(`ipmi-sim: sim ${i} already up`);
        procs.delete(i);
        launch(i);
        await waitAnswering([b.port], readyTimeoutMs, () => isUp(i), () => b.host);
        return;
      }
      case 'restart':
        await fault(i, 'down');
        await fault(i, 'up');
        return;
      case 'hang':
        if (pid !== undefined && isUp(i)) process.kill(pid, 'SIGSTOP');
        return;
      case 'resume':
        if (pid !== undefined && isUp(i)) process.kill(pid, 'SIGCONT');
        return;
      case 'slow':
        if (arg === undefined || !(arg >= 0)) throw new Error('ipmi-sim: slow needs seconds');
        writeFileSync(join(b.dir, 'fault_delay'), `${arg}\n`);
        return;
      case 'fast':
        rmSync(join(b.dir, 'fault_delay'), { force: true });
        return;
      case 'fail':
        writeFileSync(join(b.dir, 'fault_fail'), '');
        return;
      case 'ok':
        rmSync(join(b.dir, 'fault_fail'), { force: true });
        return;
    }
  };

  const holdSessions = async (i: number, n: number): Promise<() => Promise<void>> => {
    const b = bmcOf(i);
    const mine: ChildProcess[] = [];
    const release = async (): Promise<void> => {
      await Promise.all(
        mine.map((c) => {
          holders.delete(c);
          if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
          return new Promise<void>((r) => {
            c.once('exit', () => r());
            c.kill('SIGKILL');
          });
        }),
      );
    };
    // Patient retries: a busy machine must not make a holder give up (the test then sees no BMC_BUSY at all).
    const argv = ['-I', 'lanplus', '-C', '3', '-N', '2', '-R', '4', '-H', b.host, '-p', String(b.port), '-U', b.username, '-E', 'shell'];
    const opened = (c: ChildProcess): Promise<void> =>
      new Promise((resolve, reject) => {
        let out = '';
        const t = setTimeout(() => reject(new Error('ipmi-sim: holding session did not open')), 20_000);
        c.stdout?.on('data', (d: Buffer) => {
          out += d.toString('latin1');
          if (out.includes('ipmitool>')) {
            clearTimeout(t);
            resolve();
          }
        });
        c.once('exit', () => {
          clearTimeout(t);
          reject(new Error('ipmi-sim: holding session exited'));
        });
      });
    try {
      // A few at a time: the sim is single-threaded and each open is several round trips.
      for (let k = 0; k < n; k += 8) {
        const batch: Promise<void>[] = [];
        for (let j = k; j < Math.min(n, k + 8); j++) {
          // ipmitool's shell ignores EOF on stdin: pdeathsig makes sure a crashed test does not leave it behind.
          const [cmd, args] = useSetpriv ? ['setpriv', ['--pdeathsig', 'KILL', '--', 'ipmitool', ...argv]] : ['ipmitool', argv];
          const c = spawn(cmd as string, args as string[], { env: { ...process.env, IPMI_PASSWORD: b.password }, stdio: ['pipe', 'pipe', 'ignore'] });
          c.stdin?.on('error', () => undefined);
          mine.push(c);
          holders.add(c);
          batch.push(opened(c));
        }
        await Promise.all(batch);
      }
    } catch (e) {
      await release();
      throw e;
    }
    return release;
  };

  return {
    bmcs,
    root,
    fault,
    holdSessions,
    powerState: (i) => {
      if (processModel) return powerChild(i) === undefined ? 'off' : 'on';
      return readFile(i, 'power') === '0' ? 'off' : 'on';
    },
    setPower,
    bootDevice: (i) => {
      hookOnly('bootDevice');
      return readFile(i, 'boot') ?? 'none';
    },
    resets: (i) => {
      hookOnly('resets');
      return Number(readFile(i, 'resets') ?? '0');
    },
    chassisLog: (i) => {
      hookOnly('chassisLog');
      return (readFile(i, 'chassis.log') ?? '').split('\n').filter((l) => l !== '');
    },
    pid: (i) => (isUp(i) ? procs.get(i)?.child.pid : undefined),
    stop,
  };
}

// ---------------------------------------------------------------- ipmitool cross-check

export interface IpmitoolResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `ipmitool -I lanplus -C 3 -H host -p port -U user -E ARGS…` with the password in IPMI_PASSWORD only.
 * Never rejects on a non-zero exit: tests assert on code/stdout/stderr.
 */
export function ipmitool(
  bmc: { host: string; port: number; username: string; password: string },
  args: string[],
  opts: { timeoutMs?: number; cipherSuite?: number; privilege?: string } = {},
): Promise<IpmitoolResult> {
  const argv = ['-I', 'lanplus', '-C', String(opts.cipherSuite ?? 3), '-N', '1', '-R', '2'];
  if (opts.privilege) argv.push('-L', opts.privilege);
  argv.push('-H', bmc.host, '-p', String(bmc.port), '-U', bmc.username, '-E', ...args);
  return new Promise((resolve) => {
    execFile(
      'ipmitool',
      argv,
      { env: { ...process.env, IPMI_PASSWORD: bmc.password }, timeout: opts.timeoutMs ?? 20_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, _out, stderr) => (err ? reject(new Error(`${cmd} failed: ${String(stderr) || err.message}`)) : resolve()));
  });
}

