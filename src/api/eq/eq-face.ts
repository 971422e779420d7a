// The eq face (seeds/000): POST /api/eq (or /api/eq.php; GET for reads), form or JSON, `action` picks a row of
// this table; every row is the seed's parameters → one core call → the seed's answer shape.
import type { Request } from 'express';
import type { z } from 'zod';
import { RackhandError, errorBody } from '../../errors.js';
import type { Principal } from '../../auth/tokens.js';
import type { Core } from '../../core/core.js';
import type { InstallRequest } from '../../core/deploys.js';
import type { TaskRecord } from '../../store/repos/tasks-repo.js';
import { parseInput } from '../../core/validate.js';
import type { Face } from '../face.js';
import { intParam } from '../params.js';
import { EQ_PARAMS, type EqActionName, type EqParams } from './eq-params.js';
import { eqBillingServer, eqFullListItem, eqListItem, eqShow, eqStatus } from './eq-shapes.js';
import { pageFrom } from '../params.js';

interface EqAction<A extends EqActionName> {
  /** Central may call reads with GET. */
  read?: boolean;
  handler(x: { core: Core; principal: Principal; params: EqParams<A> }): unknown;
}

const taskReply = (t: TaskRecord) => ({ id: t.serverId, task: t.id, state: t.state });

/** The install parameters every install-type action shares, onto the core's request; the rest is recorded only. */
function installRequest(x: EqParams<'create_pxe' | 'reinstall' | 'order_instance'>): InstallRequest {
  const {
    action: _a, token: _t, id: _id, os_id, os_name, root_pass, uefi, post_install_callback, imitate_deploy, imitate_error,
    hostname, ssh_key, post_install_script, cloud_init_script, disk_mirror, root_size, custom_domain, no_lvm, manual_choice_dsk, boot_via,
    ...extra
  } = x as EqParams<'reinstall'>;
  return {
    os: os_id,
    osName: os_name,
    rootPassword: root_pass,
    uefi: uefi ?? false,
    postInstallCallback: post_install_callback,
    imitate: imitate_error ? 'error' : imitate_deploy ? 'deploy' : undefined,
    bootVia: boot_via,
    settings: {
      hostname,
      ssh_key,
      post_install_script,
      cloud_init_script,
      disk_mirror: disk_mirror === undefined ? undefined : Number(disk_mirror) || 0,
      root_size,
      custom_domain,
      no_lvm: no_lvm === undefined ? undefined : no_lvm === true || no_lvm === '1' || no_lvm === 'true' || no_lvm === 'yes',
      // The disk's serial for an image deploy; the seed's int form sends 0 for "no manual choice" (the largest disk).
      manual_choice_dsk: manual_choice_dsk === undefined || String(manual_choice_dsk) === '0' || manual_choice_dsk === '' ? undefined : String(manual_choice_dsk),
    },
    // os_name picks the OS only when os_id names none; it is kept with the task either way.
    extra: Object.fromEntries(Object.entries({ ...extra, os_name }).filter(([, v]) => v !== undefined)),
  };
}

