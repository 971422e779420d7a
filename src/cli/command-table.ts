// Every `rackhand` command once: its words, arguments, flags and one-line meaning — for parsing, help and completion.

export interface FlagSpec {
  /** Long name without dashes. */
  name: string;
  /** Placeholder for a flag that takes a value (FILE, ID…); none: a boolean switch. */
  value?: string;
  help: string;
  /** The values completion offers. */
  choices?: readonly string[];
  short?: string;
}

export interface CommandSpec {
  /** The command's words: 'token create', 'power', 'bmc reset'. */
  name: string;
  /** Positional arguments after the words, as shown in usage. */
  args: string;
  summary: string;
  /** 'state': works on the state dir directly; 'api': over the HTTP API of a running rackhand. */
  via: 'state' | 'api' | 'none';
  flags: FlagSpec[];
  /** Completion for the first positional argument. */
  firstArg?: readonly string[];
  /** More lines for the command's own --help. */
  details?: string;
}

export const ROLE_NAMES = ['admin', 'central', 'tech', 'client'] as const;

const noWait: FlagSpec = { name: 'no-wait', help: 'print the task at once instead of following it' };

/** Flags every command of a kind takes. */
export const COMMON_FLAGS: Record<CommandSpec['via'], FlagSpec[]> = {
  state: [
    { name: 'config', value: 'FILE', help: 'YAML configuration (default: RACKHAND_CONFIG, else embedded defaults)' },
    { name: 'state-dir', value: 'DIR', help: "the daemon's state dir (default: RACKHAND_STATE_DIR, the config's stateDir, ./var)" },
  ],
  api: [
    { name: 'url', value: 'URL', help: 'rackhand to talk to (default: RACKHAND_URL, ~/.config/rackhand/cli.json, http://127.0.0.1:8080)' },
    { name: 'token', value: 'TOKEN', help: 'API token (default: RACKHAND_TOKEN or ~/.config/rackhand/cli.json)' },
    { name: 'json', help: "print the API's own JSON (errors too, as its error body) instead of a table" },
  ],
  none: [],
};

export const HELP_FLAG: FlagSpec = { name: 'help', short: 'h', help: 'this help' };

