// The technician's page: log in with a token, find a server, see and change its state; plain DOM, no build.
const TOKEN_KEY = 'rackhand.token';
const $ = (sel, root = document) => root.querySelector(sel);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  who: null,
  servers: [],
  current: null, // the server shown in the detail pane
  tasks: new Map(), // id → task (with steps), fed by lists and the event stream
  osList: null, // null: not loaded; [] with osError: not available
  osError: '',
  events: null,
  sensors: null,
  lastConsoleUrl: '',
};

/* ---------- small helpers ---------- */

/** Builds an element; children are nodes or text (never parsed as HTML). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

const SVG = 'http://www.w3.org/2000/svg';
function s(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function ago(iso) {
  if (!iso) return 'never';
  const sec = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (sec < 5) return 'just now';
  if (sec < 90) return `${sec} s ago`;
  if (sec < 5400) return `${Math.round(sec / 60)} min ago`;
  if (sec < 129600) return `${Math.round(sec / 3600)} h ago`;
  return `${Math.round(sec / 86400)} d ago`;
}
const when = (iso) => h('time', { datetime: iso || '', title: iso || '' }, ago(iso));

let statusTimer;
function say(text, kind = 'info') {
  const el = $('#status');
  el.textContent = text;
  el.className = `status ${kind}`;
  clearTimeout(statusTimer);
  if (kind !== 'error') statusTimer = setTimeout(() => (el.textContent = ''), 8000);
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${state.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = json && json.error ? json.error : { code: `HTTP_${res.status}`, message: text.slice(0, 200) || res.statusText };
    if (res.status === 401 && path !== '/api/v1/whoami') logout('Your token was refused; log in again.');
    throw new ApiError(res.status, err.code, err.message);
  }
  return json;
}

/** A dialog asking to confirm a destructive action; resolves true only on the confirm button. */
function confirmAction(title, text, okLabel) {
  const dlg = $('#confirm');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = okLabel;
  dlg.returnValue = '';
  dlg.showModal();
  $('#confirm-cancel').focus();
  return new Promise((resolve) => dlg.addEventListener('close', () => resolve(dlg.returnValue === 'ok'), { once: true }));
}

/* ---------- login ---------- */

async function login(token) {
  state.token = token;
  const who = await api('GET', '/api/v1/whoami');
  if (who.role === 'client') throw new ApiError(403, 'FORBIDDEN', 'this page is for tech or admin tokens; a client token cannot use it');
  state.who = who;
  sessionStorage.setItem(TOKEN_KEY, token);
}

function logout(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = '';
  state.who = null;
  state.current = null;
  if (state.events) state.events.close();
  state.events = null;
  showLogin(message);
}

function showLogin(message = '') {
  for (const id of ['servers-view', 'tasks-view', 'discovered-view']) $(`#${id}`).hidden = true;
  $('#nav').hidden = true;
  $('#who').hidden = true;
  $('#login-view').hidden = false;
  $('#login-error').textContent = message;
  $('#token').value = '';
  $('#token').focus();
}

$('#login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const token = $('#token').value.trim();
  $('#login-error').textContent = '';
  try {
    await login(token);
    start();
  } catch (err) {
    state.token = '';
    $('#login-error').textContent = err.status === 401 ? 'That token is unknown or revoked.' : err.message;
    $('#token').focus();
  }
});
$('#logout').addEventListener('click', () => logout('Logged out.'));

/* ---------- live events ---------- */

function connectEvents() {
  if (state.events) state.events.close();
  const es = new EventSource(`/api/v1/events?token=${encodeURIComponent(state.token)}`);
  state.events = es;
  const live = $('#live');
  es.addEventListener('open', () => {
    live.classList.add('on');
    live.title = 'live task updates: connected';
  });
  es.addEventListener('error', () => {
    live.classList.remove('on');
    live.title = 'live task updates: reconnecting';
  });
  es.addEventListener('task', (ev) => onTask(JSON.parse(ev.data)));
  es.addEventListener('step', (ev) => {
    const { taskId, serverId, step } = JSON.parse(ev.data);
    // A step can beat the POST answer that names its task: start with what the step says.
    const t = state.tasks.get(taskId) || mergeTask({ id: taskId, serverId, kind: '', state: 'running', steps: [], createdAt: step.at }).task;
    t.steps = t.steps || [];
    if (!t.steps.some((x) => x.seq === step.seq)) t.steps.push(step);
    renderTaskEverywhere(t);
    // A finished step may have changed what the facts show (power read, netboot armed): re-read them.
    if (step.state !== 'started' && state.current && serverId === state.current.id) refreshFactsSoon(serverId);
  });
}

let factsTimer;
function refreshFactsSoon(id) {
  clearTimeout(factsTimer);
  factsTimer = setTimeout(() => refreshServer(id, { keepFocus: true }), 150);
}

/**
 * Keeps the most advanced view of a task: a list or a POST answer read before an event arrived must not
 * put a task back to queued, nor drop steps that came by the stream.
 */
