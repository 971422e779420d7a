// The technician's page: log in with a token, find a server, see and change its state; plain DOM, no build.
const TOKEN_KEY = 'rackhand.token';
const $ = (sel, root = document) => root.querySelector(sel);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  who: null,
  // id → server record: the one copy both the list and the detail pane render from.
  servers: new Map(),
  listIds: [], // the list's servers, in its order
  currentId: null, // the server shown in the detail pane
  tasks: new Map(), // id → task (with steps), fed by lists and the event stream
  osList: null, // null: not loaded; [] with osError: not available
  osError: '',
  events: null,
  sensors: null, // the last live read of the current server's sensors (its thresholds are drawn on the chart)
  afterRoute: null, // a message to show once the next view is shown
  announced: new Set(), // ids of finished tasks whose end was said in the status line
  lastConsoleUrl: '',
};

/** The server in the detail pane, or undefined. */
const current = () => (state.currentId === null ? undefined : state.servers.get(state.currentId));

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

/** An error belongs to the view it happened in: moving on clears it. */
function clearStatus() {
  clearTimeout(statusTimer);
  $('#status').textContent = '';
  $('#status').className = 'status';
}

/** Goes to another view and shows `message` there (a message said before the hash changes would be cleared). */
function navigate(hash, message) {
  state.afterRoute = message || null;
  if (location.hash === hash) route();
  else location.hash = hash;
}

class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
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
    throw new ApiError(res.status, err.code, err.message, err.details);
  }
  return json;
}

/**
 * A dialog asking to confirm a destructive action; resolves true only on the confirm button. The focus stays in
 * the dialog while it is open (Tab wraps around) and goes back to what had it before, whatever closed it.
 */
function confirmAction(title, text, okLabel) {
  const dlg = $('#confirm');
  const opener = document.activeElement;
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = okLabel;
  dlg.returnValue = '';
  dlg.showModal();
  $('#confirm-cancel').focus();
  return new Promise((resolve) =>
    dlg.addEventListener(
      'close',
      () => {
        if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
        resolve(dlg.returnValue === 'ok');
      },
      { once: true },
    ),
  );
}

$('#confirm').addEventListener('keydown', (e) => {
  if (e.key !== 'Tab') return;
  const items = [...e.currentTarget.querySelectorAll('button, [href], input, select, textarea, [tabindex]:not([tabindex="-1"])')].filter((x) => !x.disabled);
  if (!items.length) return;
  const first = items[0];
  const last = items[items.length - 1];
  if (e.shiftKey && (document.activeElement === first || !e.currentTarget.contains(document.activeElement))) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && document.activeElement === last) {
    e.preventDefault();
    first.focus();
  }
});

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
  state.currentId = null;
  state.servers.clear();
  state.tasks.clear();
  state.announced.clear();
  if (state.events) state.events.close();
  state.events = null;
  showLogin(message);
}

function showLogin(message = '') {
  clearStatus();
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
    // A finished step may have changed what the server shows (power read, netboot armed): re-read it.
    if (step.state !== 'started') refreshServerSoon(serverId);
  });
}

/** Re-reads a shown server once a burst of its task events has passed, then redraws its row and its facts. */
const refreshTimers = new Map();
function refreshServerSoon(id) {
  if (id === null || id === undefined || !state.servers.has(id)) return;
  clearTimeout(refreshTimers.get(id));
  refreshTimers.set(
    id,
    setTimeout(() => {
      refreshTimers.delete(id);
      refreshServer(id);
    }, 150),
  );
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
  const { task } = mergeTask(incoming);
  renderTaskEverywhere(task);
  const finished = ['succeeded', 'failed', 'cancelled'].includes(task.state);
  if (!finished) return;
  // What the task did (or why it failed) changes the server's facts and its BMC health, in the list and the detail.
  refreshServerSoon(task.serverId);
  // Once per task: its end may come by the stream before or after the answer that started it.
  if (task.serverId === state.currentId && !$('#servers-view').hidden && !state.announced.has(task.id)) {
    state.announced.add(task.id);
    say(`Task ${task.id} (${task.kind}) ${task.state}${task.error ? ': ' + task.error.message : ''}`, task.state === 'succeeded' ? 'ok' : 'error');
  }
}

/* ---------- routing ---------- */

function route() {
  if (!state.who) return;
  const hash = location.hash || '#/';
  clearStatus();
  if (state.afterRoute) say(state.afterRoute, 'ok');
  state.afterRoute = null;
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
  else if (hash === '#/tasks') {
    $('#tasks-view h2').focus();
    loadAllTasks();
  } else if (hash === '#/discovered') {
    $('#discovered-view h2').focus();
    loadDiscovered();
  }
}
window.addEventListener('hashchange', route);

/* ---------- server list ---------- */

const POWER_LABEL = { on: 'on', off: 'off', unknown: 'unknown' };
function powerBadge(p) {
  return h('span', { class: `badge power-${p.state}` }, POWER_LABEL[p.state] || p.state);
}

