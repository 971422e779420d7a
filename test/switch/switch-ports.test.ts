// Switch-port suspend/resume against a real snmpd in a private namespace: v2c, v3 authPriv, failures leave nothing half-done.
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authenticate } from '../../src/api/authenticate.js';
import { dciFace } from '../../src/api/dci/dci-face.js';
import { v1Face } from '../../src/api/v1/v1-face.js';
import type { Principal } from '../../src/auth/tokens.js';
import { Servers } from '../../src/core/servers.js';
import { SwitchPorts } from '../../src/core/switch-ports.js';
import { Tasks } from '../../src/core/tasks.js';
import { Tokens } from '../../src/core/tokens.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { RackhandError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { SecretBox } from '../../src/store/secret-box.js';
import { openDatabase, type Db } from '../../src/store/sqlite-store.js';
import { ServersRepo } from '../../src/store/repos/servers-repo.js';
import { TasksRepo } from '../../src/store/repos/tasks-repo.js';
import { TokensRepo } from '../../src/store/repos/tokens-repo.js';
import { UsersRepo } from '../../src/store/repos/users-repo.js';
import { SwitchPortService } from '../../src/switch/switch-port-service.js';
import { switchWorkflows } from '../../src/tasks/workflows/switch-workflows.js';
import { SwitchesRepo } from '../../src/store/repos/switches-repo.js';
import { TaskRunner } from '../../src/tasks/task-runner.js';
import { apiClient } from '../harness/rackhand-process.js';
import { serveFaces, type FaceServer } from '../harness/face-server.js';
import { startSnmpLab, type SnmpLab } from '../harness/snmp-lab.js';

const ADMIN: Principal = { tokenId: 1, name: 'admin', role: 'admin', ownerId: null };
const TIMING = { timeoutMs: 600, retries: 0, confirmAttempts: 10, confirmIntervalMs: 100 };

let lab: SnmpLab;
let dir: string;
let key: Buffer;
let db: Db;
let switches: SwitchesRepo;
let ports: SwitchPortService;
let tasks: TaskRunner;
let http: FaceServer;
let switchPorts: SwitchPorts;
let serversRepo: ServersRepo;
const suspended = (id: number) => serversRepo.get(id)!.suspended;
let url: string;
let admin: string;
let client: string;
let deadPort: number;

function open() {
  db = openDatabase(path.join(dir, 'rackhand.db'), MIGRATIONS);
  const secrets = SecretBox.fromKey(key);
  switches = new SwitchesRepo(db, secrets);
  ports = new SwitchPortService(switches, TIMING);
  const log = createLogger({ level: 'silent' });
  tasks = new TaskRunner(new TasksRepo(db), log);
  const servers = (serversRepo = new ServersRepo(db, secrets));
  switchPorts = new SwitchPorts(switches, servers, tasks);
  for (const wf of switchWorkflows({ ports, servers })) tasks.register(wf);
  return { secrets, log, servers };
}

const iface = (server: number, n: number, sw: string, port: string) => ({
  name: `eth${n}`,
  mac: `52:54:00:aa:${server.toString(16).padStart(2, '0')}:${n.toString(16).padStart(2, '0')}`,
  switch: sw,
  switch_port: port,
});

async function runOp(kind: 'suspend' | 'resume', serverId: number) {
  const task = switchPorts.setSuspended(ADMIN, serverId, kind === 'suspend');
  return tasks.wait(task.id);
}

async function expectAllUp(names: string[]) {
  for (const n of names) expect(await lab.adminUp(n), `${n} must still be up`).toBe(true);
}

beforeAll(async () => {
  lab = await startSnmpLab({ ports: 4 });
  dir = mkdtempSync(path.join(tmpdir(), `rh-switch-${process.pid}-`));
  key = randomBytes(32);
  const { servers } = open();
  // A port where nothing answers: bound, then closed (UDP gets no reply; ICMP is not reported to unconnected sockets).
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  deadPort = (s.address() as AddressInfo).port;
  s.close();

  const users = new UsersRepo(db);
  const inventory = new Servers(servers, users, false);
  const owner = users.create({ email: 'switch-owner@example.com', password: 'correct-horse-9' });
  const srv = (id: number, interfaces: ReturnType<typeof iface>[], ownerId?: number) => ({ id, name: `srv-${id}`, interfaces, owner_id: ownerId });
  inventory.import(ADMIN, [
    srv(1, [iface(1, 0, 'sw-v2', '101'), iface(1, 1, 'sw-v2', 'swp2')], owner.id),
    srv(2, [iface(2, 0, 'sw-v3', 'swp3')]),
    srv(3, [iface(3, 0, 'sw-wrong', 'swp4')]),
    srv(4, [iface(4, 0, 'sw-dead', '101')]),
    srv(5, [iface(5, 0, 'sw-v2', 'swp1'), iface(5, 1, 'sw-v2', 'swp99')]),
    srv(6, [iface(6, 0, 'sw-v2', '101'), iface(6, 1, 'sw-v2', '150')]),
    srv(7, [iface(7, 0, 'sw-v2', 'swp1'), iface(7, 1, 'sw-ro', 'swp2')]),
    srv(8, [{ name: 'eth0', mac: '52:54:00:aa:08:00' }]),
    srv(9, [iface(9, 0, 'sw-v3bad', 'swp4')]),
    srv(10, [iface(10, 0, 'sw-nowhere', 'swp4')]),
  ]);

  const tokens = new TokensRepo(db);
  admin = tokens.create({ name: 'admin', role: 'admin' }).token;
  client = tokens.create({ name: 'client', role: 'client', ownerId: owner.id }).token;
  http = await serveFaces([v1Face, dciFace], {
    core: { servers: inventory, switchPorts, tasks: new Tasks(tasks, servers), tokens: new Tokens(tokens, users) },
    authenticate: (req) => authenticate(req, tokens),
  });
  url = http.url;
});