const RANK = { queued: 0, running: 1, succeeded: 2, failed: 2, cancelled: 2 };
function mergeTask(task) {
  const old = state.tasks.get(task.id);
  let merged = task;
  if (old) {
    merged = { ...old, ...task };
    if (RANK[old.state] > RANK[task.state]) for (const k of ['state', 'result', 'error', 'startedAt', 'finishedAt']) merged[k] = old[k];
    const a = old.steps || [];
    const b = task.steps || [];
    merged.steps = a.length > b.length ? a : b;
  }
  if (!merged.steps) merged.steps = [];
  state.tasks.set(task.id, merged);
  return { old, task: merged };
}

function onTask(incoming) {
  const { old, task } = mergeTask(incoming);
  renderTaskEverywhere(task);
  const finished = ['succeeded', 'failed', 'cancelled'].includes(task.state);
  if (finished && state.current && task.serverId === state.current.id) {
    refreshServer(state.current.id, { keepFocus: true });
    if (old && old.state !== task.state) say(`Task ${task.id} (${task.kind}) ${task.state}${task.error ? ': ' + task.error.message : ''}`, task.state === 'succeeded' ? 'ok' : 'error');
  }
  if (finished) refreshRow(task.serverId);
}

/* ---------- routing ---------- */

function route() {
  if (!state.who) return;
  const hash = location.hash || '#/';
  $('#login-view').hidden = true;
  $('#servers-view').hidden = !(hash === '#/' || hash.startsWith('#/server/') || hash.startsWith('#/?'));
  $('#tasks-view').hidden = hash !== '#/tasks';
  $('#discovered-view').hidden = hash !== '#/discovered';
  for (const a of document.querySelectorAll('#nav a')) {
    const active = a.getAttribute('href') === hash || (a.getAttribute('href') === '#/' && !$('#servers-view').hidden);
    if (active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const m = /^#\/server\/(\d+)$/.exec(hash);
  if (m) openServer(Number(m[1]));
  else if (hash === '#/tasks') loadAllTasks();
  else if (hash === '#/discovered') loadDiscovered();
}
window.addEventListener('hashchange', route);

/* ---------- server list ---------- */

const POWER_LABEL = { on: 'on', off: 'off', unknown: 'unknown' };
function powerBadge(p) {
  return h('span', { class: `badge power-${p.state}` }, POWER_LABEL[p.state] || p.state);
}
function bmcBadge(p, hasBmc) {
  if (!hasBmc) return h('span', { class: 'badge muted' }, 'none');
  if (p.bmcReachable === null || p.bmcReachable === undefined) return h('span', { class: 'badge muted' }, 'not checked');
  return p.bmcReachable ? h('span', { class: 'badge ok' }, 'reachable') : h('span', { class: 'badge bad' }, 'unreachable');
}

let searchTimer;
let searchSeq = 0;
async function search(q) {
  const seq = ++searchSeq;
  const params = new URLSearchParams({ limit: '200' });
  if (q) params.set('q', q);
  try {
    const r = await api('GET', `/api/v1/servers?${params}`);
    if (seq !== searchSeq) return;
    state.servers = r.servers;
    renderServerTable(r.total);
  } catch (err) {
    say(`Search failed: ${err.message}`, 'error');
  }
}

function renderServerTable(total) {
  const body = $('#server-table tbody');
  body.replaceChildren(...state.servers.map(serverRow));
  $('#search-count').textContent = total > state.servers.length ? `${state.servers.length} of ${total}` : `${total} server${total === 1 ? '' : 's'}`;
  if (state.servers.length === 0) body.append(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No server matches.')));
}

function serverRow(sv) {
  const selected = state.current && state.current.id === sv.id;
  return h(
    'tr',
    { 'data-id': sv.id, class: selected ? 'selected' : '' },
    h('td', {}, h('a', { href: `#/server/${sv.id}`, class: 'server-link' }, sv.name), ' ', h('span', { class: 'muted' }, `#${sv.id}`)),
    h('td', {}, sv.rack ? `${sv.rack}${sv.rackPosition ? ' / U' + sv.rackPosition : ''}` : '—'),
    h('td', {}, powerBadge(sv.power)),
    h('td', {}, bmcBadge(sv.power, !!sv.bmc)),
  );
}

async function refreshRow(serverId) {
  if (serverId === null || serverId === undefined) return;
  const i = state.servers.findIndex((x) => x.id === serverId);
  if (i < 0) return;
  try {
    state.servers[i] = await api('GET', `/api/v1/servers/${serverId}`);
    const row = $(`#server-table tr[data-id="${serverId}"]`);
    if (row) row.replaceWith(serverRow(state.servers[i]));
  } catch {
    /* the list shows the older state until the next search */
  }
}

$('#search-form').addEventListener('submit', (e) => {
  e.preventDefault();
  clearTimeout(searchTimer);
  search($('#search').value.trim());
});
$('#search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => search($('#search').value.trim()), 200);
});

/* ---------- server detail ---------- */

async function openServer(id) {
  try {
    const sv = await api('GET', `/api/v1/servers/${id}`);
    state.current = sv;
    state.sensors = null;
    renderDetail(sv);
    for (const tr of document.querySelectorAll('#server-table tr.selected')) tr.classList.remove('selected');
    const row = $(`#server-table tr[data-id="${id}"]`);
    if (row) row.classList.add('selected');
    loadServerTasks(id);
    loadHistory(id);
    $('#detail h2').focus();
  } catch (err) {
    $('#detail').replaceChildren(h('p', { class: 'error' }, `Server ${id}: ${err.message}`));
  }
}

async function refreshServer(id, { keepFocus } = {}) {
  try {
    const sv = await api('GET', `/api/v1/servers/${id}`);
    if (!state.current || state.current.id !== id) return;
    state.current = sv;
    // Re-render only the facts: forms the tech is typing in stay as they are.
    const facts = $('#facts');
    if (facts) facts.replaceWith(factsList(sv));
    if (!keepFocus) $('#detail h2').focus();
  } catch {
    /* keep what is shown */
  }
}

function netbootText(sv) {
  if (!('netboot' in sv)) return h('span', { class: 'muted' }, 'unknown (not reported by this rackhand)');
  const n = sv.netboot;
  // The API answers {armed: false} when nothing is armed; after the installer's callback the record stays
  // (armed false, callbackAt set) until the deploy disarms it.
  if (!n || (!n.armed && !n.callbackAt)) return h('span', {}, 'not armed: boots from disk');
  if (!n.armed) return h('span', {}, h('span', { class: 'badge ok' }, `installed: ${n.purpose}`), ` ${n.osId || ''}, installer called back `, when(n.callbackAt));
  return h('span', {}, h('span', { class: 'badge warn' }, `armed: ${n.purpose}`), ` ${n.osId || ''}, since `, when(n.armedAt), n.task ? ` (task ${n.task})` : '');
}

function factsList(sv) {
  const p = sv.power;
  return h(
    'dl',
    { id: 'facts', class: 'facts' },
    h('dt', {}, 'Power'),
    h('dd', { id: 'power-state' }, powerBadge(p), ' read ', when(p.readAt)),
    h('dt', {}, 'BMC'),
    h('dd', {}, bmcBadge(p, !!sv.bmc), sv.bmc ? h('span', { class: 'muted' }, ` ${sv.bmc.driver} ${sv.bmc.host}:${sv.bmc.port} ${sv.bmc.model}`) : ''),
    h('dt', {}, 'Network boot'),
    h('dd', { id: 'netboot-state' }, netbootText(sv)),
    h('dt', {}, 'Status'),
    h('dd', {}, sv.status, sv.os ? ` · OS ${sv.os.name}` : ''),
    h('dt', {}, 'Location'),
    h('dd', {}, [sv.datacenter || sv.location, sv.rack && `rack ${sv.rack}`, sv.rackPosition && `U${sv.rackPosition}`].filter(Boolean).join(' · ') || '—'),
    h('dt', {}, 'Interfaces'),
    h(
      'dd',
      {},
      sv.interfaces.length
        ? h('ul', { class: 'plain' }, sv.interfaces.map((i) => h('li', {}, h('code', {}, i.mac), ` ${i.name}`, i.ip ? ` · ${i.ip}` : '', i.switch ? ` · ${i.switch} ${i.switchPort || ''}` : '')))
        : '—',
    ),
  );
}

function renderDetail(sv) {
  const hasBmc = !!sv.bmc;
  const detail = $('#detail');
  detail.replaceChildren(
    h('h2', { tabindex: '-1' }, sv.name, ' ', h('span', { class: 'muted' }, `#${sv.id}`)),
    factsList(sv),
    h(
      'section',
      { 'aria-labelledby': 'actions-title', class: 'card' },
      h('h3', { id: 'actions-title' }, 'Actions'),
      hasBmc ? '' : h('p', { class: 'muted' }, 'No BMC configured: power, boot device, sensors and BMC users are unavailable.'),
      h(
        'div',
        { class: 'buttons' },
        h('button', { type: 'button', id: 'power-on', disabled: !hasBmc, onclick: () => power('on') }, 'Power on'),
        h('button', { type: 'button', id: 'power-off', class: 'danger', disabled: !hasBmc, onclick: () => power('off') }, 'Power off'),
        h('button', { type: 'button', id: 'power-reboot', class: 'danger', disabled: !hasBmc, onclick: () => power('reboot') }, 'Reboot'),
        h('button', { type: 'button', id: 'open-console', disabled: !sv.console, title: sv.console ? '' : 'no console target configured', onclick: openConsole }, 'Open console'),
      ),
      bootForm(hasBmc),
    ),
    h('section', { 'aria-labelledby': 'tasks-title', class: 'card' }, h('h3', { id: 'tasks-title' }, 'Tasks'), h('div', { id: 'server-tasks' }, h('p', { class: 'muted' }, 'Loading…'))),
    h(
      'section',
      { 'aria-labelledby': 'sensors-title', class: 'card' },
      h('h3', { id: 'sensors-title' }, 'Sensors'),
      h('div', { class: 'buttons' }, h('button', { type: 'button', id: 'read-sensors', disabled: !hasBmc, onclick: readSensors }, 'Read sensors now')),
      h('div', { id: 'sensors' }),
      h('div', { id: 'history' }),
    ),
    reinstallSection(sv),
    bmcSection(hasBmc),
  );
  loadOsList();
}

function bootForm(hasBmc) {
  return h(
    'form',
    { id: 'boot-form', class: 'inline', onsubmit: submitBoot },
    h('label', { for: 'boot-device' }, 'Boot device'),
    h('select', { id: 'boot-device', name: 'device', disabled: !hasBmc }, ['pxe', 'disk', 'cdrom', 'bios'].map((d) => h('option', { value: d }, d === 'pxe' ? 'network (PXE)' : d))),
    h('label', { for: 'boot-mode' }, 'Mode'),
    h('select', { id: 'boot-mode', name: 'mode', disabled: !hasBmc }, ['auto', 'uefi', 'legacy'].map((d) => h('option', { value: d }, d))),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', id: 'boot-persistent', name: 'persistent', disabled: !hasBmc }), ' every boot'),
    h('button', { type: 'submit', disabled: !hasBmc }, 'Set boot device'),
  );
}

function reinstallSection(sv) {
  return h(
    'section',
    { 'aria-labelledby': 'reinstall-title', class: 'card' },
    h('h3', { id: 'reinstall-title' }, 'Reinstall'),
    h(
      'form',
      { id: 'reinstall-form', onsubmit: submitReinstall, novalidate: true },
      h('div', { class: 'field' }, h('label', { for: 'ri-os' }, 'Operating system'), h('select', { id: 'ri-os', name: 'os_id', required: true }, h('option', { value: '' }, 'Loading…'))),
      h('div', { class: 'field' }, h('label', { for: 'ri-hostname' }, 'Host name'), h('input', { id: 'ri-hostname', name: 'hostname', value: sv.name.split('.')[0], maxlength: 63, autocomplete: 'off', spellcheck: 'false' })),
      h('div', { class: 'field' }, h('label', { for: 'ri-pass' }, 'Root password'), h('input', { id: 'ri-pass', name: 'root_pass', type: 'password', minlength: 8, required: true, autocomplete: 'new-password' })),
      h('div', { class: 'field' }, h('label', { for: 'ri-key' }, 'SSH public key (optional)'), h('textarea', { id: 'ri-key', name: 'ssh_key', rows: 2, spellcheck: 'false' })),
      h('p', { id: 'ri-error', class: 'error', role: 'alert' }),
      h('button', { type: 'submit', class: 'danger' }, 'Reinstall…'),
    ),
  );
}

function bmcSection(hasBmc) {
  return h(
    'section',
    { 'aria-labelledby': 'bmc-title', class: 'card' },
    h('h3', { id: 'bmc-title' }, 'BMC'),
    h(
      'form',
      { id: 'bmc-user-add', class: 'inline', onsubmit: submitAddUser },
      h('label', { for: 'bu-name' }, 'New user'),
      h('input', { id: 'bu-name', name: 'name', placeholder: 'random', pattern: '[A-Za-z0-9._\\-]{1,16}', maxlength: 16, autocomplete: 'off', disabled: !hasBmc }),
      h('label', { for: 'bu-pass' }, 'Password'),
      h('input', { id: 'bu-pass', name: 'password', type: 'password', placeholder: 'random', minlength: 8, maxlength: 20, autocomplete: 'new-password', disabled: !hasBmc }),
      h('label', { for: 'bu-priv' }, 'Privilege'),
      h('select', { id: 'bu-priv', name: 'privilege', disabled: !hasBmc }, ['operator', 'administrator', 'user'].map((p) => h('option', { value: p }, p))),
      h('button', { type: 'submit', disabled: !hasBmc }, 'Add user'),
    ),
    h('div', { id: 'bmc-user-result', role: 'status' }),
    h(
      'form',
      { id: 'bmc-user-remove', class: 'inline', onsubmit: submitRemoveUser },
      h('label', { for: 'bu-remove' }, 'Remove user'),
      h('input', { id: 'bu-remove', name: 'name', required: true, maxlength: 16, autocomplete: 'off', disabled: !hasBmc }),
      h('button', { type: 'submit', class: 'danger', disabled: !hasBmc }, 'Remove user…'),
    ),
    h(
      'form',
      { id: 'bmc-reset', class: 'inline', onsubmit: submitBmcReset },
      h('label', { for: 'bmc-reset-kind' }, 'BMC reset'),
      h('select', { id: 'bmc-reset-kind', name: 'kind', disabled: !hasBmc }, h('option', { value: 'cold' }, 'cold'), h('option', { value: 'warm' }, 'warm')),
      h('button', { type: 'submit', class: 'danger', disabled: !hasBmc }, 'Reset BMC…'),
    ),
  );
}

/* ---------- actions ---------- */

async function started(promise, what) {
  try {
    const r = await promise;
    const task = r && r.task && typeof r.task === 'object' ? r.task : r;
    if (task && typeof task.id === 'number' && task.kind) {
      mergeTask(task);
      renderServerTasks();
      say(`${what}: task ${task.id} started`, 'info');
    } else say(`${what}: done`, 'ok');
    return r;
  } catch (err) {
    say(`${what} refused: ${err.code ? err.code + ': ' : ''}${err.message}`, 'error');
    return undefined;
  }
}

async function power(action) {
  const sv = state.current;
  if (action !== 'on') {
    const text = action === 'off' ? `Cut power to ${sv.name} now? Unsaved work on it is lost.` : `Reboot ${sv.name} now? It is reset if it is on.`;
    if (!(await confirmAction(action === 'off' ? 'Power off' : 'Reboot', text, action === 'off' ? 'Power off' : 'Reboot'))) return;
  }
  await started(api('POST', `/api/v1/servers/${sv.id}/power`, { action }), `Power ${action} ${sv.name}`);
}

async function submitBoot(e) {
  e.preventDefault();
  const sv = state.current;
  const body = { device: $('#boot-device').value, mode: $('#boot-mode').value, persistent: $('#boot-persistent').checked };
  await started(api('POST', `/api/v1/servers/${sv.id}/boot-device`, body), `Boot device ${body.device} on ${sv.name}`);
}

async function openConsole() {
  const sv = state.current;
  // Open the tab now, while the click still counts as a user gesture; point it at the page once we have it.
  const tab = window.open('about:blank', '_blank');
  try {
    const r = await api('POST', `/api/v1/servers/${sv.id}/console`);
    const url = new URL(r.url, location.href).href;
    state.lastConsoleUrl = url;
    if (tab) {
      tab.opener = null;
      tab.location.href = url;
    } else window.open(url, '_blank', 'noopener');
    say(`Console for ${sv.name} opened in a new tab`, 'ok');
  } catch (err) {
    if (tab) tab.close();
    say(`Console refused: ${err.message}`, 'error');
  }
}

async function submitReinstall(e) {
  e.preventDefault();
  const sv = state.current;
  const err = $('#ri-error');
  err.textContent = '';
  const osId = $('#ri-os').value;
  const pass = $('#ri-pass').value;
  const hostname = $('#ri-hostname').value.trim();
  const key = $('#ri-key').value.trim();
  const problems = [];
  if (!osId) problems.push(['ri-os', 'Choose an operating system.']);
  if (pass.length < 8 || !/[A-Z]/.test(pass) || !/\d/.test(pass) || !/[^A-Za-z0-9]/.test(pass)) {
    problems.push(['ri-pass', 'The root password needs at least 8 characters, with an upper-case letter, a digit and a special character.']);
  }
  if (hostname && !/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(hostname)) problems.push(['ri-hostname', 'A host name is letters, digits and inner hyphens (at most 63).']);
  if (key && !/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp\d+|sk-\S+) [A-Za-z0-9+/=]+( [^\n]*)?$/.test(key)) problems.push(['ri-key', 'That does not look like an SSH public key.']);
  for (const id of ['ri-os', 'ri-pass', 'ri-hostname', 'ri-key']) $(`#${id}`).removeAttribute('aria-invalid');
  if (problems.length) {
    err.textContent = problems.map((p) => p[1]).join(' ');
    for (const [id] of problems) $(`#${id}`).setAttribute('aria-invalid', 'true');
    $(`#${problems[0][0]}`).focus();
    return;
  }
  const osName = $('#ri-os').selectedOptions[0].textContent;
  if (!(await confirmAction('Reinstall', `Erase ${sv.name} and install ${osName}? Everything on its disks is lost.`, 'Reinstall'))) return;
  // Catalogue entries without a numeric id are named by their os_id string.
  const body = { os_id: /^\d+$/.test(osId) ? Number(osId) : osId, root_pass: pass };
  if (hostname) body.hostname = hostname;
  if (key) body.ssh_key = key;
  const r = await started(api('POST', `/api/v1/servers/${sv.id}/reinstall`, body), `Reinstall ${sv.name}`);
  if (r) $('#ri-pass').value = '';
}

async function submitAddUser(e) {
  e.preventDefault();
  const sv = state.current;
  const body = { privilege: $('#bu-priv').value };
  const name = $('#bu-name').value.trim();
  const pass = $('#bu-pass').value;
  if (name) body.name = name;
  if (pass) body.password = pass;
  const r = await started(api('POST', `/api/v1/servers/${sv.id}/bmc/users`, body), `Add BMC user on ${sv.name}`);
  if (r) {
    $('#bu-pass').value = '';
    // Shown once: the password is kept nowhere.
    $('#bmc-user-result').replaceChildren(
      h('p', { class: 'secret' }, 'User ', h('code', {}, r.username), ' with password ', h('code', {}, r.password), ' (shown once; the task confirms it on the BMC).'),
    );
  }
}

async function submitRemoveUser(e) {
  e.preventDefault();
  const sv = state.current;
  const name = $('#bu-remove').value.trim();
  if (!name) return;
  if (!(await confirmAction('Remove BMC user', `Remove the user ${name} from the BMC of ${sv.name}?`, 'Remove user'))) return;
  await started(api('DELETE', `/api/v1/servers/${sv.id}/bmc/users/${encodeURIComponent(name)}`), `Remove BMC user ${name}`);
}

async function submitBmcReset(e) {
  e.preventDefault();
  const sv = state.current;
  const kind = $('#bmc-reset-kind').value;
  if (!(await confirmAction('Reset BMC', `${kind === 'cold' ? 'Cold' : 'Warm'} reset the BMC of ${sv.name}? It stops answering for a minute or two; the server keeps running.`, 'Reset BMC'))) return;
  await started(api('POST', `/api/v1/servers/${sv.id}/bmc/reset`, { kind }), `BMC reset on ${sv.name}`);
}

async function loadOsList() {
  if (state.osList === null) {
    try {
      // Diagnostics and disk-wipe images are not operating systems to install.
      state.osList = (await api('GET', '/api/v1/os')).list.filter((o) => o.family !== 'diag' && o.family !== 'wipe');
    } catch (err) {
      state.osList = [];
      state.osError = err.status === 404 ? 'Reinstall is not available on this rackhand yet.' : err.message;
    }
  }
  const sel = $('#ri-os');
  if (!sel) return;
  sel.replaceChildren(h('option', { value: '' }, state.osList.length ? 'Choose…' : 'none available'), ...state.osList.map((o) => h('option', { value: o.id ?? o.os_id }, o.name)));
  if (state.osError) $('#ri-error').textContent = state.osError;
}

/* ---------- tasks ---------- */

const FINISHED = ['succeeded', 'failed', 'cancelled'];

function taskItem(t) {
  const steps = t.steps || [];
  const done = steps.filter((x) => x.state === 'succeeded').length;
  const started = steps.filter((x) => x.state === 'started').length;
  const running = !FINISHED.includes(t.state);
  const last = steps[steps.length - 1];
  return h(
    'li',
    { class: `task task-${t.state}`, 'data-task': t.id },
    h(
      'details',
      { open: running || undefined },
      h(
        'summary',
        {},
        h('span', { class: `badge state-${t.state}` }, t.state),
        ` ${t.kind} `,
        h('span', { class: 'muted' }, `#${t.id}${t.serverId !== null && t.serverId !== undefined ? ' · server ' + t.serverId : ''} · `, when(t.createdAt)),
        running ? h('progress', { max: Math.max(started, 1), value: done, 'aria-label': `task ${t.id} progress` }) : '',
        running && last ? h('span', { class: 'muted' }, ` ${last.name}`) : '',
      ),
      h(
        'ol',
        { class: 'steps' },
        steps.map((x) => h('li', { class: `step-${x.state}` }, h('span', { class: 'muted' }, new Date(x.at).toLocaleTimeString()), ` ${x.name} — ${x.state}${x.message ? ': ' + x.message : ''}`)),
      ),
      t.error ? h('p', { class: 'error' }, `${t.error.code}: ${t.error.message}`) : '',
      running ? h('button', { type: 'button', class: 'small', onclick: () => cancelTask(t.id) }, 'Cancel task') : '',
    ),
  );
}

function renderTaskEverywhere(t) {
  if (state.current && t.serverId === state.current.id) renderServerTasks();
  const all = $('#all-tasks ul');
  if (all && !$('#tasks-view').hidden) {
    const li = all.querySelector(`li[data-task="${t.id}"]`);
    if (li) li.replaceWith(taskItem(t));
    else all.prepend(taskItem(t));
  }
}

function renderServerTasks() {
  const box = $('#server-tasks');
  if (!box || !state.current) return;
  const list = [...state.tasks.values()].filter((t) => t.serverId === state.current.id).sort((a, b) => b.id - a.id).slice(0, 10);
  if (!list.length) return box.replaceChildren(h('p', { class: 'muted' }, 'No tasks yet.'));
  // Keep open/closed state of the journal the tech expanded.
  const open = new Set([...box.querySelectorAll('details[open]')].map((d) => d.parentElement.dataset.task));
  const ul = h('ul', { class: 'tasks' }, list.map(taskItem));
  for (const li of ul.children) if (open.has(li.dataset.task)) li.querySelector('details').open = true;
  box.replaceChildren(ul);
}

async function loadServerTasks(id) {
  try {
    const r = await api('GET', `/api/v1/tasks?server=${id}&limit=10`);
    // The list has no journals: read them for the ones that may still move or are the newest.
    for (const t of r.tasks) mergeTask(t);
    await Promise.all(r.tasks.slice(0, 5).map(async (t) => mergeTask(await api('GET', `/api/v1/tasks/${t.id}`))));
    renderServerTasks();
  } catch (err) {
    const box = $('#server-tasks');
    if (box) box.replaceChildren(h('p', { class: 'error' }, `Tasks: ${err.message}`));
  }
}

async function loadAllTasks() {
  const box = $('#all-tasks');
  try {
    const r = await api('GET', '/api/v1/tasks?limit=50');
    for (const t of r.tasks) mergeTask(t);
    box.replaceChildren(r.tasks.length ? h('ul', { class: 'tasks' }, r.tasks.map((t) => taskItem(state.tasks.get(t.id)))) : h('p', { class: 'muted' }, 'No tasks yet.'));
  } catch (err) {
    box.replaceChildren(h('p', { class: 'error' }, err.message));
  }
}

async function cancelTask(id) {
  if (!(await confirmAction('Cancel task', `Cancel task ${id}? What it already did stays done.`, 'Cancel task'))) return;
  try {
    await api('POST', `/api/v1/tasks/${id}/cancel`);
    say(`Task ${id}: cancel requested`);
  } catch (err) {
    say(`Cancel refused: ${err.message}`, 'error');
  }
}

/* ---------- sensors ---------- */

function thresholdText(t) {
  const parts = [];
  if (t.lowerCritical !== undefined) parts.push(`crit < ${t.lowerCritical}`);
  if (t.lowerNonCritical !== undefined) parts.push(`warn < ${t.lowerNonCritical}`);
  if (t.upperNonCritical !== undefined) parts.push(`warn > ${t.upperNonCritical}`);
  if (t.upperCritical !== undefined) parts.push(`crit > ${t.upperCritical}`);
  return parts.join(', ') || '—';
}

async function readSensors() {
  const sv = state.current;
  const box = $('#sensors');
  const btn = $('#read-sensors');
  btn.disabled = true;
  box.replaceChildren(h('p', { class: 'muted' }, 'Reading the BMC…'));
  try {
    const r = await api('GET', `/api/v1/servers/${sv.id}/sensors`);
    if (!state.current || state.current.id !== sv.id) return;
    state.sensors = r.sensors;
    const order = { critical: 0, warning: 1, ok: 2, unavailable: 3 };
    const rows = [...r.sensors].sort((a, b) => order[a.status] - order[b.status] || a.name.localeCompare(b.name));
    box.replaceChildren(
      h('p', { class: 'muted' }, 'Read ', when(r.read_at), ` (task ${r.task})`),
      h(
        'table',
        { class: 'grid sensors' },
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Sensor'), h('th', { scope: 'col' }, 'Value'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Thresholds'))),
        h(
          'tbody',
          {},
          rows.map((x) =>
            h(
              'tr',
              { class: `sensor-${x.status}` },
              h('th', { scope: 'row' }, x.name),
              h('td', { class: 'num' }, x.value === null ? '—' : `${x.value} ${x.unit}`),
              h('td', {}, h('span', { class: `badge sensor-badge-${x.status}` }, x.status)),
              h('td', { class: 'muted' }, thresholdText(x.thresholds || {})),
            ),
          ),
        ),
      ),
    );
    loadHistory(sv.id);
  } catch (err) {
    box.replaceChildren(h('p', { class: 'error' }, `Sensors: ${err.code || ''} ${err.message}`));
  } finally {
    btn.disabled = false;
  }
}