export const commandTable: CommandSpec[] = [
  {
    name: 'serve',
    args: '',
    summary: 'run the daemon',
    via: 'state',
    flags: [{ name: 'demo', help: 'fill an empty state dir with a simulated site and print a tech token' }],
    details:
      'Creates a new site (database and key) only in a state dir where none exists, and says so. One daemon per\n' +
      'state dir: a second one refuses to start. SIGHUP reloads the configuration; SIGTERM stops gracefully.',
  },
  {
    name: 'config check',
    args: '',
    summary: 'validate the configuration: every problem with file and line, or "ok" and the effective config',
    via: 'state',
    flags: [],
  },
  {
    name: 'token create',
    args: '',
    summary: 'print a new API token once (only its hash is stored)',
    via: 'state',
    flags: [
      { name: 'role', value: 'ROLE', help: 'admin, central, tech or client', choices: ROLE_NAMES },
      { name: 'name', value: 'NAME', help: 'a name to recognise it by in token list' },
      { name: 'owner', value: 'USER_ID', help: 'the user a client token acts for' },
      { name: 'json', help: 'print {token, id, name, role, …}' },
    ],
  },
  { name: 'token list', args: '', summary: 'every token: id, role, name, revoked or active', via: 'state', flags: [{ name: 'json', help: 'as JSON' }] },
  { name: 'token revoke', args: 'ID', summary: 'revoke a token', via: 'state', flags: [] },
  {
    name: 'servers import',
    args: 'FILE',
    summary: 'create or change servers by id from a JSON array (the /api/v1 server shape) or a CSV file',
    via: 'state',
    flags: [
      { name: 'replace', help: 'fields a record does not give take their defaults (default: they keep their stored value)' },
      { name: 'dry-run', help: 'check everything and print what would change, per server and field; write nothing' },
      { name: 'json', help: 'print the import result (or the dry run) as the API returns it' },
    ],
    details:
      'A merge by default: a partial row (id and rack, say) changes only what it gives; empty CSV cells change nothing.\n' +
      'Passwords are write-only: left out, the stored one stays. Every bad record is reported, by CSV line or JSON item.',
  },
  {
    name: 'servers list',
    args: '',
    summary: 'every server in the store',
    via: 'state',
    flags: [
      { name: 'json', help: 'as JSON' },
      { name: 'csv', help: 'as CSV with the import columns, one row per interface (passwords are never exported)' },
    ],
  },
  { name: 'task show', args: 'ID', summary: 'one task with its step journal, from the store', via: 'state', flags: [] },
  { name: 'backup', args: 'FILE', summary: 'online backup of the SQLite store (safe while the daemon runs)', via: 'state', flags: [] },
  { name: 'images list', args: '', summary: 'the images booting hosts get: name, kind, files, size, sha256, source, ready', via: 'state', flags: [{ name: 'json', help: 'as JSON' }] },
  {
    name: 'images build',
    args: '',
    summary: "build the rackhand ramdisk (diagnostics, wipe, image deploy, rescue) from this machine's Debian packages",
    via: 'state',
    flags: [{ name: 'json', help: 'print the stored image as JSON' }],
    details: 'Needs the Debian packages in test/install-peers.d/ramdisk.txt (golang-go, linux-image-amd64, busybox-static, …).\nThe same packages give the same bytes; the manifest lists every package and version.',
  },
  {
    name: 'images import',
    args: 'NAME',
    summary: 'import installer netboot files or a disk image, checked against its sha256, from a file or an http(s) URL',
    via: 'state',
    flags: [
      { name: 'disk', value: 'FILE|URL', help: 'a disk image: raw, qcow2 (converted to raw.zst), raw.gz, raw.zst or raw.xz' },
      { name: 'sha256', value: 'HEX', help: "the disk image's sha256 (required with --disk)" },
      { name: 'format', value: 'FORMAT', help: 'what the disk image is (checked against its first bytes)', choices: ['raw', 'qcow2', 'raw.gz', 'raw.zst', 'raw.xz'] },
      { name: 'os-id', value: 'N', help: 'offer the disk image as an operating system with this eq os_id' },
      { name: 'os-name', value: 'NAME', help: 'its name in the catalogue (default: NAME)' },
      { name: 'kernel', value: 'FILE|URL', help: "an installer's kernel" },
      { name: 'kernel-sha256', value: 'HEX', help: "the kernel's sha256" },
      { name: 'initrd', value: 'FILE|URL', help: "an installer's initrd" },
      { name: 'initrd-sha256', value: 'HEX', help: "the initrd's sha256" },
      { name: 'debian-installer', help: "Debian's d-i netboot kernel and initrd from the installed debian-installer-12-netboot-amd64 package" },
      { name: 'json', help: 'print the stored image as JSON' },
    ],
    details:
      'A broken download resumes when the same import runs again. Examples:\n' +
      '  rackhand images import debian-12-netboot --debian-installer\n' +
      '  rackhand images import debian-12-cloud --disk https://…/debian-12.qcow2 --sha256 … --os-id 20 --os-name "Debian 12 image"',
  },
  { name: 'images verify', args: 'NAME', summary: "re-hash an image's files against the sha256 the store recorded", via: 'state', flags: [] },
  { name: 'images rm', args: 'NAME', summary: 'remove an image (its files go once no other image shares them)', via: 'state', flags: [] },
  {
    name: 'callback-key',
    args: '',
    summary: 'print the key post_install_callback signatures use (HMAC-SHA256, hex): give it to central control once',
    via: 'state',
    flags: [],
  },
  { name: 'completion', args: 'bash', summary: 'print the bash completion script: source <(rackhand completion bash)', via: 'none', flags: [], firstArg: ['bash'] },

  { name: 'servers', args: '[QUERY]', summary: 'find servers by id, name, rack, MAC or IP', via: 'api', flags: [{ name: 'limit', value: 'N', help: 'at most N (default 200)' }] },
  {
    name: 'power',
    args: 'on|off|reboot ID',
    summary: 'change power and follow the task (exit 1 if it fails)',
    via: 'api',
    flags: [noWait],
    firstArg: ['on', 'off', 'reboot'],
  },
  {
    name: 'boot',
    args: 'ID pxe|disk',
    summary: 'set the boot device through the BMC',
    via: 'api',
    flags: [
      { name: 'mode', value: 'MODE', help: 'uefi, legacy or auto (default auto)', choices: ['uefi', 'legacy', 'auto'] },
      { name: 'persistent', help: 'every boot, not only the next one' },
      noWait,
    ],
  },
  { name: 'sensors', args: 'ID', summary: 'read every sensor now', via: 'api', flags: [] },
  { name: 'console', args: 'ID', summary: 'open a console session and print its page URL', via: 'api', flags: [] },
  {
    name: 'reinstall',
    args: 'ID',
    summary: 'reinstall a server: netboot, installer, back to disk (erases its disks)',
    via: 'api',
    flags: [
      { name: 'os', value: 'OS', help: 'os_id number or name from `rackhand os` (required)' },
      { name: 'root-pass-file', value: 'FILE', help: "the root password from FILE ('-': standard input); asked for on a terminal otherwise" },
      { name: 'hostname', value: 'NAME', help: 'host name of the installed system' },
      { name: 'ssh-key-file', value: 'FILE', help: "root's authorized SSH key(s)" },
      { name: 'uefi', help: 'boot the installer in UEFI mode (default: legacy)' },
      { name: 'yes', short: 'y', help: 'do not ask for confirmation' },
      noWait,
    ],
    details: 'The root password never goes on the command line (other users can read it there): a file, standard input or the prompt.',
  },
  { name: 'os', args: '', summary: 'the installable systems (os_id and name) reinstall takes', via: 'api', flags: [] },
  {
    name: 'adopt',
    args: 'MAC',
    summary: 'add a discovered machine to the inventory as a new server',
    via: 'api',
    flags: [
      { name: 'id', value: 'ID', help: 'the new server id (required)' },
      { name: 'name', value: 'NAME', help: 'its name (required)' },
      { name: 'rack', value: 'RACK', help: 'rack' },
      { name: 'rack-position', value: 'U', help: 'height unit in the rack' },
      { name: 'location', value: 'LOCATION', help: 'location name' },
      { name: 'bmc-host', value: 'HOST', help: 'BMC address (admin or central tokens only)' },
      { name: 'bmc-user', value: 'USER', help: 'BMC login' },
      { name: 'bmc-password-file', value: 'FILE', help: "BMC password from FILE ('-': standard input)" },
      { name: 'bmc-driver', value: 'DRIVER', help: 'ipmi (default), ipmitool or redfish', choices: ['ipmi', 'ipmitool', 'redfish'] },
    ],
  },
  {
    name: 'tasks',
    args: '',
    summary: 'recent tasks, newest first',
    via: 'api',
    flags: [
      { name: 'server', value: 'ID', help: 'of one server' },
      { name: 'state', value: 'STATE', help: 'running, succeeded, failed or cancelled', choices: ['running', 'succeeded', 'failed', 'cancelled'] },
      { name: 'limit', value: 'N', help: 'at most N (default 20)' },
    ],
  },
  { name: 'watch', args: 'TASK', summary: 'follow a task until it ends (exit 0 when it succeeded)', via: 'api', flags: [] },
  { name: 'cancel', args: 'TASK', summary: 'cancel a running task (its cleanup still runs)', via: 'api', flags: [] },
  {
    name: 'bmc reset',
    args: 'ID',
    summary: 'reset the BMC and wait until it answers again',
    via: 'api',
    flags: [{ name: 'warm', help: 'a warm reset instead of a cold one' }, noWait],
  },
  {
    name: 'bmc forget-certificate',
    args: 'ID',
    summary: "accept a Redfish BMC's replaced TLS certificate: its pin is forgotten, the next connection pins the new one (admin tokens)",
    via: 'api',
    flags: [],
    details:
      'rackhand trusts the certificate a Redfish BMC shows first and refuses a different one later (a replaced\n' +
      'certificate, or someone else answering at its address). Run this only when you know it was replaced.',
  },
  { name: 'discovered', args: '', summary: 'machines that asked to boot but are not in the inventory', via: 'api', flags: [] },
  {
    name: 'boot-history',
    args: 'ID|MAC',
    summary: "what DHCP, TFTP and HTTP boot did for a server (or a MAC) and what it reported, newest first: why is it PXE-looping?",
    via: 'api',
    flags: [{ name: 'limit', value: 'N', help: 'at most N events (default 50)' }],
  },
  {
    name: 'audit',
    args: '',
    summary: 'who changed what, from where, with what result: the audit log of mutating API requests (admin tokens)',
    via: 'api',
    flags: [
      { name: 'server', value: 'ID', help: 'requests about one server' },
      { name: 'task', value: 'ID', help: 'the request that started or cancelled a task' },
      { name: 'token', value: 'ID', help: 'requests made with one token (rackhand token list)' },
      { name: 'errors', help: 'only refused or failed requests' },
      { name: 'since', value: 'TIME', help: 'ISO time, e.g. 2025-06-01T00:00:00Z' },
      { name: 'limit', value: 'N', help: 'at most N (default 50)' },
    ],
  },
];

