// The eq module's actions and their parameters, exactly as the seed (seeds/000) documents them, as zod schemas.
import { z } from 'zod';
import { flagParam, intParam, pageQuery } from '../params.js';
import { strongRootPasswordSchema } from '../../boot/templates/value-schemas.js';
import { BOOT_VIA } from '../../domain/server.js';

const str = (max = 255) => z.string().max(max);
const base = { action: z.string(), token: z.string().optional() };
const withId = { ...base, id: intParam };

/** Parameters the seed lists for create_pxe / reinstall / order_instance that rackhand keeps with the task. */
const deployExtras = {
  email: str(254).optional(),
  deploy_ticket: str().optional(),
  deploy_data: str(4096).optional(),
  deploy_options: str(4096).optional(),
  deploy_period: str(64).optional(),
  deploy_price: z.union([intParam, str(32)]).optional(),
  deploy_notify: intParam.optional(),
  deploy_comment: str(4096).optional(),
  reinstall_key: str().optional(),
  manual_choice_dsk: z.union([intParam, str(64)]).optional(),
  imitate_deploy: flagParam.optional(),
  imitate_error: flagParam.optional(),
  own_os: intParam.optional(),
  jenkins_task: str().optional(),
  jenkins_tests: intParam.optional(),
  traffic_plan: intParam.optional(),
  location_name: str(128).optional(),
  invoice_relid: intParam.optional(),
  activate_windows: z.union([intParam, str(8)]).optional(),
  attendedInstall: z.union([intParam, str(8)]).optional(),
  option: z.union([intParam, str()]).optional(),
  value: z.union([intParam, str()]).optional(),
  params: z.unknown().optional(),
  config: z.union([intParam, str()]).optional(),
  server_name: str().optional(),
  log_line: str(4096).optional(),
  kvm: str().optional(),
  white_ip: str(64).optional(),
  name: str().optional(),
  description: str(4096).optional(),
  size: str(64).optional(),
  groups: z.unknown().optional(),
  rack: str(64).optional(),
  rack_position: intParam.optional(),
  ip: str(64).optional(),
  promocode: str(64).optional(),
  full: z.union([intParam, str(8)]).optional(),
  type: str(64).optional(),
  vlan: str(64).optional(),
  key: str().optional(),
  new_id: intParam.optional(),
  new_interface_id: intParam.optional(),
  dont_move_ip: intParam.optional(),
  map_interface: intParam.optional(),
  free_ips: intParam.optional(),
  create_kayako_ticket: intParam.optional(),
  kayako_ticket_text: str(4096).optional(),
  ticket: str().optional(),
  limit: intParam.optional(),
  tags_replace_confirmed: intParam.optional(),
  ipv4_amount: intParam.optional(),
  currency_code: str(8).optional(),
  os_template: str().optional(),
  soft_id: intParam.optional(),
};

/** What every install-type action needs, beside its extras. */
const installCore = {
  os_id: intParam,
  os_name: str(128).optional(),
  root_pass: z.string().min(1).max(256),
  hostname: str(253).optional(),
  ssh_key: str(16384).optional(),
  post_install_script: str(65536).optional(),
  post_install_callback: str(2048).optional(),
  disk_mirror: z.union([intParam, str(16)]).optional(),
  uefi: flagParam.optional(),
  root_size: intParam.optional(),
  custom_domain: str(253).optional(),
  cloud_init_script: str(65536).optional(),
  no_lvm: z.union([flagParam, str(8)]).optional(),
};

export const EQ_PARAMS = {
  list: z
    .object({
      ...base,
      id: intParam.optional(),
      location: z.union([intParam, str(128)]).optional(),
      full: flagParam.optional(),
      type: str(64).optional(),
      group: str(128).optional(),
      status: str(32).optional(),
      ip: str(64).optional(),
      ...pageQuery,
    })
    .strict(),
  show: z.object(withId).strict(),
  status: z.object(withId).strict(),
  update_servers: z.object({ ...base, ...pageQuery }).strict(),
  on: z.object(withId).strict(),
  off: z.object(withId).strict(),
  reboot: z.object(withId).strict(),
  boot_dev: z
    .object({ ...withId, media: z.enum(['pxe', 'disk']), boot_mode: z.enum(['uefi', 'legacy', 'auto']).optional() })
    .strict(),
  sensors: z.object(withId).strict(),
  add_ipmi_user: z
    .object({ ...withId, admin_user: str(16).optional(), admin_pass: z.string().max(20).optional() })
    .strict()
    .refine((p) => p.admin_pass === undefined || p.admin_user !== undefined, {
      message: 'admin_pass needs admin_user',
      path: ['admin_pass'],
    }),
  remove_ipmi_user: z.object({ ...withId, username: str(16).min(1) }).strict(),
  unit_reset: z.object(withId).strict(),
  create_pxe: z.object({ ...withId, ...deployExtras, ...installCore }).strict(),
  clear_pxe: z.object({ ...withId, hostname: str(253).optional() }).strict(),
  reinstall: z
    .object({
      ...withId,
      ...deployExtras,
      ...installCore,
      root_pass: strongRootPasswordSchema.pipe(z.string().max(256)),
      /** rackhand's own (the seed names none): pxe, virtual_media or http; default the server's boot_via. */
      boot_via: z.enum(BOOT_VIA).optional(),
    })
    .strict(),
  order_instance: z
    .object({
      ...base,
      ...deployExtras,
      ...installCore,
      id: intParam.optional(),
      preset: str(128).optional(),
      location_name: str(128),
    })
    .strict(),
  novnc: z.object({ ...withId, white_ip: str(64).optional() }).strict(),
  recreate_novnc: z.object(withId).strict(),
  stop_novnc: z.object(withId).strict(),
} as const;

export type EqActionName = keyof typeof EQ_PARAMS;
export type EqParams<A extends EqActionName> = z.infer<(typeof EQ_PARAMS)[A]>;