async function loadHistory(id) {
  const box = $('#history');
  if (!box) return;
  try {
    const r = await api('GET', `/api/v1/servers/${id}/sensors/history?hours=24`);
    if (!state.current || state.current.id !== id) return;
    const charted = r.sensors.filter((x) => ['temperature', 'fan', 'voltage'].includes(x.type) && x.points.some((p) => p.value !== null));
    if (!charted.length) return box.replaceChildren(h('p', { class: 'muted' }, 'No sensor history yet (samples are stored periodically).'));
    box.replaceChildren(h('h4', {}, 'Last 24 hours'), h('div', { class: 'charts' }, charted.map((x) => chart(x, r.from, r.to))));
  } catch (err) {
    box.replaceChildren(h('p', { class: 'muted' }, err.status === 404 && err.code !== 'NOT_FOUND' ? 'Sensor history is not available.' : `History: ${err.message}`));
  }
}

/** A small line chart as inline SVG; thresholds from the last live read are drawn as dashed lines. */
function chart(series, fromIso, toIso) {
  const W = 260;
  const H = 70;
  const pad = 4;
  const pts = series.points.filter((p) => p.value !== null);
  const live = (state.sensors || []).find((x) => x.name === series.name);
  const limits = live ? [live.thresholds.upperCritical, live.thresholds.upperNonCritical, live.thresholds.lowerCritical].filter((v) => v !== undefined) : [];
  const values = pts.map((p) => p.value);
  let lo = Math.min(...values, ...limits);
  let hi = Math.max(...values, ...limits);
  if (hi === lo) (hi += 1), (lo -= 1);
  // The data's own time span: a fresh install has minutes of samples, which would be a dot on a 24 h axis.
  const t0 = Math.max(Date.parse(fromIso), Date.parse(pts[0].at));
  const t1 = Math.min(Date.parse(toIso), Date.parse(pts[pts.length - 1].at));
  const x = (iso) => pad + ((Date.parse(iso) - t0) / Math.max(1, t1 - t0)) * (W - 2 * pad);
  const y = (v) => H - pad - ((v - lo) / (hi - lo)) * (H - 2 * pad);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', class: 'chart' });
  const last = pts[pts.length - 1];
  const title = s('title');
  title.textContent = `${series.name}: ${pts.length} samples, ${Math.min(...values)} to ${Math.max(...values)} ${series.unit}, last ${last.value}`;
  svg.append(title);
  svg.setAttribute('aria-label', title.textContent);
  for (const lim of limits) svg.append(s('line', { x1: pad, x2: W - pad, y1: y(lim), y2: y(lim), class: 'limit' }));
  svg.append(s('polyline', { points: pts.map((p) => `${x(p.at).toFixed(1)},${y(p.value).toFixed(1)}`).join(' '), class: 'line' }));
  svg.append(s('circle', { cx: x(last.at), cy: y(last.value), r: 2.5, class: `dot dot-${last.status}` }));
  return h('figure', { class: 'chart-box' }, svg, h('figcaption', {}, `${series.name} `, h('strong', {}, `${last.value} ${series.unit}`)));
}