afterAll(async () => {
  await http?.close();
  await tasks?.stop();
  db?.close();
  await lab?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('switch registry', () => {
  it('registers switches over /api/v1/switches with write-only, encrypted credentials', async () => {
    const api = apiClient(() => url, admin);
    const addr = `${lab.host}:${lab.port}`;
    const regs = [
      { name: 'sw-v2', address: addr, version: 'v2c', community: lab.rw },
      { name: 'sw-v3', address: addr, version: 'v3', user: lab.v3.user, auth_key: lab.v3.authKey, priv_key: lab.v3.privKey },
      { name: 'sw-ro', address: addr, community: lab.ro },
      { name: 'sw-wrong', address: addr, community: 'not-the-community' },
      { name: 'sw-dead', address: `127.0.0.1:${deadPort}`, community: lab.rw },
      { name: 'sw-v3bad', address: addr, version: 'v3', user: lab.v3.user, auth_key: lab.v3.authKey, priv_key: 'wrong-priv-key' },
    ];
    for (const r of regs) {
      const res = await api.post('/api/v1/switches', r);
      expect(res.status, res.text).toBe(201);
    }
    const list = await api.get('/api/v1/switches');
    expect(list.json.total).toBe(regs.length);
    expect(list.json.switches.find((s: any) => s.name === 'sw-v3')).toMatchObject({ version: 'v3', user: 'rhuser', auth_key: 'set', priv_key: 'set', community: 'not set' });
    expect(list.json.switches.find((s: any) => s.name === 'sw-v2')).toMatchObject({ address: addr, community: 'set' });
    for (const secret of [lab.rw, lab.v3.authKey, lab.v3.privKey, 'not-the-community']) {
      expect(list.text).not.toContain(secret);
      const raw = JSON.stringify(db.prepare('SELECT * FROM switches').all());
      expect(raw).not.toContain(secret);
    }
    // Updating without the secret keeps it.
    expect((await api.post('/api/v1/switches', { name: 'sw-v2', address: addr, note: 'rack 1' })).status).toBe(200);
    expect((await api.get('/api/v1/switches/sw-v2')).json).toMatchObject({ community: 'set', note: 'rack 1' });
    const bad = await api.post('/api/v1/switches', { name: 'x', address: addr, version: 'v3', user: 'u' });
    expect([bad.status, bad.json.error.details.field]).toEqual([400, 'auth_key']);
    expect((await api.post('/api/v1/switches', { name: 'x', address: 'a b' })).json.error.details.field).toBe('address');
    expect((await apiClient(() => url, client).post('/api/v1/switches', regs[0])).status).toBe(403);
  });
});

describe('suspend and resume', () => {
  it('v2c over the DCImanager API: ports (by ifIndex and by ifName) go down, then up, as the kernel sees it', async () => {
    const api = apiClient(() => url, admin);
    const r = await api.post('/api/dci/v3/server/1/suspend', {});
    expect(r.status, r.text).toBe(200);
    expect(r.json).toEqual({ id: 1, task: expect.any(Number) });
    const t = await tasks.wait(r.json.task);
    expect(t.state, JSON.stringify(t.error)).toBe('succeeded');
    expect(await lab.adminUp('swp1')).toBe(false);
    expect(await lab.adminUp('swp2')).toBe(false);
    expect(await lab.adminUp('swp3')).toBe(true);
    expect(suspended(1)).toBe(true);
    expect(t.steps.filter((s) => s.name === 'port').map((s) => s.message)).toEqual([
      'sw-v2 port 101 (ifIndex 101): up -> down',
      'sw-v2 port swp2 (ifIndex 102): up -> down',
    ]);
    // A client may not lift a suspension, even of its own server.
    expect((await apiClient(() => url, client).post('/api/dci/v3/server/1/resume', {})).status).toBe(403);

    const back = await api.post('/api/dci/v3/server/1/resume', {});
    expect((await tasks.wait(back.json.task)).state).toBe('succeeded');
    await expectAllUp(['swp1', 'swp2']);
    expect(suspended(1)).toBe(false);
  });

  it('v3 authPriv (SHA/AES)', async () => {
    const t = await runOp('suspend', 2);
    expect(t.state, JSON.stringify(t.error)).toBe('succeeded');
    expect(await lab.adminUp('swp3')).toBe(false);
    expect(await ports.readServerPorts(2)).toEqual([{ switch: 'sw-v3', port: 'swp3', ifIndex: 103, state: 'down' }]);
    expect((await runOp('resume', 2)).state).toBe('succeeded');
    expect(await lab.adminUp('swp3')).toBe(true);
  });

  it('the suspended flag survives a restart', async () => {
    expect((await runOp('suspend', 2)).state).toBe('succeeded');
    await tasks.stop();
    db.close();
    open();
    expect(suspended(2)).toBe(true);
    expect(serversRepo.list({}).servers.filter((x) => x.suspended).map((x) => x.id)).toEqual([2]);
    expect((await runOp('resume', 2)).state).toBe('succeeded');
    expect(suspended(2)).toBe(false);
    await expectAllUp(['swp3']);
  });

  const failures: [string, number, RegExp, string[]][] = [
    ['a wrong community', 3, /switch sw-wrong port swp4: no answer \(timeout\).*nothing was changed/, ['swp4']],
    ['an unreachable switch', 4, /switch sw-dead port 101: no answer \(timeout\)/, ['swp1']],
    ['a port name that does not exist', 5, /switch sw-v2 port swp99: no interface named "swp99"/, ['swp1']],
    ['an ifIndex that does not exist', 6, /switch sw-v2 port 150: .*NoSuchInstance/i, ['swp1']],
    ['a wrong v3 privacy key', 9, /switch sw-v3bad .*: no answer \(timeout\)/, ['swp4']],
    ['a switch that is not registered', 10, /switch sw-nowhere .*is not registered/, ['swp4']],
    ['a server with no switch ports', 8, /no interface with a switch and port/, []],
  ];
  for (const [what, server, message, untouched] of failures) {
    it(`${what} ends with SWITCH_ERROR and nothing changed`, async () => {
      const t = await runOp('suspend', server);
      expect(t.state).toBe('failed');
      expect(t.error?.code).toBe('SWITCH_ERROR');
      expect(t.error?.message).toMatch(message);
      expect(suspended(server)).toBe(false);
      await expectAllUp([...untouched, 'swp1', 'swp2', 'swp3', 'swp4']);
    });
  }

  it('a port that refuses the SET after another was changed: the changed one is restored', async () => {
    let err: RackhandError | undefined;
    const notes: string[] = [];
    try {
      await ports.setServerPorts(7, 'down', { note: (m) => notes.push(m) });
    } catch (e) {
      err = e as RackhandError;
    }
    expect(err?.code).toBe('SWITCH_ERROR');
    expect(err?.message).toMatch(/switch sw-ro port swp2 \(ifIndex 102\): agent answered NoAccess.*restored/);
    expect(err?.details).toMatchObject({ switch: 'sw-ro', port: 'swp2', cause: 'no_access' });
    expect(notes).toEqual(['sw-v2 port swp1 (ifIndex 101): up -> down', 'sw-v2 port swp1: restored to up']);
    await expectAllUp(['swp1', 'swp2']);
  });

  it('restores a port to what it was, not blindly up', async () => {
    await lab.setAdmin('swp1', false); // an operator had shut swp1 already
    try {
      // snmpd caches its ifTable for a few seconds: wait until it reports the change made behind its back.
      const deadline = Date.now() + 30_000;
      while ((await ports.readServerPorts(7))[0].state !== 'down') {
        if (Date.now() > deadline) throw new Error('snmpd never saw swp1 go down');
        await new Promise((r) => setTimeout(r, 250));
      }
      const t = await runOp('suspend', 7);
      expect(t.error?.code).toBe('SWITCH_ERROR');
      expect(await lab.adminUp('swp1')).toBe(false);
      expect(await lab.adminUp('swp2')).toBe(true);
    } finally {
      await lab.setAdmin('swp1', true);
    }
  });

  it('a suspend interrupted by a crash is settled at start-up: ports put back to what the flag says', async () => {
    // Half a suspend: the ports went down over SNMP, then the process died before marking the server.
    await ports.setServerPorts(1, 'down');
    expect(await lab.adminUp('swp1')).toBe(false);
    const repo = new TasksRepo(db);
    const id = repo.insert({ kind: 'suspend', serverId: 1, mutating: true, params: {}, requestedBy: 'test' });
    repo.markRunning(id);
    await tasks.stop();
    db.close();
    open();
    expect(await tasks.recover()).toEqual({ resumed: 0, settled: 1 });
    const t = tasks.get(id)!;
    expect(t.state).toBe('failed');
    expect(t.error?.code).toBe('TASK_INTERRUPTED');
    expect(suspended(1)).toBe(false);
    await expectAllUp(['swp1', 'swp2']);
  });
});
