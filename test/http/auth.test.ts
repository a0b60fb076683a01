/** The seed's privileges over bearer tokens. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { build, TOKENS } from '../helpers/app.js';
import { assertContract } from '../helpers/contract.js';
import { ip, kernelTestOptions, link } from '../helpers/kernel.js';

describe('credentials', () => {
  test('no Authorization header is 401 PERMISSION_DENIED with a Bearer challenge', async (t) => {
    const { request } = await build(t);
    const res = await request.get('/features');
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="vpnsvc"');
    assert.deepEqual(Object.keys(res.body).sort(), ['code', 'error', 'message']);
    assert.equal(res.body.error, 'VPNSVC_ERROR_PERMISSION_DENIED');
    assert.equal(res.body.code, -13);
    assertContract('getFeatures', res);
  });

  test('an unknown token and a malformed header are 401', async (t) => {
    const { request } = await build(t);
    const unknown = await request.get('/features').set('authorization', 'Bearer not-a-token');
    assert.equal(unknown.status, 401);
    assert.match(unknown.body.message, /unknown token/);
    const basic = await request.get('/features').set('authorization', `Basic ${TOKENS.admin}`);
    assert.equal(basic.status, 401);
    assert.match(basic.body.message, /malformed/);
  });

  test('any valid token reads; health, the spec and the docs need none', async (t) => {
    const { request } = await build(t);
    for (const token of Object.values(TOKENS)) {
      const res = await request.get('/features').set('authorization', `Bearer ${token}`);
      assert.equal(res.status, 200);
      assertContract('getFeatures', res);
    }
    const health = await request.get('/health');
    assert.equal(health.status, 200);
    assertContract('getHealth', health);
    const spec = await request.get('/openapi.yaml');
    assert.equal(spec.status, 200);
    assert.match(spec.headers['content-type'] ?? '', /application\/yaml/);
    assert.match(spec.text, /^openapi: 3\.0\.3/);
    const docs = await request.get('/docs/');
    assert.equal(docs.status, 200);
    assert.match(docs.text, /swagger/i);
  });

  test('init without the internet privilege is 403 and creates nothing', async (t) => {
    const { request } = await build(t);
    const res = await request.post('/interfaces').set('authorization', `Bearer ${TOKENS.vpnservice}`).send({ name: 'vsauth0' });
    assert.equal(res.status, 403);
    assert.equal(res.body.error, 'VPNSVC_ERROR_PERMISSION_DENIED');
    assert.match(res.body.message, /lacks the privilege http:\/\/tizen\.org\/privilege\/internet/);
    assertContract('createInterface', res);
  });

  test('credentials are checked before the body: a bad body without a token is 401', async (t) => {
    const { request } = await build(t);
    const res = await request.post('/interfaces').send({ name: 'x'.repeat(40) });
    assert.equal(res.status, 401);
  });
});

describe('privileges on a live interface', kernelTestOptions(), () => {
  test('settings need vpnservice; init and deinit need both', async (t) => {
    const { request, admin } = await build(t);
    t.after(() => {
      if (link('vsauth0')) ip('link', 'delete', 'vsauth0');
    });
    await admin.post('/interfaces').send({ name: 'vsauth0' }).expect(201);
    const as = (token: string) => ({ authorization: `Bearer ${token}` });

    const patchNet = await request.patch('/interfaces/vsauth0').set(as(TOKENS.internet)).send({ mtu: 1400 });
    assert.equal(patchNet.status, 403);
    assert.match(patchNet.body.message, /vpnservice/);
    const applyNet = await request.post('/interfaces/vsauth0/apply').set(as(TOKENS.internet));
    assert.equal(applyNet.status, 403);
    const sessionNet = await request.put('/session').set(as(TOKENS.internet)).send({ name: 'x' });
    assert.equal(sessionNet.status, 403);

    const patchVpn = await request.patch('/interfaces/vsauth0').set(as(TOKENS.vpnservice)).send({ mtu: 1400 });
    assert.equal(patchVpn.status, 200);
    const readNet = await request.get('/interfaces/vsauth0').set(as(TOKENS.internet));
    assert.equal(readNet.status, 200);

    const deleteVpn = await request.delete('/interfaces/vsauth0').set(as(TOKENS.vpnservice));
    assert.equal(deleteVpn.status, 403);
    assert.ok(link('vsauth0'), 'still there after a refused deinit');
    await request.delete('/interfaces/vsauth0').set(as(TOKENS.admin)).expect(204);
  });
});