/* ---------- discovered ---------- */

async function loadDiscovered() {
  const box = $('#discovered');
  try {
    const r = await api('GET', '/api/v1/discovered');
    if (!r.list.length) return box.replaceChildren(h('p', { class: 'muted' }, 'Nothing discovered: every machine that asked to boot is in the inventory.'));
    box.replaceChildren(
      h(
        'table',
        { class: 'grid' },
        h('thead', {}, h('tr', {}, ['MAC', 'Firmware', 'Vendor class', 'First seen', 'Last seen', 'Requests', ''].map((c) => h('th', { scope: 'col' }, c)))),
        h(
          'tbody',
          {},
          r.list.map((d) =>
            h(
              'tr',
              { 'data-mac': d.mac },
              h('td', {}, h('code', {}, d.mac)),
              h('td', {}, archName(d.arch)),
              h('td', { class: 'muted' }, d.vendorClass || '—'),
              h('td', {}, when(d.firstSeen)),
              h('td', {}, when(d.lastSeen)),
              h('td', { class: 'num' }, d.seenCount),
              h('td', {}, h('button', { type: 'button', onclick: (e) => showAdopt(d, e.target.closest('tr')) }, `Adopt ${d.mac}`)),
            ),
          ),
        ),
      ),
    );
  } catch (err) {
    box.replaceChildren(h('p', { class: err.status === 404 ? 'muted' : 'error' }, err.status === 404 ? 'Discovery is not available on this rackhand yet.' : err.message));
  }
}

