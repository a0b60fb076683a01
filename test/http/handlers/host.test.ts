/** The seed's feature check: a host without what init needs answers NOT_SUPPORTED, naming it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { build } from '../../helpers/app.js';
import { assertContract } from '../../helpers/contract.js';

test('without the TUN device or CAP_NET_ADMIN every seed call is 501 naming what is missing', async (t) => {
  const missing = ['the TUN device /dev/net/tun cannot be opened (ENOENT)', 'the daemon lacks CAP_NET_ADMIN'];
  const { admin } = await build(t, { support: { missing: () => missing } });
  const init = await admin.post('/interfaces').send({ name: 'vsfeat0' });
  assert.equal(init.status, 501);
  assertContract('createInterface', init);
  assert.equal(init.body.error, 'VPNSVC_ERROR_NOT_SUPPORTED');
  assert.equal(init.body.code, -1073741822);
  assert.match(init.body.message, /\/dev\/net\/tun/);
  assert.match(init.body.message, /CAP_NET_ADMIN/);
  assert.equal((await admin.get('/interfaces')).status, 501);
  assert.equal((await admin.get('/interfaces/vsfeat0')).status, 501);
});

test('GET /features reports the host as probed', async (t) => {
  const { admin } = await build(t);
  const res = await admin.get('/features').expect(200);
  assertContract('getFeatures', res);
  assert.equal(res.body.feature, 'http://tizen.org/feature/network.vpn');
  const root = process.getuid?.() === 0;
  assert.equal(res.body.netAdmin, root, 'root holds CAP_NET_ADMIN here; others do not');
  assert.equal(res.body.supported, res.body.tunDevice && res.body.netAdmin);
  // nft and cgroup2 are for parts of the API (the firewall, split by program), not the feature
  const forFeature = res.body.missing.filter((m: string) => !m.startsWith('nft') && m !== res.body.splitByCgroup?.reason);
  assert.equal(res.body.supported, forFeature.length === 0);
});