/** How a BMC failure reads to a technician, by error code: a label and what to do. */
const BMC_FAILURE = {
  BMC_AUTH_FAILED: ['login refused', 'The BMC refused rackhand\'s user name or password: correct the BMC credentials in the inventory (Inventory, below, for admins).'],
  BMC_UNREACHABLE: ['unreachable', 'No answer from the BMC: check its network cable, address and that it is powered.'],
  BMC_TIMEOUT: ['not answering', 'The BMC took too long to answer: it may be rebooting or overloaded.'],
  BMC_BUSY: ['busy', 'The BMC said it is busy: try again in a minute.'],
  BMC_ERROR: ['error', 'The BMC answered with an error.'],
};
/**
 * The BMC's health as one verdict for the list and the detail, from the server record: the last BMC call's error
 * code (power.bmcError, set by the power sweep and by every BMC task; null after a success) or, before any call,
 * "not checked".
 */
function bmcHealth(sv) {
  if (!sv.bmc) return { label: 'none', cls: 'muted', title: 'No BMC configured' };
  const p = sv.power;
  if (p.bmcError) {
    const [label, title] = BMC_FAILURE[p.bmcError] || [p.bmcError, 'The BMC failed.'];
    return { label, cls: 'bad', title };
  }
  if (p.bmcReachable === null) return { label: 'not checked', cls: 'muted', title: 'rackhand has not talked to this BMC yet' };
  if (p.bmcReachable === false) return { label: BMC_FAILURE.BMC_UNREACHABLE[0], cls: 'bad', title: BMC_FAILURE.BMC_UNREACHABLE[1] };
  return { label: 'reachable', cls: 'ok', title: 'The BMC answered rackhand\'s last request' };
}
function bmcBadge(sv) {
  const v = bmcHealth(sv);
  return h('span', { class: `badge ${v.cls}`, title: v.title }, v.label);
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
    for (const sv of r.servers) state.servers.set(sv.id, sv);
    state.listIds = r.servers.map((sv) => sv.id);
    renderServerTable(r.total);
  } catch (err) {
    say(`Search failed: ${err.message}`, 'error');
  }
}

function renderServerTable(total) {
  const body = $('#server-table tbody');
  const n = state.listIds.length;
  body.replaceChildren(...state.listIds.map((id) => serverRow(state.servers.get(id))));
  $('#search-count').textContent = total > n ? `${n} of ${total}` : `${total} server${total === 1 ? '' : 's'}`;
  if (n === 0) body.append(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'No server matches.')));
}

function serverRow(sv) {
  const selected = state.currentId === sv.id;
  return h(
    'tr',
    { 'data-id': sv.id, class: selected ? 'selected' : '' },
    h('td', {}, h('a', { href: `#/server/${sv.id}`, class: 'server-link' }, sv.name), ' ', h('span', { class: 'muted' }, `#${sv.id}`)),
    h('td', {}, sv.rack ? `${sv.rack}${sv.rackPosition ? ' / U' + sv.rackPosition : ''}` : '—'),
    h('td', {}, powerBadge(sv.power)),
    h('td', {}, bmcBadge(sv)),
  );
}

/** Redraws everything that shows one server from its record: its list row and, when open, its facts. */
function renderServer(id) {
  const sv = state.servers.get(id);
  if (!sv) return;
  const row = $(`#server-table tr[data-id="${id}"]`);
  if (row) row.replaceWith(serverRow(sv));
  const facts = $('#facts');
  // Only the facts: forms the tech is typing in stay as they are.
  if (facts && id === state.currentId) facts.replaceWith(factsList(sv));
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
    state.servers.set(id, sv);
    state.currentId = id;
    state.sensors = null;
    renderServer(id);
    renderDetail(sv);
    for (const tr of document.querySelectorAll('#server-table tr.selected')) tr.classList.remove('selected');
    const row = $(`#server-table tr[data-id="${id}"]`);
    if (row) row.classList.add('selected');
    loadServerTasks(id);
    loadHistory(id);
    loadBootHistory(id);
    $('#detail h2').focus();
  } catch (err) {
    $('#detail').replaceChildren(h('p', { class: 'error' }, `Server ${id}: ${err.message}`));
  }
}

async function refreshServer(id) {
  try {
    state.servers.set(id, await api('GET', `/api/v1/servers/${id}`));
    renderServer(id);
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
    h('dd', { id: 'bmc-state' }, bmcBadge(sv), sv.bmc ? h('span', { class: 'muted' }, ` ${sv.bmc.driver} ${sv.bmc.host}:${sv.bmc.port} ${sv.bmc.model}`) : ''),
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
      bootForm(hasBmc, sv.bmc && sv.bmc.driver),
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
    eventLogSection(hasBmc),
    bootHistorySection(),
    reinstallSection(sv),
    bmcSection(hasBmc),
    canEditInventory() ? inventorySection(sv) : '',
  );
  loadOsList();
}

