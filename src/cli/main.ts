// The `rackhand` command: finds the command in the table, then serves the daemon, works on the state dir, or calls the API.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import { parseArgs } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { closestName, ConfigError, loadConfig, planReload, publicConfig, type ResolvedConfig } from '../config.js';
import { createAgent, openState } from '../agent.js';
import { ROLES, type Principal, type Role } from '../auth/tokens.js';
import { Servers, type ImportProblem, type ImportResult } from '../core/servers.js';
import { CALLBACK_KEY_LABEL } from '../core/post-install-notifier.js';
import { RackhandError } from '../errors.js';
import { acquireStateLock } from '../store/state-lock.js';
import { databaseFile } from '../store/sqlite-store.js';
import { bashCompletion } from './bash-completion.js';
import { commandHelp, commandTable, commandsStartingWith, findCommand, flagsOf, overallHelp, parseArgsOptions, type CommandSpec } from './command-table.js';
import { serversToCsv } from './csv.js';
import { readImportFile } from './import-file.js';
import { imagesCommand } from './images-cli.js';
import { oneLineError, ProblemList } from './one-line-error.js';
import { checkStateDir } from './state-dir-check.js';
import { runApiCommand, printJsonError } from './tech-cli.js';
import { demoDiscovered, demoServers, probeVnc } from '../demo/demo-site.js';
import { demoImages, simulateHosts } from '../demo/simulated-hosts.js';
import type { Agent } from '../agent.js';

/** The bootstrap CLI acts as the site's admin: it has the state dir, so it has everything anyway. */
const LOCAL_ADMIN: Principal = { tokenId: 0, name: 'local-cli', role: 'admin', ownerId: null };

type Flags = Record<string, string | boolean | undefined>;

/** Every flag any command takes, so the command words can be found before the command's own strict parse. */
const ANY_FLAG = Object.fromEntries(commandTable.flatMap((c) => flagsOf(c)).map((f) => [f.name, { type: f.value ? ('string' as const) : ('boolean' as const), ...(f.short ? { short: f.short } : {}) }]));

/** How a person runs this CLI here, for the hints it prints. */
function self(): string {
  const bin = process.argv[1] ?? '';
  const rel = path.relative(process.cwd(), bin);
  return bin && !rel.startsWith('..') && !path.isAbsolute(rel) ? `node ${rel}` : 'rackhand';
}

async function main(argv: string[]): Promise<number> {
  // The state dir holds the database and the key: nothing rackhand writes is for other users.
  process.umask(0o077);
  const loose = parseArgs({ args: argv, allowPositionals: true, strict: false, options: ANY_FLAG });
  let words = loose.positionals;
  if (words[0] === 'help') {
    words = words.slice(1);
    loose.values.help = true;
  }
  if (!words.length) {
    if (loose.values.help) return print(overallHelp()), 0;
    console.error(overallHelp());
    return 2;
  }
  const spec = findCommand(words);
  if (!spec) {
    const group = commandsStartingWith(words[0]);
    if (group.length) {
      const text = group.map(commandHelp).join('\n\n');
      if (loose.values.help) return print(text), 0;
      console.error(`rackhand: ${words[0]} needs one of: ${group.map((c) => c.name.split(' ')[1]).join(', ')}\n\n${text}`);
      return 2;
    }
    const near = closestName(words[0], [...new Set(commandTable.map((c) => c.name.split(' ')[0]))]);
    console.error(`rackhand: unknown command ${words[0]}${near ? ` (did you mean ${near}?)` : ''}: rackhand --help lists them`);
    return 2;
  }
  const json = spec.via === 'api' && loose.values.json === true;
  let flags: Flags;
  let args: string[];
  try {
    const parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: parseArgsOptions(spec) });
    flags = parsed.values as Flags;
    args = parsed.positionals.slice(spec.name.split(' ').length + (parsed.positionals[0] === 'help' ? 1 : 0));
  } catch (e) {
    const message = `${(e as Error).message.split('\n')[0]} (rackhand ${spec.name} --help)`;
    if (json) printJsonError({ code: 'INVALID_INPUT', message });
    else console.error(`rackhand: ${message}`);
    return 2;
  }
  if (flags.help || loose.values.help) return print(commandHelp(spec)), 0;
  if (spec.via === 'api') return runApiCommand(spec, args, flags);
  if (spec.name === 'completion') {
    if (args[0] !== 'bash') {
      console.error('rackhand: usage: rackhand completion bash   (then: source <(rackhand completion bash))');
      return 2;
    }
    return print(bashCompletion()), 0;
  }
  return stateCommand(spec, args, flags);
}

