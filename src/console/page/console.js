// rackhand console page logic: ticket from the URL fragment, websocket to the proxy, noVNC, state, reconnect.
//
// Page URL: /console/?name=<server name>&ticketUrl=<same-origin URL that POST-returns {"ticket": "..."}>
//           [&path=<websocket path, default "ws" next to this page>]#ticket=<single-use ticket>
// The ticket travels in the fragment so that no proxy or access log sees it; it is removed from the address
// bar at once, and every reconnect asks ticketUrl for a fresh one.
import RFB from './novnc/core/rfb.js';

// Mirrors src/console/close-codes.ts (a test keeps the two in step).
const CLOSE_MESSAGES = {
  1000: 'The console connection was closed.',
  1003: 'The console proxy refused a text message.',
  1006: 'The console connection was refused or broken (wrong origin, proxy down, or network failure).',
  1008: 'The console proxy refused the connection (policy).',
  1009: 'The console proxy refused an oversized message.',
  4000: 'The console session was stopped.',
  4001: 'The console was closed after being idle.',
  4002: 'The VNC server closed the connection.',
  4003: 'rackhand is shutting down.',
  4004: 'The browser stopped answering; the console was closed.',
  4401: 'This console link has expired or was already used.',
  4403: 'Your address is not allowed to open this console.',
  4429: 'Too many open consoles for this server; close another one first.',
  4500: 'rackhand could not check the console ticket.',
  4502: 'The VNC server (BMC or KVM) cannot be reached.',
  4504: 'The VNC server (BMC or KVM) is not responding.',
  4505: 'The console target did not answer like a VNC server.',
};

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const serverName = (params.get('name') || '').slice(0, 200) || 'server';
const ticketUrl = sameOrigin(params.get('ticketUrl'), 'http');
const wsUrl = sameOrigin(params.get('path') || 'ws', 'ws');

const fragment = new URLSearchParams(location.hash.slice(1));
let pendingTicket = fragment.get('ticket');
if (location.hash) history.replaceState(null, '', location.pathname + location.search);

let rfb = null;
let socket = null;
let connectedOnce = false;

// Exposed for operators' devtools and for the browser tests.
const view = { state: 'idle', message: '', lastClose: null, connects: 0 };
window.rackhandConsole = view;

$('server-name').textContent = serverName;
document.title = `${serverName} — console`;

/** A URL on this page's origin (ws/wss for the websocket), or null for anything else. */
function sameOrigin(raw, kind) {
  if (!raw) return null;
  let u;
  try {
    u = new URL(raw, location.href);
  } catch {
    return null;
  }
  if (u.origin !== location.origin) return null;
  if (kind === 'ws') u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  u.hash = '';
  return u;
}

function setState(state, message) {
  view.state = state;
  view.message = message || '';
  document.body.dataset.state = state;
  const labels = { connecting: 'connecting…', connected: 'connected', disconnected: 'disconnected', failed: 'failed', idle: 'idle' };
  $('status').textContent = labels[state] || state;
  $('status').dataset.state = state;
  const msg = $('message');
  msg.textContent = view.message;
  msg.hidden = !view.message;
  $('cad').disabled = state !== 'connected';
  $('reconnect').hidden = !(state === 'disconnected' || state === 'failed') || !ticketUrl;
  if (state !== 'connecting') $('password-form').hidden = true;
}

function describeClose(close, wasConnected) {
  if (!close) return wasConnected ? 'The console connection was closed.' : 'Could not open the console.';
  const base = CLOSE_MESSAGES[close.code] || `The console connection ended (code ${close.code}).`;
  return close.reason ? `${base} (${close.reason})` : base;
}

function finish(clean) {
  const close = view.lastClose;
  // A stop or idle close after a working session is a normal end; every other app code is a failure.
  const ended = close && (close.code === 4000 || close.code === 4001);
  const appFailure = close && close.code >= 4000 && !ended;
  const failed = !connectedOnce || appFailure || (!clean && !ended);
  let text = describeClose(close, connectedOnce);
  if (!ticketUrl && failed) text += ' Open the console again from the control panel.';
  setState(failed ? 'failed' : 'disconnected', text);
}

function connect(ticket) {
  teardown();
  connectedOnce = false;
  view.lastClose = null;
  view.connects++;
  if (!wsUrl) return setState('failed', 'The console page was opened with an invalid websocket path.');
  setState('connecting', '');
  const u = new URL(wsUrl);
  u.searchParams.set('ticket', ticket);
  const ws = new WebSocket(u.href, ['binary']);
  ws.binaryType = 'arraybuffer';
  socket = ws;
  // Registered before noVNC attaches, so the close code is known when noVNC reports the disconnect.
  ws.addEventListener('close', (e) => {
    if (socket !== ws) return;
    view.lastClose = { code: e.code, reason: e.reason };
    if (view.state !== 'connecting' && view.state !== 'connected') finish(e.wasClean);
  });
  const r = new RFB($('screen'), ws, { shared: true });
  rfb = r;
  r.scaleViewport = $('fit').checked;
  r.resizeSession = false;
  r.addEventListener('connect', () => {
    if (rfb !== r) return;
    connectedOnce = true;
    setState('connected', '');
    r.focus();
  });
  r.addEventListener('disconnect', (e) => {
    if (rfb !== r) return;
    finish(e.detail.clean);
  });
  r.addEventListener('credentialsrequired', () => {
    $('password-form').hidden = false;
    $('password').focus();
  });
  r.addEventListener('securityfailure', (e) => {
    if (rfb !== r) return;
    view.lastClose = { code: 0, reason: e.detail.reason || 'authentication failed' };
    setState('failed', `VNC authentication failed${e.detail.reason ? `: ${e.detail.reason}` : ''}.`);
  });
}

function teardown() {
  const r = rfb;
  rfb = null;
  socket = null;
  if (r) {
    try {
      r.disconnect();
    } catch {
      /* already gone */
    }
  }
  $('screen').replaceChildren();
}

async function reconnect() {
  if (!ticketUrl) return;
  setState('connecting', '');
  let ticket;
  try {
    const res = await fetch(ticketUrl.href, { method: 'POST', credentials: 'same-origin', headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = await res.json();
    ticket = body && typeof body.ticket === 'string' ? body.ticket : null;
    if (!ticket) throw new Error('no ticket in the answer');
  } catch (e) {
    return setState('failed', `Could not get a new console ticket (${e.message}).`);
  }
  connect(ticket);
}

$('cad').addEventListener('click', () => rfb?.sendCtrlAltDel());
$('fit').addEventListener('change', () => {
  if (rfb) rfb.scaleViewport = $('fit').checked;
});
$('reconnect').addEventListener('click', () => void reconnect());
$('password-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const password = $('password').value;
  $('password').value = '';
  $('password-form').hidden = true;
  rfb?.sendCredentials({ password });
});

if (pendingTicket) {
  const t = pendingTicket;
  pendingTicket = null;
  connect(t);
} else if (ticketUrl) {
  void reconnect();
} else {
  setState('failed', 'This console link carries no ticket. Open the console again from the control panel.');
}
