// A face (or a plane's router) over a real loopback HTTP server, with a given (partial) core and principal: for
// unit tests of one route table without the whole agent.
import type { AddressInfo } from 'node:net';
import type { Principal } from '../../src/auth/tokens.js';
import type { Core } from '../../src/core/core.js';
import { createHttpServer, type RouterFace } from '../../src/api/http-server.js';
import type { Face } from '../../src/api/face.js';
import { createLogger } from '../../src/log.js';

export interface FaceServer {
  url: string;
  request(path: string, init?: RequestInit): Promise<{ status: number; json: any; text: string; headers: Headers }>;
  close(): Promise<void>;
}

export async function serveFaces(faces: (Face | RouterFace)[], o: { core?: Partial<Core>; principal?: Principal; authenticate?: (req: any) => Principal } = {}): Promise<FaceServer> {
  const principal = o.principal ?? { tokenId: 1, name: 'test', role: 'admin', ownerId: null };
  const { server } = createHttpServer({
    log: createLogger({ level: 'silent' }),
    version: 'test',
    ready: () => true,
    core: (o.core ?? {}) as Core,
    authenticate: o.authenticate ?? (() => principal),
    bodyLimit: 1 << 20,
    importBodyLimit: 8 << 20,
    faces,
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    async request(path, init) {
      const res = await fetch(url + path, init);
      const text = await res.text();
      let json: any;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, json, text, headers: res.headers };
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
