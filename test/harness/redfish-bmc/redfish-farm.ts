// Test harness: many emulated Redfish BMCs in one process, each on its own port, over in-memory machines (no VMs):
// the peers of fan-out tests and bench/redfish-fanout.

import { MemoryMachine } from './emulated-machine.js';
import { RedfishEmulator, type RedfishQuirks } from './redfish-emulator.js';

export interface RedfishFarmOptions {
  count: number;
  tls?: boolean; // default true
  quirks?: Partial<RedfishQuirks>;
  username?: string; // default admin
  password?: string; // default password
  /** Power of every machine at start: default alternating On/Off, so a reader that mixes them up is caught. */
  power?: 'On' | 'Off';
}

export interface FarmBmc {
  index: number;
  host: '127.0.0.1';
  port: number;
  username: string;
  password: string;
  emulator: RedfishEmulator;
  machine: MemoryMachine;
}

export interface RedfishFarm {
  bmcs: FarmBmc[];
  stop(): Promise<void>;
}

export async function startRedfishFarm(o: RedfishFarmOptions): Promise<RedfishFarm> {
  const username = o.username ?? 'admin';
  const password = o.password ?? 'password';
  const bmcs: FarmBmc[] = [];
  try {
    for (let i = 0; i < o.count; i++) {
      const machine = new MemoryMachine({ power: o.power ?? (i % 2 ? 'Off' : 'On') });
      const emulator = await new RedfishEmulator({ machine, username, password, tls: o.tls, quirks: o.quirks }).start();
      bmcs.push({ index: i, host: '127.0.0.1', port: emulator.port, username, password, emulator, machine });
    }
  } catch (e) {
    await Promise.allSettled(bmcs.map((b) => b.emulator.stop()));
    throw e;
  }
  return { bmcs, stop: async () => void (await Promise.allSettled(bmcs.map((b) => b.emulator.stop()))) };
}
