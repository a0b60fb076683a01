/**
 * /config and /profiles at the HTTP edge over the daemon's own house (build(t)), in the test
 * namespace: documents in JSON and YAML, dry run, round trip read back from the kernel,
 * refusals with the standard error body, privileges, confirm and the revert of a caller that
 * went away, and profile CRUD on the state directory. No block is set here (build(t)'s nft runs
 * in the shared test namespace): the kill switch's part is the engine tests'.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import { build, TOKENS } from '../../helpers/app.js';
import { assertContract, assertError } from '../../helpers/contract.js';
import { addresses, ip, kernelTestOptions, link } from '../../helpers/kernel.js';

const IFACE = 'vcfh0';
const DOC = {
  interface: { name: IFACE, localIp: '10.191.0.1', remoteIp: '10.191.0.2', mtu: 1420 },
  routes: [{ address: '10.191.10.0', prefix: 24 }],
  dns: { servers: ['10.191.0.53'], domains: ['corp.example'] },
  firewall: null,
};
const EMPTY = { interface: null, routes: [], dns: { servers: [], domains: [] }, firewall: null };
const FULL = {
  interface: {
    name: IFACE,
    localIp: '10.191.0.1',
    remoteIp: '10.191.0.2',
    localIp6: null,
    mtu: 1420,
    session: 'VPN_Session',
    blocking: true,
  },
  routes: DOC.routes,
  dns: DOC.dns,
  firewall: null,
};

describe('/config and /profiles', kernelTestOptions(), () => {
  after(() => {
    if (link(IFACE)) ip('link', 'delete', IFACE);
  });

  test('GET /config with nothing set; a YAML dry run plans and touches nothing; PUT applies; GET round-trips', async (t) => {
    const { admin, resolvConf } = await build(t);
    const empty = await admin.get('/config').expect(200);
    assertContract('getConfig', empty);
    assert.deepEqual(empty.body, EMPTY);

    const dry = await admin.put('/config?dryRun=true').set('content-type', 'application/yaml').send(stringify(DOC));
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assertContract('putConfig', dry);
    assert.deepEqual(
      dry.body.steps.map((s: { op: string }) => s.op),
      ['interface.create', 'routes.add', 'dns.set'],
    );
    assert.equal(dry.body.applied, false);
    assert.equal(link(IFACE), undefined, 'the dry run created nothing');
    assert.deepEqual((await admin.get('/config').expect(200)).body, EMPTY);

    const put = await admin.put('/config').send(DOC);
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assertContract('putConfig', put);
    assert.equal(put.body.applied, true);
    assert.deepEqual(put.body.config, FULL);
    assert.equal(link(IFACE)?.mtu, 1420);
    assert.deepEqual(
      addresses(IFACE)
        .filter((a) => a.family === 'inet')
        .map((a) => [a.local, a.address]),
      [['10.191.0.1', '10.191.0.2']],
    );
    assert.match(readFileSync(resolvConf, 'utf8'), /nameserver 10\.191\.0\.53/);
    const got = await admin.get('/config').expect(200);
    assert.deepEqual(got.body, FULL);
    const again = await admin.put('/config').send(got.body).expect(200);
    assert.deepEqual(again.body.steps, [], 'GET then PUT changes nothing');

    const down = await admin.put('/config').send({ interface: null }).expect(200);
    assert.deepEqual(
      down.body.steps.map((s: { op: string }) => s.op),
      ['routes.clear', 'dns.clear', 'interface.remove'],
    );
    assert.equal(link(IFACE), undefined);
  });

  test('bad documents get the standard error body before anything is touched', async (t) => {
    const { admin } = await build(t);
    assertError(await admin.put('/config').send({ ...DOC, extra: 1 }), 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /extra/);
    assertError(
      await admin.put('/config').send({ ...DOC, interface: { ...DOC.interface, mtu: 'big' } }),
      400,
      'VPNSVC_ERROR_INVALID_PARAMETER',
      /mtu/,
    );
    assertError(
      await admin.put('/config').send({ ...DOC, routes: [DOC.routes[0], DOC.routes[0]] }),
      400,
      'VPNSVC_ERROR_INVALID_PARAMETER',
      /routes\[1\]: 10\.191\.10\.0\/24 repeats routes\[0\]/,
    );
    assertError(
      await admin.put('/config').send({ interface: { name: 'lo' } }),
      400,
      'VPNSVC_ERROR_INVALID_PARAMETER',
      /interface\.name: "lo" is taken by another device/,
    );
    assertError(
      await admin.put('/config').set('content-type', 'application/yaml').send('interface: [unclosed'),
      400,
      'VPNSVC_ERROR_INVALID_PARAMETER',
      /YAML/,
    );
    assertError(await admin.put('/config?confirmWithinS=0').send(DOC), 400, 'VPNSVC_ERROR_INVALID_PARAMETER');
    assert.equal(link(IFACE), undefined);
  });

  test('privileges: reading needs any token, changing needs vpnservice and internet', async (t) => {
    const { request } = await build(t);
    await request.get('/config').expect(401);
    await request.get('/config').set('authorization', `Bearer ${TOKENS.internet}`).expect(200);
    assertError(
      await request.put('/config').set('authorization', `Bearer ${TOKENS.vpnservice}`).send(DOC),
      403,
      'VPNSVC_ERROR_PERMISSION_DENIED',
    );
    assertError(
      await request.post('/config/confirm').set('authorization', `Bearer ${TOKENS.vpnservice}`),
      403,
      'VPNSVC_ERROR_PERMISSION_DENIED',
    );
    assertError(
      await request.put('/profiles/office').set('authorization', `Bearer ${TOKENS.internet}`).send(DOC),
      403,
      'VPNSVC_ERROR_PERMISSION_DENIED',
    );
    assert.equal(link(IFACE), undefined);
  });

  test('confirmWithinS: confirm keeps; a caller that disconnects at once is reverted all the same', async (t) => {
    const { app, admin, vpnsvc } = await build(t);
    assertError(await admin.post('/config/confirm'), 404, 'VPNSVC_ERROR_NO_SUCH_FILE', /no change awaits confirmation/);
    const kept = await admin.put('/config?confirmWithinS=1').send(DOC).expect(200);
    assert.equal(kept.body.confirm.withinS, 1);
    assert.ok(Date.parse(kept.body.confirm.deadline) > Date.now());
    await admin.post('/config/confirm').expect(204);
    await sleep(1200);
    assert.deepEqual((await admin.get('/config').expect(200)).body, FULL, 'confirmed: it stays');
    await admin.put('/config').send({ interface: null }).expect(200);

    const reverted = new Promise<void>((resolve) => {
      const off = vpnsvc.events.subscribe((e) => {
        if (e.type === 'config.reverted') {
          off();
          resolve();
        }
      });
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const body = JSON.stringify(DOC);
    // The caller sends the change and is gone before the answer (an SSH session that died).
    await new Promise<void>((resolve) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path: '/config?confirmWithinS=1',
        headers: { authorization: `Bearer ${TOKENS.admin}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      });
      req.on('error', () => resolve());
      req.end(body, () => {
        req.destroy();
        resolve();
      });
    });
    const deadline = Date.now() + 3000;
    while (!link(IFACE) && Date.now() < deadline) await sleep(20);
    assert.ok(link(IFACE), 'the change was applied');
    await reverted;
    assert.equal(link(IFACE), undefined, 'reverted: the interface is gone from the kernel');
    assert.deepEqual((await admin.get('/config').expect(200)).body, EMPTY);
  });

  test('profiles: save in YAML or JSON, list, show (JSON or YAML), up with a dry run, remove', async (t) => {
    const { admin, stateDir } = await build(t);
    const created = await admin.put('/profiles/office').set('content-type', 'application/yaml').send(stringify(DOC));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assertContract('saveProfile', created);
    assert.deepEqual(created.body, DOC);
    const file = join(stateDir, 'profiles', 'office.yaml');
    assert.deepEqual(parse(readFileSync(file, 'utf8')), DOC);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const replaced = await admin.put('/profiles/office').send({ ...DOC, alwaysOn: true });
    assert.equal(replaced.status, 200);
    assert.deepEqual((await admin.get('/profiles').expect(200)).body, [{ name: 'office', alwaysOn: true, lockdown: false }]);
    const json = await admin.get('/profiles/office').expect(200);
    assertContract('getProfile', json);
    assert.deepEqual(json.body, { ...DOC, alwaysOn: true });
    const yaml = await admin.get('/profiles/office').set('accept', 'application/yaml').expect(200);
    assert.match(String(yaml.headers['content-type']), /application\/yaml/);
    assert.deepEqual(parse(yaml.text), { ...DOC, alwaysOn: true });

    assertError(
      await admin.put('/profiles/home').send({ ...DOC, alwaysOn: true }),
      400,
      'VPNSVC_ERROR_INVALID_PARAMETER',
      /profile "office" is already always-on/,
    );
    assertError(
      await admin.put('/profiles/home').send({ ...DOC, lockdown: true, alwaysOn: false }),
      400,
      'VPNSVC_ERROR_INVALID_PARAMETER',
      /lockdown: only an alwaysOn profile/,
    );
    assertError(await admin.put('/profiles/..').send(DOC), 400, 'VPNSVC_ERROR_INVALID_PARAMETER');
    assertError(await admin.get('/profiles/nope'), 404, 'VPNSVC_ERROR_NO_SUCH_FILE', /no profile "nope"/);

    const dry = await admin.post('/profiles/office/up?dryRun=true').expect(200);
    assertContract('upProfile', dry);
    assert.equal(dry.body.steps.length, 3);
    assert.equal(link(IFACE), undefined);
    const up = await admin.post('/profiles/office/up').expect(200);
    assert.deepEqual(up.body.config, FULL);
    assert.ok(link(IFACE));

    await admin.delete('/profiles/office').expect(204);
    assert.equal(existsSync(file), false);
    assertError(await admin.delete('/profiles/office'), 404, 'VPNSVC_ERROR_NO_SUCH_FILE');
    assert.ok(link(IFACE), 'removing a profile leaves what it applied');
  });
});