/** The flags a command accepts, its own and those of its kind. */
export function flagsOf(c: CommandSpec): FlagSpec[] {
  const own = new Set(c.flags.map((f) => f.name));
  return [...c.flags, ...COMMON_FLAGS[c.via].filter((f) => !own.has(f.name)), HELP_FLAG];
}

/**
 * The command argv names: the longest table entry whose words start the positionals ('token create' before
 * 'token'); `servers import|list` are state commands, any other `servers …` is the API search.
 */
export function findCommand(positionals: string[]): CommandSpec | undefined {
  let best: CommandSpec | undefined;
  for (const c of commandTable) {
    const words = c.name.split(' ');
    if (words.every((w, i) => positionals[i] === w) && (!best || words.length > best.name.split(' ').length)) best = c;
  }
  return best;
}

/** Commands whose first word is `word` (for `rackhand token --help`). */
export function commandsStartingWith(word: string): CommandSpec[] {
  return commandTable.filter((c) => c.name.split(' ')[0] === word);
}

export function usageLine(c: CommandSpec): string {
  const flags = c.flags.map((f) => `[--${f.name}${f.value ? ` ${f.value}` : ''}]`).join(' ');
  return ['rackhand', c.name, c.args, flags].filter(Boolean).join(' ');
}

/** `rackhand CMD --help`: the usage, what it does, and each flag. */
export function commandHelp(c: CommandSpec): string {
  const lines = [`usage: ${usageLine(c)}`, '', c.summary + '.'];
  if (c.details) lines.push('', c.details);
  const flags = flagsOf(c);
  const width = Math.max(...flags.map((f) => flagLabel(f).length));
  lines.push('', 'options:');
  for (const f of flags) lines.push(`  ${flagLabel(f).padEnd(width)}  ${f.help}`);
  return lines.join('\n');
}

