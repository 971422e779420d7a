// /api/v1/switches: register the site's switches and their SNMP credentials (write-only, shown as set / not set).
import { z } from 'zod';
import { can } from '../../auth/tokens.js';
import { assertAllowed } from '../../core/access.js';
import { RackhandError } from '../../errors.js';
import type { SwitchesRepo, SwitchInfo } from '../../switch/switches-repo.js';
import { route, type RouteSpec } from '../route-table.js';

export interface V1SwitchDeps {
  switches: SwitchesRepo;
}

const text = (max: number) => z.string().max(max).regex(/^[^\x00-\x1f\x7f]*$/, 'control characters are not allowed');
const secret = (min: number) => z.string().min(min).max(64).regex(/^[^\x00-\x1f\x7f]*$/, 'control characters are not allowed');

/** `host:port`, `[v6]:port`, a bare host name or address (port 161). */
export function parseSwitchAddress(address: string): { host: string; port: number } | undefined {
  const m = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(address) ?? /^([0-9A-Za-z.\-]+)(?::(\d{1,5}))?$/.exec(address);
  const bareV6 = /^[0-9a-fA-F:]+$/.test(address) && address.includes(':') && address.split(':').length > 2;
  if (bareV6) return { host: address, port: 161 };
  if (!m) return undefined;
  const port = m[2] === undefined ? 161 : Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1], port };
}

const switchBody = z
  .object({
    name: text(128).min(1),
    address: z.string().max(270).transform((v, ctx) => {
      const a = parseSwitchAddress(v);
      if (!a) {
        ctx.addIssue({ code: 'custom', message: 'expected host, host:port or [ipv6]:port' });
        return z.NEVER;
      }
      return a;
    }),
    version: z.enum(['v2c', 'v3']).default('v2c'),
    community: secret(1).optional(),
    user: text(32).min(1).optional(),
    auth_protocol: z.literal('sha').optional(),
    auth_key: secret(8).optional(),
    priv_protocol: z.literal('aes').optional(),
    priv_key: secret(8).optional(),
    note: text(1024).optional(),
  })
  .strict();

export function v1Switch(s: SwitchInfo) {
  return {
    id: s.id,
    name: s.name,
    address: `${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`,
    version: s.version,
    community: s.communitySet ? 'set' : 'not set',
    user: s.v3User,
    auth_protocol: 'sha',
    auth_key: s.authKeySet ? 'set' : 'not set',
    priv_protocol: 'aes',
    priv_key: s.privKeySet ? 'set' : 'not set',
    note: s.note,
    created_at: s.createdAt,
    updated_at: s.updatedAt,
  };
}

export function v1SwitchRoutes(d: V1SwitchDeps): RouteSpec[] {
  const nameParams = z.object({ name: text(128).min(1) }).strict();
  return [
    route({
      method: 'GET',
      url: '/api/v1/switches',
      summary: 'List switches (credentials shown as set / not set)',
      tag: 'switches',
      handler: ({ principal }) => {
        assertAllowed(can.seeAllServers(principal), 'list switches');
        const list = d.switches.list().map(v1Switch);
        return { switches: list, total: list.length };
      },
    }),
    route({
      method: 'GET',
      url: '/api/v1/switches/:name',
      summary: 'One switch',
      tag: 'switches',
      params: nameParams,
      handler: ({ principal, params }) => {
        assertAllowed(can.seeAllServers(principal), 'list switches');
        const s = d.switches.get(params.name);
        if (!s) throw new RackhandError('NOT_FOUND', `switch ${params.name} not found`, { name: params.name });
        return v1Switch(s);
      },
    }),
    route({
      method: 'POST',
      url: '/api/v1/switches',
      summary: 'Register or update a switch by name (SNMP v2c community, or v3 authPriv user with SHA/AES keys)',
      tag: 'switches',
      body: switchBody,
      handler: ({ principal, body, reply }) => {
        assertAllowed(can.manageInventory(principal), 'change switches');
        const { info, created } = d.switches.upsert({
          name: body.name,
          host: body.address.host,
          port: body.address.port,
          version: body.version,
          community: body.community,
          v3User: body.user,
          authKey: body.auth_key,
          privKey: body.priv_key,
          note: body.note,
        });
        reply.code(created ? 201 : 200);
        return v1Switch(info);
      },
    }),
    route({
      method: 'DELETE',
      url: '/api/v1/switches/:name',
      summary: 'Forget a switch',
      tag: 'switches',
      params: nameParams,
      handler: ({ principal, params }) => {
        assertAllowed(can.manageInventory(principal), 'change switches');
        if (!d.switches.delete(params.name)) throw new RackhandError('NOT_FOUND', `switch ${params.name} not found`, { name: params.name });
        return { deleted: params.name };
      },
    }),
  ];
}
