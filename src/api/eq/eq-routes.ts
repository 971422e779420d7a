// The eq facade: POST /api/eq (GET for reads), form or JSON, `{result:"OK"|"ERROR", module, action, …}`.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RackhandError } from '../../errors.js';
import type { Principal } from '../../auth/tokens.js';
import type { InventoryService } from '../../core/inventory-service.js';
import { parseInput } from '../../core/validate.js';
import { errorBody, httpError } from '../errors-to-http.js';
import { EQ_ACTIONS, EQ_GET_ACTIONS, isEqAction, type EqAction, type EqParams } from './eq-actions.js';
import { eqListItem, eqShow, eqStatus } from './eq-shapes.js';

type Handler<A extends EqAction> = (p: Principal, params: EqParams<A>) => Promise<Record<string, unknown>> | Record<string, unknown>;
export type EqHandlers = { [A in EqAction]: Handler<A> };

export interface EqDeps {
  inventory: InventoryService;
  authenticate(req: FastifyRequest): Principal;
  /** Handlers for actions whose backends are wired by the agent (power, boot, consoles…). */
  operations: Partial<EqHandlers>;
}

const notImplemented = (action: string) => () => {
  throw new RackhandError('NOT_IMPLEMENTED', `eq ${action} is not implemented by this rackhand yet`);
};

export function eqHandlers(d: EqDeps): EqHandlers {
  const base: EqHandlers = {
    list: (p, x) => {
      const { servers, total } = d.inventory.list(p, {
        id: x.id,
        location: x.location === undefined ? undefined : String(x.location),
        type: x.type,
        group: x.group,
        status: x.status,
        ip: x.ip,
      });
      return { list: servers.map((s) => (x.full ? { ...eqListItem(s), ...eqShow(s) } : eqListItem(s))), total };
    },
    show: (p, x) => eqShow(d.inventory.show(p, x.id)),
    status: (p, x) => eqStatus(d.inventory.show(p, x.id)),
    update_servers: (p) => {
      const servers = d.inventory.updateServers(p);
      return {
        servers: servers.map((s) => s.id),
        billing_servers: servers.map((s) => ({
          id: s.id,
          config: s.configuration,
          status: s.status,
          regdate: s.createdAt.slice(0, 10),
          name: s.name,
        })),
        deploy_keys: {},
      };
    },
    on: notImplemented('on'),
    off: notImplemented('off'),
    reboot: notImplemented('reboot'),
    boot_dev: notImplemented('boot_dev'),
    sensors: notImplemented('sensors'),
    add_ipmi_user: notImplemented('add_ipmi_user'),
    remove_ipmi_user: notImplemented('remove_ipmi_user'),
    unit_reset: notImplemented('unit_reset'),
    create_pxe: notImplemented('create_pxe'),
    clear_pxe: notImplemented('clear_pxe'),
    reinstall: notImplemented('reinstall'),
    order_instance: notImplemented('order_instance'),
    novnc: notImplemented('novnc'),
    recreate_novnc: notImplemented('recreate_novnc'),
    stop_novnc: notImplemented('stop_novnc'),
  };
  return { ...base, ...d.operations } as EqHandlers;
}

export function registerEqRoutes(app: FastifyInstance, d: EqDeps): void {
  const handlers = eqHandlers(d);
  const serve = async (req: FastifyRequest, reply: FastifyReply) => {
    const input = { ...((req.query as object) ?? {}), ...(req.method === 'POST' && req.body && typeof req.body === 'object' ? (req.body as object) : {}) } as Record<string, unknown>;
    const action = typeof input.action === 'string' ? input.action : '';
    try {
      if (!action) throw new RackhandError('INVALID_INPUT', 'action: required', { field: 'action' });
      if (!isEqAction(action)) throw new RackhandError('UNKNOWN_ACTION', `unknown eq action "${action.slice(0, 64)}"`, { field: 'action' });
      if (req.method === 'GET' && !EQ_GET_ACTIONS.has(action)) {
        throw new RackhandError('INVALID_INPUT', `eq ${action} must be called with POST`, { field: 'action' });
      }
      const principal = d.authenticate(req);
      const params = parseInput(EQ_ACTIONS[action], input);
      const out = await (handlers[action] as Handler<typeof action>)(principal, params as never);
      return reply.send({ result: 'OK', module: 'eq', action, ...out });
    } catch (e) {
      const err = httpError(e);
      if (err.status >= 500) req.log.error({ err: e }, 'eq action failed');
      return reply.code(err.status).send({ result: 'ERROR', module: 'eq', action, ...errorBody(err) });
    }
  };
  app.post('/api/eq', serve);
  app.get('/api/eq', serve);
}