/** Drivers that can do more than IPMI's boot devices and network boot (BMC_DRIVER_FEATURES). */
const REDFISH_LIKE = new Set(['redfish', 'simulated']);
const BOOT_DEVICE_NAMES = { pxe: 'network (PXE)', http: 'UEFI HTTP boot' };

function bootForm(hasBmc, driver) {
  const devices = ['pxe', 'disk', 'cdrom', 'bios', ...(REDFISH_LIKE.has(driver) ? ['http'] : [])];
  return h(
    'form',
    { id: 'boot-form', class: 'inline', onsubmit: submitBoot },
    h('label', { for: 'boot-device' }, 'Boot device'),
    h('select', { id: 'boot-device', name: 'device', disabled: !hasBmc }, devices.map((d) => h('option', { value: d }, BOOT_DEVICE_NAMES[d] ?? d))),
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
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'ri-boot-via' }, 'Boot via'),
        h('select', { id: 'ri-boot-via', name: 'boot_via' }, BOOT_VIA.map((v) => h('option', { value: v, selected: v === (sv.bootVia || 'pxe') }, BOOT_VIA_NAMES[v]))),
      ),
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

/* ---------- boot history ---------- */

const BOOT_EVENT_LABEL = {
  'dhcp-offer': 'DHCP offer',
  'dhcp-ack': 'DHCP ack',
  'dhcp-nak': 'DHCP nak',
  'dhcp-ignored': 'DHCP no answer',
  'dhcp-release': 'DHCP release',
  'dhcp-decline': 'DHCP decline',
  'dhcp-discovered': 'DHCP, not in inventory',
  'tftp-read': 'TFTP read',
  'tftp-aborted': 'TFTP aborted',
  'tftp-failed': 'TFTP failed',
  'tftp-refused': 'TFTP refused',
  'http-script': 'boot script',
  'http-script-refused': 'boot script refused',
  'http-config': 'install config',
  'http-config-refused': 'install config refused',
  'installer-report': 'installer report',
  'installer-report-refused': 'installer report refused',
};
const isTrouble = (e) => /refused|failed|nak|decline|ignored/.test(e.kind) || /failure/.test(e.detail);

function bootHistorySection() {
  return h(
    'section',
    { 'aria-labelledby': 'boot-history-title', class: 'card' },
    h('h3', { id: 'boot-history-title' }, 'Boot history'),
    h('p', { class: 'muted' }, 'What DHCP, TFTP and HTTP boot did for this host, newest first: why it netboots, or does not.'),
    h('div', { class: 'buttons' }, h('button', { type: 'button', id: 'boot-history-refresh', onclick: () => loadBootHistory(state.currentId) }, 'Refresh boot history')),
    h('div', { id: 'boot-history' }, h('p', { class: 'muted' }, 'Loading…')),
  );
}

/** A boot history as a table that scrolls in its own box: time, event, address, what happened. */
function bootHistoryTable(list, total) {
  if (!list.length) return h('p', { class: 'muted' }, 'Nothing recorded yet: DHCP requests, TFTP reads and boot script fetches show here.');
  const counts = new Map();
  for (const e of list) counts.set(e.kind, (counts.get(e.kind) || 0) + 1);
  return h(
    'div',
    {},
    h('p', { class: 'muted' }, `${list.length} of ${total} events since `, when(list[list.length - 1].at), `: ${[...counts].map(([k, n]) => `${BOOT_EVENT_LABEL[k] || k} × ${n}`).join(', ')}`),
    h(
      'div',
      { class: 'table-scroll' },
      h(
        'table',
        { class: 'grid boot-events' },
        h('thead', {}, h('tr', {}, ['Time', 'Event', 'From', 'What happened'].map((c) => h('th', { scope: 'col' }, c)))),
        h(
          'tbody',
          {},
          list.map((e) =>
            h(
              'tr',
              { class: isTrouble(e) ? 'boot-trouble' : '' },
              h('td', {}, h('time', { datetime: e.at, title: e.at }, new Date(e.at).toLocaleString())),
              h('td', {}, h('span', { class: `badge ${isTrouble(e) ? 'bad' : 'muted'}` }, BOOT_EVENT_LABEL[e.kind] || e.kind)),
              h('td', {}, h('code', {}, e.ip || '—'), e.mac ? h('span', { class: 'muted' }, ` ${e.mac}`) : ''),
              h('td', { class: 'detail-text' }, e.detail),
            ),
          ),
        ),
      ),
    ),
  );
}

async function loadBootHistory(id) {
  const box = $('#boot-history');
  if (!box || id === null) return;
  try {
    const r = await api('GET', `/api/v1/servers/${id}/boot-history?limit=50`);
    if (state.currentId !== id) return;
    box.replaceChildren(bootHistoryTable(r.list, r.total));
  } catch (err) {
    box.replaceChildren(h('p', { class: 'error' }, `Boot history: ${err.message}`));
  }
}

/* ---------- inventory (admins) ---------- */