function flagLabel(f: FlagSpec): string {
  return `${f.short ? `-${f.short}, ` : ''}--${f.name}${f.value ? ` ${f.value}` : ''}`;
}

/** `rackhand --help`: one line per command, state-dir commands first. */
export function overallHelp(): string {
  const row = (c: CommandSpec) => `  ${`${c.name} ${c.args}`.trim().padEnd(26)}${c.summary}`;
  return [
    'usage: rackhand <command> [options]      (rackhand <command> --help for its options)',
    '',
    'on the state dir (--config FILE, --state-dir DIR, or RACKHAND_CONFIG / RACKHAND_STATE_DIR):',
    ...commandTable.filter((c) => c.via !== 'api').map(row),
    '',
    'over the API of a running rackhand (--url, --token, --json; or RACKHAND_URL / RACKHAND_TOKEN,',
    'or {"url": …, "token": …} in ~/.config/rackhand/cli.json):',
    ...commandTable.filter((c) => c.via === 'api').map(row),
  ].join('\n');
}

/** node:util parseArgs options for a command. */
export function parseArgsOptions(c: CommandSpec): Record<string, { type: 'string' | 'boolean'; short?: string }> {
  return Object.fromEntries(flagsOf(c).map((f) => [f.name, { type: f.value ? 'string' : 'boolean', ...(f.short ? { short: f.short } : {}) }]));
}
