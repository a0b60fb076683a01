/**
 * build(t): the real app over a real engine, with known tokens, closed after the test.
 * Requests go through supertest against the app's own server.
 */
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import supertest from 'supertest';
import { VpnEngine, type FeatureSupport } from '../../src/engine/engine.js';
import type { KillSwitch } from '../../src/engine/kill-switch.js';
import { describeFeatures, featureSupport } from '../../src/engine/features.js';
import { buildApp } from '../../src/http/app.js';
import { loadSpec } from '../../src/http/spec.js';
import { probeHost } from '../../src/system/host.js';
import { TokenStore, hashToken, type Privilege } from '../../src/tokens/token-store.js';
import { testRoutesAndDns, type TestRoutesAndDns } from './routes-dns.js';

export const TOKENS = {
  admin: 'test-admin-token',
  vpnservice: 'test-vpnservice-only',
  internet: 'test-internet-only',
} as const;

const spec = loadSpec();

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
  engine: VpnEngine;
  request: supertest.Agent;
  /** Issue 3: routes and DNS (file backend on a temp resolv.conf). */
  routesDns: TestRoutesAndDns;
  /** supertest with the admin token already set */
  admin: {
    get(url: string): supertest.Test;
    post(url: string): supertest.Test;
    patch(url: string): supertest.Test;
    put(url: string): supertest.Test;
    delete(url: string): supertest.Test;
  };
}

export interface BuildOptions {
  support?: FeatureSupport;
  /** A kill switch of the test's own (e.g. one that sees no default route). */
  killSwitch?: (engine: VpnEngine) => KillSwitch;
}

export async function build(t: TestContext, opts: BuildOptions = {}): Promise<Built> {
  const probe = await probeHost();
  const engine = new VpnEngine(opts.support ?? featureSupport(probe), silentLog);
  const routesDns = await testRoutesAndDns(t, engine);
  const app = await buildApp({
    context: {
      engine,
      features: async () => describeFeatures(probe, routesDns.dns.backend.name),
      spec,
      startedAt: Date.now(),
      routes: routesDns.routes,
      dns: routesDns.dns,
      ...(opts.killSwitch ? { killSwitch: opts.killSwitch(engine) } : {}),
    },
    tokens: testTokenStore(),
  });
  await app.ready();
  t.after(async () => {
    await app.close();
    await engine.close();
  });
  const request = supertest.agent(app.server);
  const auth = `Bearer ${TOKENS.admin}`;
  const admin = {
    get: (url: string) => supertest(app.server).get(url).set('authorization', auth),
    post: (url: string) => supertest(app.server).post(url).set('authorization', auth),
    patch: (url: string) => supertest(app.server).patch(url).set('authorization', auth),
    put: (url: string) => supertest(app.server).put(url).set('authorization', auth),
    delete: (url: string) => supertest(app.server).delete(url).set('authorization', auth),
  };
  return { app, engine, request, admin, routesDns };
}

/** build(t) with a VPN interface created, addressed and applied: what routes and DNS need. */
export async function buildWithInterface(t: TestContext, name: string, localIp: string, remoteIp: string): Promise<Built> {
  const built = await build(t);
  await built.admin.post('/interfaces').send({ name }).expect(201);
  await built.admin.patch(`/interfaces/${name}`).send({ localIp, remoteIp }).expect(200);
  await built.admin.post(`/interfaces/${name}/apply`).expect(200);
  return built;
}