export const EQ_ACTIONS: { [A in EqActionName]: EqAction<A> } = {
  list: {
    read: true,
    handler: ({ core, principal, params: x }) => {
      const page = pageFrom(x);
      const { list, total } = core.views.list(
        principal,
        { id: x.id, location: x.location === undefined ? undefined : String(x.location), type: x.type, group: x.group, status: x.status, ip: x.ip },
        page,
      );
      return { list: x.full ? list.map(eqFullListItem) : list.map(eqListItem), total, ...page };
    },
  },
  show: { read: true, handler: ({ core, principal, params }) => eqShow(core.views.show(principal, params.id)) },
  status: { read: true, handler: ({ core, principal, params }) => eqStatus(core.servers.show(principal, params.id)) },
  update_servers: {
    handler: ({ core, principal, params }) => {
      const page = pageFrom(params);
      const { list, total } = core.views.billed(principal, page);
      return {
        servers: list.map((v) => v.server.id),
        billing_servers: list.map((v) => eqBillingServer(v.server)),
        // Servers being installed now, each with its reinstall_key (the task id when the order gave none).
        deploy_keys: Object.fromEntries(list.filter((v) => v.deploy?.purpose === 'install').map((v) => [String(v.server.id), v.deploy!.key])),
        total,
        ...page,
      };
    },
  },
  on: { handler: ({ core, principal, params }) => taskReply(core.power.power(principal, params.id, 'on')) },
  off: { handler: ({ core, principal, params }) => taskReply(core.power.power(principal, params.id, 'off')) },
  reboot: { handler: ({ core, principal, params }) => taskReply(core.power.power(principal, params.id, 'reboot')) },
  boot_dev: {
    handler: ({ core, principal, params: x }) =>
      taskReply(core.power.bootDevice(principal, x.id, { device: x.media, mode: x.boot_mode ?? 'auto', persistent: x.media === 'disk' })),
  },
  sensors: {
    read: true,
    handler: async ({ core, principal, params }) => {
      const { task, sensors } = await core.power.sensors(principal, params.id);
      return { id: params.id, task: task.id, read_at: task.finishedAt, sensors };
    },
  },
  add_ipmi_user: {
    handler: ({ core, principal, params: x }) => {
      // The seed: admin_user names an administrator account (only where the server has the admin_ipmi tag).
      const r = core.power.addUser(principal, x.id, { name: x.admin_user, password: x.admin_pass, privilege: x.admin_user ? 'administrator' : 'operator' });
      // The one and only time these credentials are shown.
      return { ...taskReply(r.task), username: r.username, password: r.password, privilege: r.privilege };
    },
  },
  remove_ipmi_user: { handler: ({ core, principal, params }) => taskReply(core.power.removeUser(principal, params.id, params.username)) },
  unit_reset: { handler: ({ core, principal, params }) => taskReply(core.power.resetBmc(principal, params.id, 'cold')) },
  create_pxe: { handler: ({ core, principal, params }) => taskReply(core.deploys.createPxe(principal, params.id, installRequest(params))) },
  clear_pxe: { handler: ({ core, principal, params }) => taskReply(core.deploys.clearPxe(principal, params.id, params.hostname)) },
  reinstall: { handler: ({ core, principal, params }) => taskReply(core.deploys.reinstall(principal, params.id, installRequest(params))) },
  order_instance: {
    handler: ({ core, principal, params }) => {
      const { email, preset, location_name, id, ...rest } = params;
      const r = core.deploys.orderInstance(principal, { ...installRequest(rest as typeof params), id, preset, locationName: location_name, ownerEmail: email });
      return { id: r.serverId, task: r.task.id, state: r.task.state };
    },
  },
  novnc: { handler: ({ core, principal, params }) => ({ id: params.id, ...core.consoles.open(principal, params.id, params.white_ip) }) },
  recreate_novnc: { handler: ({ core, principal, params }) => ({ id: params.id, ...core.consoles.recreate(principal, params.id) }) },
  stop_novnc: { handler: ({ core, principal, params }) => ({ id: params.id, ...core.consoles.stop(principal, params.id) }) },
};

function isEqAction(a: string): a is EqActionName {
  return Object.prototype.hasOwnProperty.call(EQ_ACTIONS, a);
}

/** The action a request names (for the error envelope too). */
function actionOf(req: Request): string {
  const body = (req as { parsedBody?: { value: unknown } }).parsedBody?.value as Record<string, unknown> | undefined;
  const a = (req.method === 'POST' && body && typeof body === 'object' ? body.action : undefined) ?? (req.query as Record<string, unknown>).action;
  return typeof a === 'string' ? a.slice(0, 64) : '';
}

async function dispatch({ core, principal, req }: { core: Core; principal: Principal; req: Request }): Promise<unknown> {
  const body = (req as { parsedBody?: { value: unknown } }).parsedBody?.value;
  const input = { ...(req.query as object), ...(req.method === 'POST' && body && typeof body === 'object' ? (body as object) : {}) } as Record<string, unknown>;
  const action = actionOf(req);
  if (!action) throw new RackhandError('INVALID_INPUT', 'action: required', { field: 'action' });
  if (!isEqAction(action)) throw new RackhandError('UNKNOWN_ACTION', `unknown eq action "${action}"`, { field: 'action' });
  const row = EQ_ACTIONS[action] as EqAction<typeof action>;
  if (req.method === 'GET' && !row.read) throw new RackhandError('INVALID_INPUT', `eq ${action} must be called with POST`, { field: 'action' });
  const params = parseInput(EQ_PARAMS[action] as z.ZodType<EqParams<typeof action>>, input);
  return { result: 'OK', module: 'eq', action, ...(await row.handler({ core, principal, params })) as object };
}

const paths = ['/api/eq', '/api/eq.php'];

export const eqFace: Face = {
  name: 'eq',
  prefixes: paths,
  endpoints: paths.flatMap((path) =>
    (['GET', 'POST'] as const).map((method) => ({
      method,
      path,
      summary: 'The eq module: `action` names the operation (seeds/000)',
      tag: 'eq',
      handler: dispatch,
    })),
  ),
  errorBody: (err, req) => ({ result: 'ERROR', module: 'eq', action: actionOf(req), ...errorBody(err) }),
  // For the audit log: the action, the server its `id` names, and whether the action only reads.
  operationOf: (req) => {
    const action = actionOf(req);
    const body = (req as { parsedBody?: { value: unknown } }).parsedBody?.value as Record<string, unknown> | undefined;
    const id = intParam.safeParse(body && typeof body === 'object' && 'id' in body ? body.id : (req.query as Record<string, unknown>).id);
    return { action, serverId: id.success ? id.data : undefined, read: isEqAction(action) && EQ_ACTIONS[action].read === true };
  },
};