/** Inventory writes carry BMC and console secrets: admin and central tokens only, as the API says. */
const canEditInventory = () => !!state.who && (state.who.role === 'admin' || state.who.role === 'central');
const SERVER_STATUSES = ['free', 'rent', 'reserved', 'deploying', 'maintenance', 'broken', 'suspended'];
const BOOT_VIA = ['pxe', 'virtual_media', 'http'];
const BOOT_VIA_NAMES = { pxe: 'network (PXE)', virtual_media: 'virtual media (its boot ISO, no DHCP)', http: 'UEFI HTTP boot' };
/** The port a BMC gets when the form leaves it empty. */
const bmcPortDefault = (driver, scheme) => (driver === 'redfish' ? (scheme === 'http' ? '80' : '443') : '623');

/** ipmi and ipmitool, and any other driver this site's servers use (the simulated one of a demo or test site). */
function bmcDrivers() {
  const inUse = [...state.servers.values()].map((x) => x.bmc && x.bmc.driver).filter(Boolean);
  return [...new Set(['ipmi', 'ipmitool', 'redfish', ...inUse])];
}

function field(id, label, input) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}

function inventorySection(sv) {
  const b = sv.bmc;
  const c = sv.console;
  const text = (id, value, extra = {}) => h('input', { id, value: value ?? '', autocomplete: 'off', spellcheck: 'false', ...extra });
  const select = (id, options, value) => h('select', { id }, options.map((o) => h('option', { value: o, selected: o === value }, o)));
  const secret = (id, isSet) => h('input', { id, type: 'password', autocomplete: 'new-password', placeholder: isSet ? 'unchanged (a password is set)' : 'not set', maxlength: 64 });
  return h(
    'section',
    { 'aria-labelledby': 'inventory-title', class: 'card', id: 'inventory' },
    h('h3', { id: 'inventory-title' }, 'Inventory'),
    h(
      'form',
      { id: 'inventory-form', onsubmit: submitInventory, novalidate: true },
      h(
        'fieldset',
        {},
        h('legend', {}, 'Server'),
        field('inv-name', 'Name', text('inv-name', sv.name, { required: true, maxlength: 253 })),
        field('inv-status', 'Status', select('inv-status', SERVER_STATUSES, sv.status)),
        field('inv-location', 'Location', text('inv-location', sv.location, { maxlength: 128 })),
        field('inv-datacenter', 'Datacenter', text('inv-datacenter', sv.datacenter, { maxlength: 128 })),
        field('inv-rack', 'Rack', text('inv-rack', sv.rack, { maxlength: 64 })),
        field('inv-rack-position', 'Rack position (U)', text('inv-rack-position', sv.rackPosition, { inputmode: 'numeric', pattern: '[0-9]{0,4}', maxlength: 4 })),
        field('inv-boot-via', 'Deploys boot via', select('inv-boot-via', BOOT_VIA, sv.bootVia || 'pxe')),
      ),
      h(
        'fieldset',
        {},
        h('legend', {}, b ? 'BMC' : 'BMC (none yet: give its address, user and password)'),
        field('inv-bmc-driver', 'Driver', h('select', { id: 'inv-bmc-driver', onchange: bmcPortHint }, bmcDrivers().map((o) => h('option', { value: o, selected: o === (b ? b.driver : 'ipmi') }, o)))),
        field('inv-bmc-host', 'Address', text('inv-bmc-host', b?.host, { maxlength: 253 })),
        field('inv-bmc-port', 'Port', text('inv-bmc-port', b ? b.port : '', { inputmode: 'numeric', maxlength: 5, placeholder: bmcPortDefault(b?.driver, b?.scheme) })),
        field('inv-bmc-scheme', 'Redfish over', h('select', { id: 'inv-bmc-scheme', onchange: bmcPortHint }, ['https', 'http'].map((o) => h('option', { value: o, selected: o === (b ? b.scheme : 'https') }, o)))),
        field('inv-bmc-legacy-tls', 'Old TLS (1.0/1.1) allowed', h('input', { id: 'inv-bmc-legacy-tls', type: 'checkbox', checked: !!b?.legacyTls })),
        field('inv-bmc-user', 'User name', text('inv-bmc-user', b?.username, { maxlength: 32 })),
        field('inv-bmc-pass', 'Password (write-only)', secret('inv-bmc-pass', b?.passwordSet)),
        field('inv-bmc-privilege', 'Privilege', select('inv-bmc-privilege', ['administrator', 'operator', 'user'], b ? b.privilege : 'administrator')),
      ),
      h(
        'fieldset',
        {},
        h('legend', {}, 'Console (VNC)'),
        field('inv-vnc-host', 'Address', text('inv-vnc-host', c?.host, { maxlength: 253 })),
        field('inv-vnc-port', 'Port', text('inv-vnc-port', c ? c.port : '', { inputmode: 'numeric', maxlength: 5, placeholder: '5900' })),
        field('inv-vnc-pass', 'Password (write-only)', secret('inv-vnc-pass', c?.passwordSet)),
      ),
      h('p', { id: 'inv-error', class: 'error', role: 'alert' }),
      h('button', { type: 'submit', id: 'inv-save' }, 'Save inventory'),
    ),
  );
}