function archName(a) {
  return { 0: 'BIOS', 6: 'UEFI x86', 7: 'UEFI x86-64', 9: 'UEFI x86-64', 11: 'UEFI arm64' }[a] || (a === undefined || a === null ? '—' : `arch ${a}`);
}

function showAdopt(d, row) {
  const old = $('#adopt-row');
  if (old) old.remove();
  const form = h(
    'form',
    { id: 'adopt-form', class: 'inline', onsubmit: (e) => submitAdopt(e, d) },
    h('label', { for: 'ad-id' }, 'Server id'),
    h('input', { id: 'ad-id', name: 'id', inputmode: 'numeric', pattern: '[0-9]{1,15}', required: true, autocomplete: 'off' }),
    h('label', { for: 'ad-name' }, 'Name'),
    h('input', { id: 'ad-name', name: 'name', required: true, maxlength: 253, autocomplete: 'off' }),
    h('label', { for: 'ad-rack' }, 'Rack'),
    h('input', { id: 'ad-rack', name: 'rack', maxlength: 64, autocomplete: 'off' }),
    h('button', { type: 'submit' }, 'Add to inventory'),
    h('p', { id: 'ad-error', class: 'error', role: 'alert' }),
  );
  row.after(h('tr', { id: 'adopt-row' }, h('td', { colspan: 7 }, form)));
  $('#ad-id').focus();
}