function print(text: string): void {
  console.log(text);
}

function withSimulated(c: ResolvedConfig): ResolvedConfig {
  return { ...c, bmc: { ...c.bmc, allowSimulated: true } };
}

function configFrom(flags: Flags): ResolvedConfig {
  return loadConfig({ file: flags.config as string | undefined, stateDir: flags['state-dir'] as string | undefined });
}

async function stateCommand(spec: CommandSpec, args: string[], flags: Flags): Promise<number> {
  if (spec.name === 'config check') return configCheck(flags);
  const config = configFrom(flags);
  // The demo's servers answer through the simulated BMC driver, which only a demo (or test) configuration accepts.
  const demo = flags.demo === true;
  if (spec.name === 'serve') return serve(demo ? withSimulated(config) : config, demo, () => (demo ? withSimulated(configFrom(flags)) : configFrom(flags)));
  checkStateDir(config, 'use');
  const need = (what: string) => {
    if (!args[0]) throw new RackhandError('INVALID_INPUT', `${spec.name} needs ${what} (rackhand ${spec.name} --help)`);
    return args[0];
  };
  // Checked before the store opens: a backup must not fail after the work, for a directory that was never there.
  if (spec.name === 'backup') checkBackupTarget(need('a FILE to write'));
  const state = openState(config);
  try {
    const { repos } = state;
    switch (spec.name) {
      case 'token create': {
        const role = flags.role as Role;
        if (!ROLES.includes(role)) throw new RackhandError('INVALID_INPUT', `--role must be one of ${ROLES.join(', ')}`);
        const ownerId = flags.owner ? Number(flags.owner) : null;
        if (role === 'client' && !ownerId) throw new RackhandError('INVALID_INPUT', 'a client token needs --owner USER_ID');
        if (ownerId !== null && !repos.users.get(ownerId)) throw new RackhandError('NOT_FOUND', `user ${ownerId} not found`);
        const { token, info } = repos.tokens.create({ name: (flags.name as string) ?? `${role}-${Date.now()}`, role, ownerId });
        print(flags.json ? JSON.stringify({ token, ...info }) : token);
        return 0;
      }
      case 'token list': {
        const list = repos.tokens.list();
        if (flags.json) print(JSON.stringify(list));
        else for (const t of list) print(`${t.id}\t${t.role}\t${t.name}\t${t.revokedAt ? 'revoked ' + t.revokedAt : 'active'}`);
        return 0;
      }
      case 'token revoke': {
        const id = need('the token ID (rackhand token list)');
        if (!repos.tokens.revoke(Number(id))) throw new RackhandError('NOT_FOUND', `token ${id} not found or already revoked (rackhand token list)`);
        print(`revoked token ${id}`);
        return 0;
      }
      case 'servers import': {
        const file = need('a FILE (JSON array or CSV)');
        const { items, describe } = readImportFile(file);
        const inventory = new Servers(repos.servers, repos.users, config.bmc.allowSimulated);
        const dryRun = flags['dry-run'] === true;
        let r: ImportResult;
        try {
          r = inventory.import(LOCAL_ADMIN, items, { mode: flags.replace ? 'replace' : 'merge', dryRun });
        } catch (e) {
          const problems = (e as RackhandError).details?.problems as ImportProblem[] | undefined;
          if (!Array.isArray(problems)) throw e;
          throw new ProblemList([...problems.map(describe), `nothing was imported (${problems.length} problem${problems.length === 1 ? '' : 's'})`]);
        }
        if (flags.json) print(JSON.stringify(r));
        else if (dryRun) print(importDiffText(r));
        else print(`imported: ${r.created} created, ${r.updated} updated`);
        return 0;
      }
      case 'servers list': {
        const { servers } = repos.servers.list({});
        if (flags.json) print(JSON.stringify(servers));
        else if (flags.csv) process.stdout.write(serversToCsv(servers));
        else for (const s of servers) print(`${s.id}\t${s.name}\t${s.status}\t${s.rack}\t${s.power.state}`);
        return 0;
      }
      case 'task show': {
        const id = need('a task ID');
        const t = repos.tasks.get(Number(id));
        if (!t) throw new RackhandError('NOT_FOUND', `task ${id} not found`);
        print(JSON.stringify(t, null, 2));
        return 0;
      }
      case 'backup': {
        await state.db.backup(args[0]);
        print(`backup written to ${args[0]}`);
        return 0;
      }
      case 'callback-key':
        print(state.secrets.derive(CALLBACK_KEY_LABEL).toString('hex'));
        return 0;
    }
    if (spec.name.startsWith('images ')) return await imagesCommand(spec.name, args, flags, state.images, print);
    throw new RackhandError('INVALID_INPUT', `${spec.name} is not a state-dir command`);
  } finally {
    state.db.close();
  }
}