/** The empty port field shows the port the chosen driver gets. */
function bmcPortHint() {
  $('#inv-bmc-port').placeholder = bmcPortDefault($('#inv-bmc-driver').value, $('#inv-bmc-scheme').value);
}

/** The form's field for an API field name (details.field), to mark and focus it. */
const INVENTORY_INPUTS = {
  name: 'inv-name', status: 'inv-status', location: 'inv-location', datacenter: 'inv-datacenter', rack: 'inv-rack', rack_position: 'inv-rack-position',
  'bmc.driver': 'inv-bmc-driver', 'bmc.host': 'inv-bmc-host', 'bmc.port': 'inv-bmc-port', 'bmc.username': 'inv-bmc-user', 'bmc.password': 'inv-bmc-pass',
  'bmc.privilege': 'inv-bmc-privilege', 'bmc.scheme': 'inv-bmc-scheme', 'bmc.legacy_tls': 'inv-bmc-legacy-tls', boot_via: 'inv-boot-via', bmc: 'inv-bmc-host', 'console.host': 'inv-vnc-host', 'console.port': 'inv-vnc-port', 'console.password': 'inv-vnc-pass', console: 'inv-vnc-host',
};

/**
 * Only what changed goes to the API (PUT merges: every field not sent keeps its stored value), so a save never
 * undoes what someone else changed meanwhile in another field. Passwords are sent only when typed.
 */
function inventoryPatch(sv) {
  const v = (id) => $(`#${id}`).value.trim();
  const num = (id) => (v(id) === '' ? null : /^\d+$/.test(v(id)) ? Number(v(id)) : v(id));
  const patch = {};
  const top = {
    name: v('inv-name'), status: v('inv-status'), location: v('inv-location'), datacenter: v('inv-datacenter'), rack: v('inv-rack'), rack_position: num('inv-rack-position'),
    boot_via: v('inv-boot-via'),
  };
  const was = { name: sv.name, status: sv.status, location: sv.location, datacenter: sv.datacenter, rack: sv.rack, rack_position: sv.rackPosition, boot_via: sv.bootVia };
  for (const k of Object.keys(top)) if (top[k] !== was[k]) patch[k] = top[k];
  const part = (now, before, password) => {
    const out = {};
    for (const k of Object.keys(now)) if (now[k] !== null && now[k] !== '' && (!before || now[k] !== before[k])) out[k] = now[k];
    if (password) out.password = password;
    return Object.keys(out).length ? out : undefined;
  };
  const b = sv.bmc;
  const bmc = part(
    {
      driver: v('inv-bmc-driver'), host: v('inv-bmc-host'), port: num('inv-bmc-port'), username: v('inv-bmc-user'), privilege: v('inv-bmc-privilege'),
      scheme: v('inv-bmc-scheme'), legacy_tls: $('#inv-bmc-legacy-tls').checked,
    },
    b ? { driver: b.driver, host: b.host, port: b.port, username: b.username, privilege: b.privilege, scheme: b.scheme, legacy_tls: b.legacyTls } : { scheme: 'https', legacy_tls: false },
    $('#inv-bmc-pass').value,
  );
  // A new BMC needs its address: the defaults alone (driver, privilege, scheme) are no change.
  if (bmc && (b || v('inv-bmc-host') || v('inv-bmc-user') || $('#inv-bmc-pass').value)) patch.bmc = bmc;
  const c = sv.console;
  const vnc = part({ host: v('inv-vnc-host'), port: num('inv-vnc-port') }, c && { host: c.host, port: c.port }, $('#inv-vnc-pass').value);
  if (vnc) patch.console = vnc;
  return patch;
}