async function submitAdopt(e, d) {
  e.preventDefault();
  const id = Number($('#ad-id').value);
  const name = $('#ad-name').value.trim();
  if (!Number.isSafeInteger(id) || id <= 0 || !name) {
    $('#ad-error').textContent = 'A positive numeric id and a name are needed.';
    return;
  }
  const body = { id, name };
  const rack = $('#ad-rack').value.trim();
  if (rack) body.rack = rack;
  try {
    const sv = await api('POST', `/api/v1/discovered/${encodeURIComponent(d.mac)}/adopt`, body);
    say(`${d.mac} adopted as ${sv.name} (#${sv.id})`, 'ok');
    location.hash = `#/server/${sv.id}`;
    search('');
  } catch (err) {
    $('#ad-error').textContent = `${err.code}: ${err.message}`;
  }
}

/* ---------- start ---------- */

function start() {
  $('#login-view').hidden = true;
  $('#nav').hidden = false;
  $('#who').hidden = false;
  $('#who-name').textContent = `${state.who.name} (${state.who.role})`;
  connectEvents();
  search($('#search').value.trim());
  if (!location.hash || location.hash === '#') location.hash = '#/';
  route();
  if (location.hash === '#/') $('#search').focus();
}

(async () => {
  if (!state.token) return showLogin();
  try {
    await login(state.token);
    start();
  } catch (err) {
    logout(err.status === 401 ? 'Your saved token was refused; log in again.' : err.message);
  }
})();

// For tests and the curious: the page's state, read-only by convention.
window.rackhand = state;
