// HTTP boot: per-host iPXE scripts, install configs, the installer callback, images with Range support, and the iPXE binaries for UEFI HTTP boot.
// These routes are for booting hosts, not API clients: no token; each is scoped by MAC + address or a
// per-install token.
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RackhandError } from '../../errors.js';
import { normaliseMac } from '../../inventory/server-schema.js';
import { errorBody, httpError } from '../../api/errors-to-http.js';
import type { NetbootService } from '../netboot-service.js';
import type { InstallConfigKind } from '../templates/index.js';

const CONFIG_KINDS: Record<string, InstallConfigKind> = {
  preseed: 'preseed',
  kickstart: 'kickstart',
  'user-data': 'user-data',
  'meta-data': 'meta-data',
};

function remoteOf(req: FastifyRequest): string {
  const a = req.socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

async function guarded(reply: FastifyReply, fn: () => Promise<unknown> | unknown): Promise<unknown> {
  try {
    return await fn();
  } catch (e) {
    const err = httpError(e);
    return reply.code(err.status).type('application/json').send(errorBody(err));
  }
}

/**
 * `bootFile(name)` gives the bytes of a configured boot file (boot.bootFiles, read from the TFTP roots as
 * the TFTP server serves them), undefined for any other name.
 */
export function registerBootRoutes(
  app: FastifyInstance,
  netboot: NetbootService,
  imagesDir: string,
  bootFile: (name: string) => Buffer | undefined = () => undefined,
): void {
  // UEFI HTTP boot: the URL the DHCP server hands to HTTPClient firmware. Only configured names exist here.
  app.get('/boot/files/:name', (req, reply) =>
    guarded(reply, () => {
      const name = (req.params as { name: string }).name;
      const data = bootFile(name);
      if (!data) throw new RackhandError('NOT_FOUND', 'no such boot file');
      // EDK2 recognises an EFI image by this type (else by the .efi extension).
      return reply
        .type(name.toLowerCase().endsWith('.efi') ? 'application/efi' : 'application/octet-stream')
        .header('cache-control', 'no-store')
        .send(data);
    }),
  );

  app.get('/boot/ipxe/:mac', (req, reply) =>
    guarded(reply, () => {
      const mac = normaliseMac((req.params as { mac: string }).mac);
      if (!mac) throw new RackhandError('INVALID_INPUT', 'not a MAC address', { field: 'mac' });
      const { script } = netboot.hostScript(mac, remoteOf(req));
      return reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(script);
    }),
  );

  app.get('/boot/install/:token/:kind', (req, reply) =>
    guarded(reply, () => {
      const { token, kind } = req.params as { token: string; kind: string };
      const k = CONFIG_KINDS[kind];
      if (!k) throw new RackhandError('NOT_FOUND', `no install config named ${kind.slice(0, 32)}`);
      return reply.type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(netboot.installConfig(token, k));
    }),
  );

  const callback = (req: FastifyRequest, reply: FastifyReply) =>
    guarded(reply, () => {
      const nb = netboot.callback((req.params as { token: string }).token);
      return { ok: true, server: nb.serverId };
    });
  app.get('/boot/callback/:token', callback);
  app.post('/boot/callback/:token', callback);

  app.get('/boot/images/*', (req, reply) => guarded(reply, () => serveImage(req, reply, imagesDir)));
}

/** Stream a file under `root`, honouring a single Range; anything outside the root is not found. */
async function serveImage(req: FastifyRequest, reply: FastifyReply, root: string): Promise<unknown> {
  const rel = (req.params as { '*': string })['*'];
  if (!rel || rel.includes('\0') || rel.split('/').some((seg) => seg === '..' || seg === '.')) {
    throw new RackhandError('NOT_FOUND', 'no such image');
  }
  const rootReal = await fs.realpath(root).catch(() => undefined);
  const file = rootReal && (await fs.realpath(path.join(rootReal, rel)).catch(() => undefined));
  if (!rootReal || !file || !file.startsWith(rootReal + path.sep)) throw new RackhandError('NOT_FOUND', 'no such image');
  const st = await fs.stat(file);
  if (!st.isFile()) throw new RackhandError('NOT_FOUND', 'no such image');
  reply.header('accept-ranges', 'bytes').header('last-modified', st.mtime.toUTCString()).type('application/octet-stream');
  const range = req.headers.range;
  if (range) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    let start = m && m[1] !== '' ? Number(m[1]) : NaN;
    let end = m && m[2] !== '' ? Number(m[2]) : st.size - 1;
    if (m && m[1] === '' && m[2] !== '') {
      start = Math.max(0, st.size - Number(m[2]));
      end = st.size - 1;
    }
    if (!m || Number.isNaN(start) || start > end || start >= st.size) {
      return reply.code(416).header('content-range', `bytes */${st.size}`).send();
    }
    end = Math.min(end, st.size - 1);
    reply.code(206).header('content-range', `bytes ${start}-${end}/${st.size}`).header('content-length', end - start + 1);
    return reply.send(createReadStream(file, { start, end }));
  }
  reply.header('content-length', st.size);
  return reply.send(createReadStream(file));
}
