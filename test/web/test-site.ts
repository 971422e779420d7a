// The REAL rackhand agent in-process for the page, CLI, SSE and metrics tests: createAgent on a temp state dir,
// listening on loopback port 0, seeded with the demo site (simulated BMCs) and tokens of every role.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAgent, type Agent } from '../../src/agent.js';
import { parseConfig } from '../../src/config.js';
import { demoDiscovered, demoServers } from '../../src/demo/demo-site.js';
import type { BmcTarget, SensorReading } from '../../src/bmc/bmc-driver.js';
import type { SimulatedBmcState, SimulatedDriver } from '../../src/bmc/simulated/simulated-driver.js';

export interface TestSite {
  url: string;
  /** The agent's state dir: the bootstrap CLI (token create, backup) works on it directly. */
  stateDir: string;
  agent: Agent;
  /** The SimulatedDriver every demo server's BMC runs on: faults and BMC state. */
  driver: SimulatedDriver;
  tokens: { admin: string; tech: string; client: string };
  /** The user the client token belongs to. */
  ownerId: number;
  /** The simulated BMC of a demo server (1001..1012). */
  bmcOf(serverId: number): SimulatedBmcState;
  /** "host:port" of a demo server's BMC, the key SimulatedDriver.injectFault takes. */
  bmcKey(serverId: number): string;
  /** Plays the installer of a deploy in progress: GET /boot/callback/<token> as the installed host would. */
  installerCallback(serverId: number): Promise<Response>;
  close(): Promise<void>;
}

export interface TestSiteOptions {
  /** Every server's console target (a VNC server; nothing needs to listen unless a test connects). */
  vnc?: { host: string; port: number };
  /** Extra configuration merged over the test defaults (e.g. boot.tftp / boot.dhcp for the boot plane). */
  config?: Record<string, unknown>;
}

/** The simulated BMC's inlet sensor reads over its warning threshold: the page has a threshold to highlight. */
/** The journalled steps of a successful deploy on a simulated BMC (no grace period), in order. */
export const DEPLOY_STEPS = [
  'arm netboot (install)',
  'boot device pxe (legacy, next boot)',
  'power on or reset into the network boot',
  'wait for installer callback',
  'disarm netboot',
  'boot device disk (legacy, persistent)',
  'reboot into the installed system',
];

export const INLET_WARNING: SensorReading = {
  name: 'Inlet Temp',
  type: 'temperature',
  value: 83,
  unit: 'degrees C',
  status: 'warning',
  thresholds: { upperNonCritical: 80, upperCritical: 90 },
};

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' && !Array.isArray(prev) ? merge(prev as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

const bmcHost = (serverId: number) => `198.51.100.${10 + (serverId - 1000)}`;

export async function startTestSite(opts: TestSiteOptions = {}): Promise<TestSite> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), `rackhand-test-site-${process.pid}-`));
  let agent: Agent | undefined;
  try {
    const config = parseConfig(
      merge(
        {
          stateDir,
          site: { name: 'test-site' },
          http: { listen: '127.0.0.1:0' },
          log: { level: 'silent' },
          bmc: {
            allowSimulated: true,
            simulatedDelayMs: 2,
            powerPollMs: 50,
            powerTimeoutMs: 5_000,
            softOffTimeoutMs: 5_000,
            bmcResetTimeoutMs: 5_000,
            // Tests read power and reachability only when they act: "never read" must stay true until then.
            sync: { enabled: false },
            scheduler: { minSpacingMs: 5, operationTimeoutMs: 5_000, breakerThreshold: 1000 },
          },
          // Passes are driven by the tests (agent.parts.sampler.sampleOnce()).
          sensors: { enabled: false },
          // A deploy that never hears from its installer fails instead of hanging the suite.
          boot: { installTimeoutMs: 60_000, rebootGraceMs: 0 },
        },
        opts.config ?? {},
      ),
    );
    agent = await createAgent(config);
    const sim = agent.parts.simulated!;
    const plainSensors = sim.sensors.bind(sim);
    sim.sensors = async (t: BmcTarget) => [...(await plainSensors(t)), { ...INLET_WARNING, thresholds: { ...INLET_WARNING.thresholds } }];

    const { url } = await agent.start();
    const admin = agent.repos.tokens.create({ name: 'admin', role: 'admin' }).token;
    const tech = agent.repos.tokens.create({ name: 'tech', role: 'tech' }).token;
    const owner = agent.repos.users.create({ email: `owner-${process.pid}@example.com` });
    const client = agent.repos.tokens.create({ name: 'client', role: 'client', ownerId: owner.id }).token;

    // Seeded the way an operator does: the inventory import over the API, discovered hosts as DHCP records them.
    const res = await fetch(`${url}/api/v1/servers/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(demoServers({ vnc: opts.vnc ?? { host: '127.0.0.1', port: 5999 } })),
    });
    if (!res.ok) throw new Error(`import failed: HTTP ${res.status} ${await res.text()}`);
    for (const c of demoDiscovered()) agent.repos.discovered.record(c);

    const a = agent;
    return {
      url,
      stateDir,
      agent: a,
      driver: sim,
      tokens: { admin, tech, client },
      ownerId: owner.id,
      bmcOf: (id) => sim.state({ host: bmcHost(id), port: 623 }),
      bmcKey: (id) => `${bmcHost(id)}:623`,
      installerCallback(serverId) {
        const nb = a.core.netboot.state(serverId);
        if (!nb) throw new Error(`server ${serverId} has no netboot armed`);
        return fetch(`${url}/boot/callback/${nb.token}`);
      },
      async close() {
        try {
          await a.stop();
        } finally {
          fs.rmSync(stateDir, { recursive: true, force: true });
        }
      },
    };
  } catch (e) {
    await agent?.stop().catch(() => {});
    fs.rmSync(stateDir, { recursive: true, force: true });
    throw e;
  }
}