/** A dry run's diff for a person: each server that would change, field by field, then the counts. */
export function importDiffText(r: ImportResult): string {
  const lines: string[] = [];
  for (const s of r.servers ?? []) {
    if (s.action === 'unchanged') continue;
    lines.push(`server ${s.id} ${s.name}: ${s.action}`);
    for (const c of s.changes) lines.push(`  ${c.field}: ${shown(c.from)} → ${shown(c.to)}`);
  }
  lines.push(`dry run (${r.mode}): ${r.created} to create, ${r.updated} to update, ${r.unchanged} unchanged; nothing was written`);
  return lines.join('\n');
}

function shown(v: unknown): string {
  return v === null || v === undefined ? '-' : typeof v === 'string' && /^\(.*\)$/.test(v) ? v : JSON.stringify(v);
}

function configCheck(flags: Flags): number {
  let config: ResolvedConfig;
  try {
    config = configFrom(flags);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) print(p);
    console.error(`rackhand: ${e.problems.length} configuration problem${e.problems.length === 1 ? '' : 's'}`);
    return 1;
  }
  const file = (flags.config as string | undefined) ?? process.env.RACKHAND_CONFIG;
  const vars = Object.keys(process.env).filter((k) => k.startsWith('RACKHAND_') && !['RACKHAND_CONFIG', 'RACKHAND_URL', 'RACKHAND_TOKEN'].includes(k));
  print('ok');
  print(`# effective configuration: embedded defaults${file ? `, ${file}` : ''}${vars.length ? `, ${vars.sort().join(', ')}` : ''}${flags['state-dir'] ? ', --state-dir' : ''}`);
  print(toYaml(publicConfig(config)).trimEnd());
  return 0;
}

function checkBackupTarget(file: string): void {
  const dir = path.dirname(path.resolve(file));
  if (!existsSync(dir)) throw new RackhandError('INVALID_INPUT', `cannot write the backup to ${file}: the directory ${dir} does not exist (mkdir -p ${dir} first)`);
  if (!statSync(dir).isDirectory()) throw new RackhandError('INVALID_INPUT', `cannot write the backup to ${file}: ${dir} is not a directory`);
  if (existsSync(file) && statSync(file).isDirectory()) throw new RackhandError('INVALID_INPUT', `cannot write the backup to ${file}: it is a directory; name a file inside it`);
}

/**
 * The daemon's heap grows to twice what survived the last full collection before collecting again, not V8's four
 * times on a machine with this much memory: at 50,000 servers 71 MiB survive, and the default let the heap reach
 * 290 MiB between collections (RSS 450-500 MiB; with this, 310). API p99 and throughput stayed within their run-to-run
 * spread (bench/api.mjs).
 */
const HEAP_GROWING_PERCENT = 100;

