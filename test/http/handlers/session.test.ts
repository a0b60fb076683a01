/**
 * /session: vpnsvc_get_session and vpnsvc_set_session on the active interface, against the real
 * kernel (inside the test namespace): the session is the active interface's, with its privileges.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { build, TOKENS } from '../../helpers/app.js';
import { assertContract, assertError } from '../../helpers/contract.js';
import { ip, kernelTestOptions, link } from '../../helpers/kernel.js';

test('without an active interface there is no session to read or set', async (t) => {
  // Supported whatever the host: no interface is created, so no kernel is touched.
  const { admin, request } = await build(t, { support: { missing: () => [] } });
  assertError(await admin.get('/session'), 404, 'VPNSVC_ERROR_NO_SUCH_FILE');
  const put = await admin.put('/session').send({ name: 'office' });
  assertError(put, 404, 'VPNSVC_ERROR_NO_SUCH_FILE');
  assertContract('setSession', put);
  assertError(await request.put('/session').send({ name: 'office' }), 401, 'VPNSVC_ERROR_PERMISSION_DENIED');
  assertError(await admin.put('/session').send({}), 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /missing the field "name"/);
  assertError(
    await admin.put('/session').send({ name: 'office', interface: 'vst8' }),
    400,
    'VPNSVC_ERROR_INVALID_PARAMETER',
    /unknown field/,
  );
});

describe('the session of the active interface', kernelTestOptions(), () => {
  after(() => {
    if (link('vst8')) ip('link', 'delete', 'vst8');
  });

  test('session: GET and PUT act on the active interface', async (t) => {
    const { admin } = await build(t);
    const none = await admin.get('/session');
    assert.equal(none.status, 404);
    assertContract('getSession', none);
    await admin.post('/interfaces').send({ name: 'vst8' }).expect(201);
    const got = await admin.get('/session').expect(200);
    assertContract('getSession', got);
    assert.deepEqual(got.body, { name: 'VPN_Session', interface: 'vst8' });
    const put = await admin.put('/session').send({ name: 'Ünïcode ok' }).expect(200);
    assertContract('setSession', put);
    assert.equal((await admin.get('/interfaces/vst8')).body.session, 'Ünïcode ok');
    const tooLong = await admin.put('/session').send({ name: 'x'.repeat(32) });
    assert.equal(tooLong.status, 400);
    assert.equal((await admin.get('/session')).body.name, 'Ünïcode ok', 'rejected, not truncated');
  });

  test('setting it needs vpnservice; reading it needs any token; the change is an event with its reason', async (t) => {
    const { admin, request, vpnsvc } = await build(t);
    await admin.post('/interfaces').send({ name: 'vst8' }).expect(201);
    const as = (token: string) => `Bearer ${token}`;
    assertError(
      await request.put('/session').set('authorization', as(TOKENS.internet)).send({ name: 'office' }),
      403,
      'VPNSVC_ERROR_PERMISSION_DENIED',
      /vpnservice/,
    );
    assert.equal((await request.get('/session').set('authorization', as(TOKENS.internet))).body.name, 'VPN_Session');
    await request
      .put('/session')
      .set('authorization', as(TOKENS.vpnservice))
      .set('x-request-id', 'sess-1')
      .send({ name: 'office' })
      .expect(200);
    const changed = vpnsvc.events.after(0).events.filter((e) => e.type === 'session.changed');
    assert.deepEqual(
      changed.map((e) => [e.interface, e.data, e.reason]),
      [['vst8', { session: 'office' }, { source: 'api', token: 'vpnservice', requestId: 'sess-1' }]],
    );
  });

  test('a new interface starts with the default session', async (t) => {
    const { admin } = await build(t);
    await admin.post('/interfaces').send({ name: 'vst8' }).expect(201);
    await admin.put('/session').send({ name: 'office' }).expect(200);
    await admin.post('/interfaces').send({ name: 'vst8' }).expect(201);
    assert.deepEqual((await admin.get('/session').expect(200)).body, { name: 'VPN_Session', interface: 'vst8' });
  });
});