async function submitInventory(e) {
  e.preventDefault();
  const sv = current();
  const err = $('#inv-error');
  err.textContent = '';
  for (const el of document.querySelectorAll('#inventory-form [aria-invalid]')) el.removeAttribute('aria-invalid');
  const patch = inventoryPatch(sv);
  if (!Object.keys(patch).length) return say(`Inventory of ${sv.name}: nothing changed`, 'info');
  try {
    const saved = await api('PUT', `/api/v1/servers/${sv.id}`, patch);
    const next = { ...saved, netboot: sv.netboot };
    state.servers.set(sv.id, next);
    renderServer(sv.id);
    if (!!saved.bmc !== !!sv.bmc || !!saved.console !== !!sv.console) {
      // A BMC or console added or removed: the actions that need one change with it.
      renderDetail(next);
      loadServerTasks(sv.id);
      loadHistory(sv.id);
      loadBootHistory(sv.id);
    } else {
      $('#detail h2').firstChild.textContent = saved.name;
      $('#inventory').replaceWith(inventorySection(next));
    }
    $('#inv-save').focus();
    const changed = Object.keys(patch).flatMap((k) => (typeof patch[k] === 'object' && patch[k] !== null ? Object.keys(patch[k]).map((f) => `${k}.${f}`) : [k]));
    say(`Inventory of ${saved.name} saved: ${changed.join(', ')}`, 'ok');
  } catch (ex) {
    err.textContent = `${ex.code}: ${ex.message}`;
    const input = $(`#${INVENTORY_INPUTS[ex.details.field] || 'inv-name'}`);
    if (ex.details.field && INVENTORY_INPUTS[ex.details.field]) input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}

/* ---------- actions ---------- */

async function started(promise, what) {
  try {
    const r = await promise;
    const task = r && r.task && typeof r.task === 'object' ? r.task : r;
    if (task && typeof task.id === 'number' && task.kind) {
      const merged = mergeTask(task).task;
      renderServerTasks();
      // A quick task may already have ended by the stream, and said so: that word stays.
      if (!FINISHED.includes(merged.state)) say(`${what}: task ${task.id} started`, 'info');
    } else say(`${what}: done`, 'ok');
    return r;
  } catch (err) {
    say(`${what} refused: ${err.code ? err.code + ': ' : ''}${err.message}`, 'error');
    return undefined;
  }
}

async function power(action) {
  const sv = current();
  if (action !== 'on') {
    const text = action === 'off' ? `Cut power to ${sv.name} now? Unsaved work on it is lost.` : `Reboot ${sv.name} now? It is reset if it is on.`;
    if (!(await confirmAction(action === 'off' ? 'Power off' : 'Reboot', text, action === 'off' ? 'Power off' : 'Reboot'))) return;
  }
  await started(api('POST', `/api/v1/servers/${sv.id}/power`, { action }), `Power ${action} ${sv.name}`);
}

async function submitBoot(e) {
  e.preventDefault();
  const sv = current();
  const body = { device: $('#boot-device').value, mode: $('#boot-mode').value, persistent: $('#boot-persistent').checked };
  await started(api('POST', `/api/v1/servers/${sv.id}/boot-device`, body), `Boot device ${body.device} on ${sv.name}`);
}

async function openConsole() {
  const sv = current();
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
  const sv = current();
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
  if ($('#ri-boot-via').value !== (sv.bootVia || 'pxe')) body.boot_via = $('#ri-boot-via').value;
  const r = await started(api('POST', `/api/v1/servers/${sv.id}/reinstall`, body), `Reinstall ${sv.name}`);
  if (r) $('#ri-pass').value = '';
}

async function submitAddUser(e) {
  e.preventDefault();
  const sv = current();
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
  const sv = current();
  const name = $('#bu-remove').value.trim();
  if (!name) return;
  if (!(await confirmAction('Remove BMC user', `Remove the user ${name} from the BMC of ${sv.name}?`, 'Remove user'))) return;
  await started(api('DELETE', `/api/v1/servers/${sv.id}/bmc/users/${encodeURIComponent(name)}`), `Remove BMC user ${name}`);
}

async function submitBmcReset(e) {
  e.preventDefault();
  const sv = current();
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
  if (t.serverId === state.currentId) renderServerTasks();
  const all = $('#all-tasks ul');
  if (all && !$('#tasks-view').hidden) {
    const li = all.querySelector(`li[data-task="${t.id}"]`);
    if (li) li.replaceWith(taskItem(t));
    else all.prepend(taskItem(t));
  }
}

function renderServerTasks() {
  const box = $('#server-tasks');
  if (!box || state.currentId === null) return;
  const list = [...state.tasks.values()].filter((t) => t.serverId === state.currentId).sort((a, b) => b.id - a.id).slice(0, 10);
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
    renderServer(id);
  } catch (err) {
    const box = $('#server-tasks');
    if (box) box.replaceChildren(h('p', { class: 'error' }, `Tasks: ${err.message}`));
  }
}

