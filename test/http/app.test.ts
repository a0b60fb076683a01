/**
 * buildApp: plugins that name what they depend on, one route per operation of openapi.yaml with
 * its privileges, and a build that fails when a handler and the spec's operations do not pair.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fastifyWebsocket from '@fastify/websocket';
import Fastify from 'fastify';
import { buildApp } from '../../src/http/app.js';
import followersPlugin from '../../src/http/plugins/followers.js';
import metricsPlugin from '../../src/http/plugins/metrics.js';
import requestContextPlugin from '../../src/http/plugins/request-context.js';
import vpnsvcPlugin from '../../src/http/plugins/vpnsvc.js';
import { loadSpec, type Operation, type Spec } from '../../src/http/spec.js';
import { type Built, build, TOKENS, testTokenStore } from '../helpers/app.js';

const spec = loadSpec();
const auth = { authorization: `Bearer ${TOKENS.admin}` };

/** A URL of the operation with its path parameters filled in. */
const PARAMS: Record<string, string> = { name: 'vst9', address: '10.181.0.0', prefix: '16', server: '10.181.0.53', domain: 'corp.test' };
const urlOf = (op: Operation) => op.url.replace(/:(\w+)/g, (_, p: string) => PARAMS[p] ?? assert.fail(`no sample for :${p}`));

async function refusedDependency(register: (app: ReturnType<typeof Fastify>) => Promise<unknown>, missing: string, plugin: string) {
  const app = Fastify();
  await assert.rejects(
    (async () => {
      await register(app);
      await app.ready();
    })(),
    { code: 'FST_ERR_PLUGIN_DEPENDENCY_NOT_REGISTERED', message: `The dependency '${missing}' of plugin '${plugin}' is not registered` },
  );
}

describe('the app over the real spec', () => {
  let built: Built;
  const cleanups: Array<() => Promise<void>> = [];
  before(async () => {
    // Supported whatever the host: no test here creates an interface.
    built = await build({ after: (fn: () => Promise<void>) => void cleanups.push(fn) } as never, { support: { missing: () => [] } });
  });
  after(async () => {
    for (const fn of cleanups) await fn();
  });

  test('the plugins name their dependencies: a missing one fails with fastify-plugin’s error', async () => {
    const host = built.app.host;
    await refusedDependency((app) => app.register(followersPlugin).register(metricsPlugin), 'vpnsvc', 'metrics');
    await refusedDependency(
      (app) => app.register(vpnsvcPlugin, { vpnsvc: built.vpnsvc, spec, host }).register(metricsPlugin),
      'followers',
      'metrics',
    );
    await refusedDependency(
      (app) => app.register(vpnsvcPlugin, { vpnsvc: built.vpnsvc, spec, host }).register(requestContextPlugin),
      '@fastify/websocket',
      'request-context',
    );
    await refusedDependency((app) => app.register(fastifyWebsocket).register(requestContextPlugin), 'vpnsvc', 'request-context');
    for (const name of ['vpnsvc', 'followers', 'metrics', 'spec', 'host']) assert.ok(built.app.hasDecorator(name), name);
  });

  test('every operation of openapi.yaml is a route; each with privileges refuses a request without a token', async () => {
    assert.ok(spec.operations.length >= 29);
    for (const op of spec.operations) {
      assert.ok(built.app.hasRoute({ method: op.method, url: op.url }), `${op.operationId}: ${op.method} ${op.url}`);
      const res = await built.app.inject({ method: op.method, url: urlOf(op) });
      if (op.privileges) {
        assert.equal(res.statusCode, 401, `${op.operationId} without a token`);
        assert.equal(res.json().error, 'VPNSVC_ERROR_PERMISSION_DENIED');
      } else {
        // Without the body it requires (a login's token), a public operation is a 400, never a 401.
        assert.equal(res.statusCode, op.schema.body ? 400 : op.method === 'POST' ? 204 : 200, `${op.operationId} needs no token`);
      }
    }
    const yaml = await built.app.inject({ method: 'GET', url: '/openapi.yaml' });
    assert.equal(yaml.body, spec.text);
    assert.equal((await built.app.inject({ method: 'GET', url: '/docs' })).statusCode, 200);
  });

  test('an empty JSON body is no body; a packet body is at most 65535 bytes', async () => {
    const apply = await built.app.inject({
      method: 'POST',
      url: '/interfaces/vst9/apply',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '',
    });
    assert.equal(apply.statusCode, 404, 'not a JSON parse error: the missing interface is the answer');
    const packet = (bytes: number) =>
      built.app.inject({
        method: 'POST',
        url: '/interfaces/vst9/packets',
        headers: { ...auth, 'content-type': 'application/octet-stream' },
        payload: Buffer.alloc(bytes),
      });
    assert.equal((await packet(65535)).statusCode, 404);
    const tooLarge = await packet(65536);
    assert.equal(tooLarge.statusCode, 400);
    assert.match(tooLarge.json().message, /too large/);
  });

  test('an operation without a handler, or a handler without an operation, fails the build', async () => {
    const build = (s: Spec) => buildApp({ vpnsvc: built.vpnsvc, spec: s, host: built.app.host, tokens: testTokenStore() });
    const extra: Operation = {
      operationId: 'rebootHost' as Operation['operationId'],
      method: 'POST',
      url: '/reboot',
      path: '/reboot',
      privileges: ['vpnservice'],
      schema: {},
      bodyTypes: [],
    };
    await assert.rejects(build({ ...spec, operations: [...spec.operations, extra] }), {
      message: 'openapi.yaml operation rebootHost has no handler',
    });
    await assert.rejects(build({ ...spec, operations: spec.operations.filter((o) => o.operationId !== 'getMetrics') }), {
      message: 'handlers without an openapi.yaml operation: getMetrics',
    });
  });

  test('checkResponses: a body the response schema does not allow is a 500 that names the operation', async (t) => {
    const health = spec.operations.find((o) => o.operationId === 'getHealth')!;
    const strict: Operation = {
      ...health,
      schema: { ...health.schema, response: { 200: { type: 'object', required: ['nope'], properties: { nope: { type: 'string' } } } } },
    };
    const app = await buildApp({
      vpnsvc: built.vpnsvc,
      spec: { ...spec, operations: spec.operations.map((o) => (o === health ? strict : o)) },
      host: built.app.host,
      tokens: testTokenStore(),
      checkResponses: true,
    });
    t.after(() => app.close());
    const res = await app.inject({ method: 'GET', url: '/health' });
    assert.equal(res.statusCode, 500);
    assert.equal(res.json().error, 'VPNSVC_ERROR_IO_ERROR');
    assert.match(res.json().message, /the response getHealth 200 does not match openapi\.yaml: \/ must have required property 'nope'/);
  });
});
