// The real agent in-process for IPAM e2e tests: a temp state dir, HTTP on 127.0.0.1:0, no background loops.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createAgent } from '../../src/agent.js';
import { parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';

export async function startIpamServer() {
  const dir = mkdtempSync(path.join(tmpdir(), `rh-ipam-${process.pid}-`));
  const agent = await createAgent(
    parseConfig({ stateDir: dir, http: { listen: '127.0.0.1:0', importBodyLimitBytes: 8 << 20 }, bmc: { allowSimulated: true, sync: { enabled: false } }, sensors: { enabled: false } }),
    { log: createLogger({ level: 'silent' }) },
  );
  const { url } = await agent.start();
  return {
    url,
    db: agent.db,
    ipam: agent.core.ipam,
    content: agent.parts.content,
    servers: agent.repos.servers,
    users: agent.repos.users,
    tokens: agent.repos.tokens,
    async stop() {
      await agent.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