/** The site's latest tasks: what each listed server's BMC did last (bmcHealth) is known before any is opened. */
async function loadRecentTasks() {
  try {
    const r = await api('GET', '/api/v1/tasks?limit=200');
    for (const t of r.tasks) mergeTask(t);
    for (const id of new Set(r.tasks.map((t) => t.serverId))) renderServer(id);
  } catch {
    /* the list falls back to the API's reachability */
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

/* ---------- BMC event log ---------- */

/** Erasing what happened to the hardware: the people who look after it (admin and tech tokens), as the API says. */
const canClearEventLog = () => !!state.who && (state.who.role === 'admin' || state.who.role === 'tech');

function eventLogSection(hasBmc) {
  return h(
    'section',
    { 'aria-labelledby': 'event-log-title', class: 'card' },
    h('h3', { id: 'event-log-title' }, 'BMC event log'),
    h(
      'div',
      { class: 'buttons' },
      h('button', { type: 'button', id: 'read-event-log', disabled: !hasBmc, onclick: readEventLog }, 'Read event log'),
      canClearEventLog() ? h('button', { type: 'button', id: 'clear-event-log', class: 'danger', disabled: !hasBmc, onclick: clearEventLog }, 'Clear event log…') : '',
    ),
    h('div', { id: 'event-log' }),
  );
}

async function readEventLog() {
  const sv = current();
  const box = $('#event-log');
  const btn = $('#read-event-log');
  btn.disabled = true;
  box.replaceChildren(h('p', { class: 'muted' }, 'Reading the BMC…'));
  try {
    const r = await api('GET', `/api/v1/servers/${sv.id}/event-log`);
    if (state.currentId !== sv.id) return;
    const rows = [...r.entries].reverse();
    const critical = rows.filter((e) => e.severity === 'critical').length;
    box.replaceChildren(
      h('p', { class: 'muted', id: 'event-log-summary' }, 'Read ', when(r.read_at), ` (task ${r.task}): ${rows.length} entr${rows.length === 1 ? 'y' : 'ies'}${critical ? `, ${critical} critical` : ''}, newest first`),
      rows.length
        ? h(
            'div',
            { class: 'table-scroll' },
            h(
              'table',
              { class: 'grid event-log' },
              h('thead', {}, h('tr', {}, ['Time', 'Severity', 'What happened'].map((c) => h('th', { scope: 'col' }, c)))),
              h(
                'tbody',
                {},
                rows.map((e) =>
                  h(
                    'tr',
                    { class: `sensor-${e.severity === 'ok' ? 'ok' : e.severity}` },
                    h('td', {}, e.time ? h('time', { datetime: e.time, title: e.time }, new Date(e.time).toLocaleString()) : h('span', { class: 'muted', title: "the BMC's clock was not set" }, '—')),
                    h('td', {}, h('span', { class: `badge sensor-badge-${e.severity === 'ok' ? 'ok' : e.severity}` }, e.severity)),
                    h('td', { class: 'detail-text' }, e.message),
                  ),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'The event log is empty.'),
    );
  } catch (err) {
    box.replaceChildren(h('p', { class: 'error' }, `Event log: ${err.code || ''} ${err.message}`));
  } finally {
    btn.disabled = false;
  }
}

async function clearEventLog() {
  const sv = current();
  if (!(await confirmAction('Clear event log', `Erase the event log of ${sv.name}'s BMC? What it recorded is gone.`, 'Clear event log'))) return;
  await started(api('DELETE', `/api/v1/servers/${sv.id}/event-log`), `Clear the event log of ${sv.name}`);
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
  const sv = current();
  const box = $('#sensors');
  const btn = $('#read-sensors');
  btn.disabled = true;
  box.replaceChildren(h('p', { class: 'muted' }, 'Reading the BMC…'));
  try {
    // The read is stored in the history too: the chart shows it once reloaded.
    const r = await api('GET', `/api/v1/servers/${sv.id}/sensors`);
    if (state.currentId !== sv.id) return;
    state.sensors = r.sensors;
    const order = { critical: 0, warning: 1, ok: 2, unavailable: 3 };
    const rows = [...r.sensors].sort((a, b) => order[a.status] - order[b.status] || a.name.localeCompare(b.name));
    box.replaceChildren(
      h('p', { class: 'muted' }, 'Read ', when(r.read_at), ` (task ${r.task})`),
      h(
        'div',
        { class: 'table-scroll' },
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
      ),
    );
    loadHistory(sv.id);
  } catch (err) {
    box.replaceChildren(h('p', { class: 'error' }, `Sensors: ${err.code || ''} ${err.message}`));
  } finally {
    btn.disabled = false;
  }
}

const CHARTED_TYPES = ['temperature', 'fan', 'voltage', 'power'];

async function loadHistory(id) {
  const box = $('#history');
  if (!box) return;
  try {
    const r = await api('GET', `/api/v1/servers/${id}/sensors/history?hours=24`);
    if (state.currentId !== id) return;
    const charted = r.sensors.filter((x) => CHARTED_TYPES.includes(x.type) && x.points.some((p) => p.value !== null));
    if (!charted.length) return box.replaceChildren(h('p', { class: 'muted' }, 'No sensor history yet (samples are stored periodically and by every read).'));
    box.replaceChildren(h('h4', {}, 'Last 24 hours'), h('div', { class: 'charts' }, charted.map((x) => chart(x, Date.parse(r.from), Date.parse(r.to)))));
  } catch (err) {
    box.replaceChildren(h('p', { class: 'muted' }, err.status === 404 && err.code !== 'NOT_FOUND' ? 'Sensor history is not available.' : `History: ${err.message}`));
  }
}

/**
 * A line chart of one sensor over the whole window (24 hours ago → now) as inline SVG, hour marks every 6 hours.
 * Samples further apart than the sampling rhythm are not joined: a gap in the line is a gap in the data.
 * Thresholds from the last live read are drawn as dashed lines.
 */
function chart(series, fromMs, toMs) {
  const W = 300;
  const H = 92;
  const pad = 4;
  const axis = 14; // room for the hour labels
  const plot = { x: pad, y: pad, w: W - 2 * pad, h: H - 2 * pad - axis };
  const pts = series.points.filter((p) => p.value !== null).map((p) => ({ ...p, t: Date.parse(p.at) }));
  const live = (state.sensors || []).find((x) => x.name === series.name);
  const limits = live ? [live.thresholds.upperCritical, live.thresholds.upperNonCritical, live.thresholds.lowerCritical].filter((v) => v !== undefined) : [];
  const values = pts.map((p) => p.value);
  let lo = Math.min(...values, ...limits);
  let hi = Math.max(...values, ...limits);
  if (hi === lo) (hi += 1), (lo -= 1);
  const x = (t) => plot.x + ((t - fromMs) / Math.max(1, toMs - fromMs)) * plot.w;
  const y = (v) => plot.y + plot.h - ((v - lo) / (hi - lo)) * plot.h;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img', class: 'chart' });
  const last = pts[pts.length - 1];
  const title = s('title');
  title.textContent = `${series.name} over the last 24 hours: ${pts.length} samples, ${Math.min(...values)} to ${Math.max(...values)} ${series.unit}, last ${last.value}`;
  svg.append(title);
  svg.setAttribute('aria-label', title.textContent);
  svg.append(s('rect', { x: plot.x, y: plot.y, width: plot.w, height: plot.h, class: 'plot' }));
  for (let hoursAgo = 24; hoursAgo >= 0; hoursAgo -= 6) {
    const tx = x(toMs - hoursAgo * 3600_000);
    svg.append(s('line', { x1: tx, x2: tx, y1: plot.y, y2: plot.y + plot.h, class: 'hour' }));
    const label = s('text', { x: tx, y: H - 3, class: 'tick', 'text-anchor': hoursAgo === 24 ? 'start' : hoursAgo === 0 ? 'end' : 'middle' });
    label.textContent = hoursAgo === 24 ? '24 h ago' : hoursAgo === 0 ? 'now' : `${hoursAgo} h`;
    svg.append(label);
  }
  for (const lim of limits) svg.append(s('line', { x1: plot.x, x2: plot.x + plot.w, y1: y(lim), y2: y(lim), class: 'limit' }));
  // Runs of samples no further apart than three times their usual spacing (at least 15 minutes) are joined.
  const gaps = pts.slice(1).map((p, i) => p.t - pts[i].t).sort((a, b) => a - b);
  const maxGap = Math.max(15 * 60_000, 3 * (gaps[Math.floor(gaps.length / 2)] || 0));
  let run = [];
  const flush = () => {
    if (!run.length) return;
    svg.append(s('polyline', { points: run.map((p) => `${x(p.t).toFixed(1)},${y(p.value).toFixed(1)}`).join(' '), class: 'line' }));
    if (run.length === 1) svg.append(s('circle', { cx: x(run[0].t), cy: y(run[0].value), r: 1.8, class: 'dot' }));
    run = [];
  };
  for (const p of pts) {
    if (run.length && p.t - run[run.length - 1].t > maxGap) flush();
    run.push(p);
  }
  flush();
  svg.append(s('circle', { cx: x(last.t), cy: y(last.value), r: 2.5, class: `dot dot-${last.status}` }));
  return h('figure', { class: 'chart-box' }, svg, h('figcaption', {}, `${series.name} `, h('strong', {}, `${last.value} ${series.unit}`)));
}

/* ---------- discovered ---------- */

async function loadDiscovered() {
  const box = $('#discovered');
  $('#discovered-history').replaceChildren();
  try {
    const r = await api('GET', '/api/v1/discovered');
    if (!r.list.length) return box.replaceChildren(h('p', { class: 'muted' }, 'Nothing discovered: every machine that asked to boot is in the inventory.'));
    box.replaceChildren(
      h(
        'div',
        { class: 'table-scroll' },
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
                h(
                  'td',
                  { class: 'row-actions' },
                  h('button', { type: 'button', onclick: (e) => showAdopt(d, e.target.closest('tr')) }, `Adopt ${d.mac}`),
                  h('button', { type: 'button', onclick: () => showDiscoveredHistory(d) }, `Boot history of ${d.mac}`),
                ),
              ),
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

/** A discovered MAC's boot history, under the table (one at a time), its heading focused. */
async function showDiscoveredHistory(d) {
  $('#adopt-row')?.remove();
  const box = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const heading = h('h3', { class: 'sub', tabindex: '-1' }, `Boot history of ${d.mac}`);
  $('#discovered-history').replaceChildren(heading, box);
  heading.focus();
  try {
    const r = await api('GET', `/api/v1/discovered/${encodeURIComponent(d.mac)}/boot-history?limit=50`);
    box.replaceChildren(bootHistoryTable(r.list, r.total));
  } catch (err) {
    box.replaceChildren(h('p', { class: 'error' }, err.message));
  }
}

function showAdopt(d, row) {
  $('#adopt-row')?.remove();
  $('#discovered-history').replaceChildren();
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
    navigate(`#/server/${sv.id}`, `${d.mac} adopted as ${sv.name} (#${sv.id})`);
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
  loadRecentTasks();
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
