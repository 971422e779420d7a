// post_install_callback: tells central control how a deploy ended (success or failure, with the reason), POSTed
// as JSON, signed with HMAC-SHA256 so the receiver can trust it, retried with backoff. Only to allowed hosts.
import { createHmac } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RackhandError } from '../errors.js';
import type { Principal } from '../auth/tokens.js';

export interface CallbackSettings {
  /** Hosts (name or address, optional :port; `*` for any) post_install_callback may point at. */
  allowedHosts: string[];
  /** Attempts before giving up (the task notes it; the deploy's own result stands). */
  attempts: number;
  /** First retry delay; doubles per attempt. */
  backoffMs: number;
}

export interface CallbackOutcome {
  status: 'ok' | 'failed';
  osId: string;
  code?: string;
  reason?: string;
}

/** The label of the signing key derived from the site key (`rackhand callback-key` prints it for central). */
export const CALLBACK_KEY_LABEL = 'post_install_callback';

/** Header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>`. */
export const SIGNATURE_HEADER = 'x-rackhand-signature';

export function signCallback(key: Buffer, body: string, at = Math.floor(Date.now() / 1000)): string {
  return `t=${at},v1=${createHmac('sha256', key).update(`${at}.${body}`).digest('hex')}`;
}

export class PostInstallNotifier {
  constructor(
    private readonly key: Buffer,
    private readonly settings: CallbackSettings,
  ) {}

  /** At the edge: an http(s) URL to an allowed host, or an admin's say-so. INVALID_INPUT / FORBIDDEN otherwise. */
  check(p: Principal, url: string): string {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new RackhandError('INVALID_INPUT', 'post_install_callback: not a URL', { field: 'post_install_callback' });
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new RackhandError('INVALID_INPUT', 'post_install_callback: only http and https URLs are called', { field: 'post_install_callback' });
    }
    if (u.username || u.password) {
      throw new RackhandError('INVALID_INPUT', 'post_install_callback: credentials in the URL are not accepted', { field: 'post_install_callback' });
    }
    const allowed = this.settings.allowedHosts.some((h) => h === '*' || h === u.hostname || h === u.host);
    if (!allowed && p.role !== 'admin') {
      throw new RackhandError('FORBIDDEN', `post_install_callback: ${u.host} is not among central.callbackHosts; rackhand calls only configured hosts`, {
        field: 'post_install_callback',
      });
    }
    return u.toString();
  }

  /** POST the outcome; failures are noted in the task's journal, never fatal to the deploy. */
  async notify(
    ctx: { taskId: number; serverId: number | null; note(n: string, m: string): void },
    url: string,
    outcome: CallbackOutcome,
  ): Promise<boolean> {
    const body = JSON.stringify({ server_id: ctx.serverId, task: ctx.taskId, os_id: outcome.osId, status: outcome.status, code: outcome.code, reason: outcome.reason });
    let delay = this.settings.backoffMs;
    let last = '';
    for (let attempt = 1; attempt <= this.settings.attempts; attempt++) {
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signCallback(this.key, body) },
          body,
          redirect: 'error',
          signal: AbortSignal.timeout(10_000),
        });
        if (res.ok) {
          ctx.note('post_install_callback', `delivered (${outcome.status}, HTTP ${res.status}, attempt ${attempt})`);
          return true;
        }
        last = `HTTP ${res.status}`;
      } catch (e) {
        last = (e as Error).message;
      }
      if (attempt < this.settings.attempts) {
        await sleep(delay);
        delay *= 2;
      }
    }
    ctx.note('post_install_callback', `not delivered after ${this.settings.attempts} attempts: ${last}`);
    return false;
  }
}
