/**
 * build(t): the daemon's own house (composeDaemon) with test options: known tokens, the file
 * DNS backend on a resolv.conf in a temp directory (tests never touch the host's
 * /etc/resolv.conf; the test namespace shares the host's file system), every JSON response
 * checked against openapi.yaml before serialization, closed after the test.
 * Requests go through supertest against the app's own server.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import supertest from 'supertest';
import { type ComposeOptions, composeDaemon } from '../../src/daemon/compose.js';
import type { Vpnsvc } from '../../src/engine/vpnsvc.js';
import { hashToken, type Privilege, TokenStore } from '../../src/tokens/token-store.js';

export const TOKENS = {
  admin: 'test-admin-token',
  vpnservice: 'test-vpnservice-only',
  internet: 'test-internet-only',
} as const;

/** What a user's resolv.conf looks like before the VPN comes. */
export const USER_RESOLV_CONF = '# written by the user\nnameserver 192.168.1.1\nsearch home.lan\noptions edns0\n';

export const silentLog = { info: () => undefined, warn: () => undefined };

export function testTokenStore(): TokenStore {
  const entry = (id: keyof typeof TOKENS, privileges: Privilege[]) => ({ id, sha256: hashToken(TOKENS[id]), privileges });
  return TokenStore.fromEntries([
    entry('admin', ['vpnservice', 'internet']),
    entry('vpnservice', ['vpnservice']),
    entry('internet', ['internet']),
  ]);
}

export interface Built {
  app: FastifyInstance;
  vpnsvc: Vpnsvc;
  request: supertest.Agent;
  /** The resolv.conf the file backend manages in this test. */
  resolvConf: string;
  stateDir: string;
  /** supertest with the admin token already set */
  admin: {
    get(url: string): supertest.Test;
    post(url: string): supertest.Test;
    patch(url: string): supertest.Test;
    put(url: string): supertest.Test;
    delete(url: string): supertest.Test;
  };
}

export type BuildOptions = Partial<Pick<ComposeOptions, 'support' | 'defaultRoutes' | 'env'>>;

export async function build(t: TestContext, opts: BuildOptions = {}): Promise<Built> {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-app-'));
  const resolvConf = join(dir, 'resolv.conf');
  const stateDir = join(dir, 'state');
  writeFileSync(resolvConf, USER_RESOLV_CONF);
  let close = async (): Promise<void> => undefined;
  t.after(async () => {
    await close(); // deinit restores the resolver file first
    rmSync(dir, { recursive: true, force: true });
  });
  const daemon = await composeDaemon({
    env: opts.env ?? { VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: resolvConf },
    stateDir,
    tokens: testTokenStore(),
    checkResponses: true,
    ...(opts.support && { support: opts.support }),
    ...(opts.defaultRoutes && { defaultRoutes: opts.defaultRoutes }),
  });
  const { app, vpnsvc } = daemon;
  close = () => daemon.close();
  await app.ready();
  const request = supertest.agent(app.server);
  const auth = `Bearer ${TOKENS.admin}`;
  const admin = {
    get: (url: string) => supertest(app.server).get(url).set('authorization', auth),
    post: (url: string) => supertest(app.server).post(url).set('authorization', auth),
    patch: (url: string) => supertest(app.server).patch(url).set('authorization', auth),
    put: (url: string) => supertest(app.server).put(url).set('authorization', auth),
    delete: (url: string) => supertest(app.server).delete(url).set('authorization', auth),
  };
  return { app, vpnsvc, request, admin, resolvConf, stateDir };
}

/** build(t) with a VPN interface created, addressed and applied: what routes and DNS need. */
export async function buildWithInterface(t: TestContext, name: string, localIp: string, remoteIp: string): Promise<Built> {
  const built = await build(t);
  await built.admin.post('/interfaces').send({ name }).expect(201);
  await built.admin.patch(`/interfaces/${name}`).send({ localIp, remoteIp }).expect(200);
  await built.admin.post(`/interfaces/${name}/apply`).expect(200);
  return built;
}
