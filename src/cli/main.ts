// The `rackhand` command: serve the daemon, and bootstrap commands that work directly on the state dir.
import { mkdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type ResolvedConfig } from '../config.js';
import { createAgent, openState } from '../agent.js';
import { ROLES, type Principal, type Role } from '../auth/tokens.js';
import { InventoryService } from '../core/inventory-service.js';
import { RackhandError } from '../errors.js';
import { acquireStateLock, StateLockedError } from '../store/state-lock.js';
import { csvRowToServer, parseCsv } from './csv.js';
import { runTechCommand, TECH_USAGE } from './tech-cli.js';
import { demoDiscovered, demoServers, probeVnc } from '../demo/demo-site.js';
import type { Agent } from '../agent.js';

const USAGE = `usage: rackhand <command> [options]

  serve [--config FILE] [--demo]        run the daemon (embedded defaults when no config);
                                        --demo fills an empty state dir with a simulated site
  token create --role ROLE [--name N] [--owner USER_ID]
                                        print a new API token once (roles: ${ROLES.join(', ')})
  token list | token revoke ID
  servers import FILE                   upsert servers from a JSON array or a CSV file
  servers list
  task show ID
  backup FILE                           online backup of the SQLite store

Every command takes --config FILE (or RACKHAND_CONFIG) and RACKHAND_* overrides.

${TECH_USAGE}`;

/** The bootstrap CLI acts as the site's admin: it has the state dir, so it has everything anyway. */
const LOCAL_ADMIN: Principal = { tokenId: 0, name: 'local-cli', role: 'admin', ownerId: null };

async function main(argv: string[]): Promise<number> {
  // The state dir holds the database and the key: nothing rackhand writes is for other users.
  process.umask(0o077);
  const tech = await runTechCommand(argv);
  if (tech !== undefined) return tech;
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      role: { type: 'string' },
      name: { type: 'string' },
      owner: { type: 'string' },
      json: { type: 'boolean' },
      demo: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [cmd, sub, arg] = positionals;
  if (values.help || !cmd) {
    console.log(USAGE);
    return cmd || values.help ? 0 : 2;
  }
  const config = loadConfig({ file: values.config });

  if (cmd === 'serve') return serve(config, values.demo ?? false);

  const state = openState(config);
  try {
    const { repos } = state;
    if (cmd === 'token' && sub === 'create') {
      const role = values.role as Role;
      if (!ROLES.includes(role)) throw new RackhandError('INVALID_INPUT', `--role must be one of ${ROLES.join(', ')}`);
      const ownerId = values.owner ? Number(values.owner) : null;
      if (role === 'client' && !ownerId) throw new RackhandError('INVALID_INPUT', 'a client token needs --owner USER_ID');
      if (ownerId !== null && !repos.users.get(ownerId)) throw new RackhandError('NOT_FOUND', `user ${ownerId} not found`);
      const { token, info } = repos.tokens.create({ name: values.name ?? `${role}-${Date.now()}`, role, ownerId });
      if (values.json) console.log(JSON.stringify({ token, ...info }));
      else console.log(token);
      return 0;
    }
    if (cmd === 'token' && sub === 'list') {
      const list = repos.tokens.list();
      if (values.json) console.log(JSON.stringify(list));
      else for (const t of list) console.log(`${t.id}\t${t.role}\t${t.name}\t${t.revokedAt ? 'revoked ' + t.revokedAt : 'active'}`);
      return 0;
    }
    if (cmd === 'token' && sub === 'revoke') {
      if (!arg || !repos.tokens.revoke(Number(arg))) throw new RackhandError('NOT_FOUND', `token ${arg} not found or already revoked`);
      console.log(`revoked token ${arg}`);
      return 0;
    }
    if (cmd === 'servers' && sub === 'import') {
      if (!arg) throw new RackhandError('INVALID_INPUT', 'servers import needs a FILE');
      const text = readFileSync(arg, 'utf8');
      const items = /^\s*[[{]/.test(text) ? JSON.parse(text) : parseCsv(text).map(csvRowToServer);
      const inventory = new InventoryService(repos.servers, repos.users);
      const r = inventory.import(LOCAL_ADMIN, Array.isArray(items) ? items : items.servers);
      console.log(values.json ? JSON.stringify(r) : `imported: ${r.created} created, ${r.updated} updated`);
      return 0;
    }
    if (cmd === 'servers' && sub === 'list') {
      const { servers } = repos.servers.list({});
      if (values.json) console.log(JSON.stringify(servers));
      else for (const s of servers) console.log(`${s.id}\t${s.name}\t${s.status}\t${s.rack}\t${s.power.state}`);
      return 0;
    }
    if (cmd === 'task' && sub === 'show') {
      const t = repos.tasks.get(Number(arg));
      if (!t) throw new RackhandError('NOT_FOUND', `task ${arg} not found`);
      console.log(JSON.stringify(t, null, 2));
      return 0;
    }
    if (cmd === 'backup') {
      if (!sub) throw new RackhandError('INVALID_INPUT', 'backup needs a FILE');
      await state.db.backup(sub);
      console.log(`backup written to ${sub}`);
      return 0;
    }
    console.error(`unknown command: ${positionals.join(' ')}\n\n${USAGE}`);
    return 2;
  } finally {
    state.db.close();
  }
}

async function serve(config: ResolvedConfig, demo: boolean): Promise<number> {
  mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  // Held until this process ends: a second daemon on the same store would settle this one's running tasks.
  const lock = acquireStateLock(config.stateDir);
  const agent = await createAgent(config);
  const { url } = await agent.start();
  console.error(`rackhand ${config.site.name}: listening on ${url} (state in ${config.stateDir})`);
  if (demo) {
    const token = await fillDemo(agent);
    console.error(`demo site ready: open ${url}/ and log in with the tech token  ${token}`);
  } else if (!agent.repos.tokens.list().some((t) => !t.revokedAt)) {
    console.error('no API token yet: create one with  node bin/rackhand.js token create --role admin');
  }
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      agent.log.info({ signal: sig }, 'stopping');
      agent.stop().then(resolve, (e) => {
        agent.log.error({ err: e }, 'stop failed');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  lock.release();
  return 0;
}

/** A small simulated site in an empty state dir, and a fresh tech token to look at it with. */
async function fillDemo(agent: Agent): Promise<string> {
  if (agent.repos.servers.list({ limit: 1 }).total === 0) {
    const vnc = (await probeVnc()) ? { host: '127.0.0.1', port: 5900 } : null;
    agent.inventory.import(LOCAL_ADMIN, demoServers({ vnc }));
    for (const d of demoDiscovered()) agent.repos.discovered.record(d);
  }
  return agent.repos.tokens.create({ name: `demo-tech-${Date.now()}`, role: 'tech' }).token;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    if (e instanceof ConfigError || e instanceof RackhandError || e instanceof StateLockedError) console.error(`rackhand: ${e.message}`);
    else if ((e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) console.error(`rackhand: ${(e as Error).message}\n\n${USAGE}`);
    else console.error('rackhand:', e);
    process.exitCode = 1;
  },
);