async function serve(config: ResolvedConfig, demo: boolean, reload: () => ResolvedConfig): Promise<number> {
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  let running = config;
  // One SIGHUP handler for the whole run, set before anything slow: the default ends the process. A SIGHUP during
  // start-up is applied once the agent runs. Swapping handlers instead loses a signal that lands between the two
  // (Node drops it with the closed handle): a reload sent just after "listening" did nothing, unlogged.
  let reloadNow: (() => void) | undefined;
  let hangupDuringStart = false;
  process.on('SIGHUP', () => (reloadNow ? reloadNow() : (hangupDuringStart = true)));
  const found = checkStateDir(config, 'serve');
  // Held until this process ends: a second daemon on the same store would settle this one's running tasks.
  const lock = acquireStateLock(config.stateDir);
  const agent = await createAgent(config);
  if (found.newSite) {
    agent.log.info(
      { stateDir: config.stateDir, database: databaseFile(config.stateDir), keyFile: config.secrets.keyFile },
      found.keyExisted ? 'new site: created an empty database, using the existing key file' : 'new site: created an empty database and a new key file',
    );
  }
  let url: string;
  try {
    ({ url } = await agent.start());
  } catch (e) {
    await agent.stop().catch(() => undefined);
    throw Object.assign(e as Error, { listen: config.http.listen });
  }
  reloadNow = () => {
    running = reloadConfig(agent, running, reload);
  };
  if (hangupDuringStart) reloadNow();
  console.error(`rackhand ${config.site.name}: listening on ${url} (state in ${config.stateDir})`);
  const stateFlag = path.resolve('var') === config.stateDir ? '' : ` --state-dir ${path.relative(process.cwd(), config.stateDir) || '.'}`;
  if (demo) {
    const token = await fillDemo(agent);
    // The demo's simulated hosts play the booted host, so a reinstall runs to the end.
    simulateHosts(agent, url);
    console.error(`demo site ready: open ${url}/ and log in with the tech token  ${token}`);
    console.error(`state-dir commands for this site (token, servers import, backup) need${stateFlag || ' no --state-dir'}: ${self()} token create --role admin${stateFlag}`);
  } else if (!agent.repos.tokens.list().some((t) => !t.revokedAt)) {
    console.error(`no API token yet: create one with  ${self()} token create --role admin${stateFlag}`);
  }
  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (sig: string) => {
      if (stopping) {
        agent.log.warn({ signal: sig }, `${sig} again: stopping at once`);
        process.exit(1);
      }
      stopping = true;
      agent.log.info({ signal: sig }, `stopping (${sig}): running BMC operations finish first; send ${sig} again to stop at once`);
      agent.stop({ graceful: true }).then(resolve, (e) => {
        agent.log.error({ err: e }, `stop failed: ${(e as Error).message}`);
        resolve();
      });
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
  lock.release();
  return 0;
}

/**
 * SIGHUP: loads the configuration the way start-up did, applies the keys that can change live, and logs one line
 * saying what was applied and what waits for a restart. A configuration with problems changes nothing.
 */
function reloadConfig(agent: Agent, running: ResolvedConfig, load: () => ResolvedConfig): ResolvedConfig {
  let next: ResolvedConfig;
  try {
    next = load();
  } catch (e) {
    const problems = oneLineError(e);
    agent.log.error({ problems }, `configuration not reloaded, the running one stays: ${problems.join('; ')}`);
    return running;
  }
  const plan = planReload(running, next);
  const show = (k: string) => `${k} (${JSON.stringify(plan.changes[k].from)} → ${JSON.stringify(plan.changes[k].to)})`;
  if (plan.applied.length) agent.reload(next);
  const parts = [
    plan.applied.length ? `applied ${plan.applied.map(show).join(', ')}` : 'nothing applied',
    ...(plan.needsRestart.length ? [`needs a restart: ${plan.needsRestart.map(show).join(', ')}`] : []),
  ];
  agent.log.info({ applied: plan.applied, needsRestart: plan.needsRestart }, `configuration reloaded (SIGHUP): ${Object.keys(plan.changes).length ? parts.join('; ') : 'nothing changed'}`);
  // What runs now: the old values, with the applied keys taken from the new file.
  return plan.applied.reduce((c, key) => withValue(c, key, plan.changes[key].to), running);
}

function withValue(c: ResolvedConfig, key: string, value: unknown): ResolvedConfig {
  const [head, ...rest] = key.split('.');
  const obj = c as unknown as Record<string, unknown>;
  if (!rest.length) return { ...obj, [head]: value } as unknown as ResolvedConfig;
  return { ...obj, [head]: withValue(obj[head] as ResolvedConfig, rest.join('.'), value) } as unknown as ResolvedConfig;
}

/** A small simulated site in an empty state dir, and a fresh tech token to look at it with. */
async function fillDemo(agent: Agent): Promise<string> {
  await demoImages(agent.parts.images);
  if (agent.repos.servers.list({ limit: 1 }).total === 0) {
    const vnc = (await probeVnc()) ? { host: '127.0.0.1', port: 5900 } : null;
    agent.core.servers.import(LOCAL_ADMIN, demoServers({ vnc }));
    for (const d of demoDiscovered()) agent.repos.discovered.record(d);
  }
  return agent.repos.tokens.create({ name: `demo-tech-${Date.now()}`, role: 'tech' }).token;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    for (const line of oneLineError(e, { listen: (e as { listen?: string }).listen })) console.error(`rackhand: ${line}`);
    process.exitCode = 1;
  },
);
