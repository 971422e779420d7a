// The console's HTTP side: the noVNC page and its files, and the page's ticket refresh (the session key in the
// path is the credential: no API token ever reaches the browser).
import express, { type NextFunction, type Request, type Response } from 'express';
import { errorBody, toRackhandError } from '../errors.js';
import { consolePageRouter, type ConsolePageOptions } from './console-page.js';
import { normalizeAddress } from './ip-allow-list.js';

export function consoleRoutes(
  o: ConsolePageOptions & { basePath: string; refreshTicket(key: string, remote: string): string },
): { name: string; router: express.Router } {
  const router = express.Router();
  router.post(`${o.basePath}/sessions/:key/ticket`, (req: Request, res: Response) => {
    const ticket = o.refreshTicket(String(req.params.key), normalizeAddress(req.socket.remoteAddress ?? ''));
    res.set('cache-control', 'no-store').json({ ticket });
  });
  router.use(consolePageRouter({ ...o, basePath: o.basePath }));
  router.use(o.basePath, (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const e = toRackhandError(err);
    res.status(e.status).set('cache-control', 'no-store').json(errorBody(e));
  });
  return { name: 'console', router };
}
