/**
 * DNS over REST with the file backend on a temp resolv.conf (never the host's): the VPN's
 * servers go first, the user's file comes back byte for byte, bad input writes nothing.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { type Built, build, buildWithInterface, USER_RESOLV_CONF } from '../../helpers/app.js';
import { assertContract, assertError } from '../../helpers/contract.js';
import { ip, kernelTestOptions, link } from '../../helpers/kernel.js';

const IFACE = 'vsdns0';

const upInterface = (t: Parameters<typeof build>[0]): Promise<Built> => buildWithInterface(t, IFACE, '10.98.0.1', '10.98.0.2');

const nameservers = (text: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('nameserver '))
    .map((l) => l.slice(11));

describe('DNS with the file backend', kernelTestOptions(), () => {
  after(() => {
    if (link(IFACE)) ip('link', 'delete', IFACE);
  });

  test('GET /dns and GET /features report the backend', async (t) => {
    const { admin, resolvConf } = await build(t);
    const dns = await admin.get('/dns').expect(200);
    assertContract('getDns', dns);
    assert.deepEqual(dns.body, {
      backend: 'file',
      leakProtection: 'none',
      resolvConf: resolvConf,
      interface: null,
      servers: [],
      domains: [],
    });
    const features = await admin.get('/features').expect(200);
    assert.equal(features.body.dnsBackend, 'file');
  });

  test('servers go first, the user file follows unchanged, and the last removal restores it byte for byte', async (t) => {
    const { admin, resolvConf } = await upInterface(t);
    const file = resolvConf;
    const mode = statSync(file).mode;
    const added = await admin.post('/dns').send({ server: '10.8.0.53' });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assertContract('addDnsServer', added);
    assert.deepEqual(added.body.servers, ['10.8.0.53']);
    assert.equal(added.body.interface, IFACE);
    await admin.post('/dns').send({ server: 'FD00::0:53' }).expect(201);
    let text = readFileSync(file, 'utf8');
    assert.deepEqual(nameservers(text), ['10.8.0.53', 'fd00::53', '192.168.1.1'], 'the VPN first, then the user');
    assert.ok(text.includes(USER_RESOLV_CONF), 'the user content is there verbatim');
    assert.equal(statSync(file).mode, mode, 'mode kept');

    await admin.post('/dns/domains').send({ domain: 'Corp.Example.' }).expect(201);
    const routing = await admin.post('/dns/domains').send({ domain: '~.' });
    assertContract('addSearchDomain', routing);
    assert.deepEqual(routing.body.domains, ['corp.example', '~.']);
    text = readFileSync(file, 'utf8');
    const searchLines = text.split('\n').filter((l) => l.startsWith('search '));
    assert.equal(searchLines.at(-1), 'search corp.example home.lan', "glibc's last search line: the VPN's, then the user's");

    const gone = await admin.delete('/dns/10.8.0.53');
    assert.equal(gone.status, 204);
    assertContract('removeDnsServer', gone);
    await admin.delete('/dns/domains/corp.example').expect(204);
    assert.deepEqual(nameservers(readFileSync(file, 'utf8')), ['fd00::53', '192.168.1.1']);
    await admin.delete('/dns/fd00::53').expect(204);
    assert.equal(readFileSync(file, 'utf8'), USER_RESOLV_CONF, 'restored byte for byte');
    const view = await admin.get('/dns').expect(200);
    assert.deepEqual(view.body.servers, []);
    assert.deepEqual(view.body.domains, ['~.']);
  });

  test('concurrent changes are applied one at a time: every server lands, in the file and in GET /dns', async (t) => {
    const { admin, resolvConf } = await upInterface(t);
    const servers = Array.from({ length: 12 }, (_, i) => `10.8.${i}.53`);
    const results = await Promise.all(servers.map((server) => admin.post('/dns').send({ server })));
    assert.deepEqual(
      results.map((r) => r.status),
      servers.map(() => 201),
    );
    const listed = (await admin.get('/dns').expect(200)).body.servers as string[];
    assert.deepEqual([...listed].sort(), [...servers].sort());
    assert.deepEqual(
      nameservers(readFileSync(resolvConf, 'utf8')),
      [...listed, '192.168.1.1'],
      'the file says the same, in the same order',
    );
    await Promise.all(servers.map((server) => admin.delete(`/dns/${server}`).expect(204)));
    assert.equal(readFileSync(resolvConf, 'utf8'), USER_RESOLV_CONF);
  });

  test('deinit restores the user file', async (t) => {
    const { admin, resolvConf } = await upInterface(t);
    await admin.post('/dns').send({ server: '10.8.0.53' }).expect(201);
    assert.notEqual(readFileSync(resolvConf, 'utf8'), USER_RESOLV_CONF);
    await admin.delete(`/interfaces/${IFACE}`).expect(204);
    assert.equal(readFileSync(resolvConf, 'utf8'), USER_RESOLV_CONF);
    assert.deepEqual((await admin.get('/dns').expect(200)).body.servers, []);
  });

  test('DNS before apply is 400, without an interface 404; nothing is written', async (t) => {
    const { admin, resolvConf } = await build(t);
    assertError(await admin.post('/dns').send({ server: '10.8.0.53' }), 404, 'VPNSVC_ERROR_NO_SUCH_FILE', /no VPN interface/);
    await admin.post('/interfaces').send({ name: IFACE }).expect(201);
    const res = await admin.post('/dns').send({ server: '10.8.0.53' });
    assertError(res, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /need "vsdns0" up/);
    assertContract('addDnsServer', res);
    assert.equal(readFileSync(resolvConf, 'utf8'), USER_RESOLV_CONF);
  });

  describe('bad input is a documented 400/404 and nothing reaches the resolver', () => {
    const servers: Array<[string, unknown, RegExp]> = [
      ['a hostname', 'dns.example', /not an IPv4 or IPv6 address/],
      ['a newline injection', '10.0.0.1\nnameserver 6.6.6.6', /not an IPv4 or IPv6 address/],
      ['an option injection', '10.0.0.1 options rotate', /not an IPv4 or IPv6 address/],
      ['a port', '10.0.0.1:53', /not an IPv4 or IPv6 address/],
      ['a zone index', 'fe80::1%eth0', /not an IPv4 or IPv6 address/],
      ['a prefix', '10.0.0.0/8', /not an IPv4 or IPv6 address/],
      ['leading zeros', '010.0.0.1', /not an IPv4 or IPv6 address/],
      ['the unspecified address', '0.0.0.0', /unspecified/],
      ['IPv6 unspecified', '::', /unspecified/],
      ['multicast', '224.0.0.251', /multicast/],
      ['broadcast', '255.255.255.255', /broadcast/],
      ['an empty string', '', /server/],
      ['a number', 53, /server/],
    ];
    for (const [what, server, message] of servers) {
      test(`POST /dns with ${what} is 400`, async (t) => {
        const { admin, resolvConf } = await upInterface(t);
        const res = await admin.post('/dns').send({ server });
        assertError(res, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', message);
        assertContract('addDnsServer', res);
        assert.equal(readFileSync(resolvConf, 'utf8'), USER_RESOLV_CONF);
      });
    }

    test('duplicates are 400, absent entries 404, bad domains 400', async (t) => {
      const { admin, resolvConf } = await upInterface(t);
      await admin.post('/dns').send({ server: '10.8.0.53' }).expect(201);
      const written = readFileSync(resolvConf, 'utf8');
      assertError(await admin.post('/dns').send({ server: '10.8.0.53' }), 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /already added/);
      assertError(
        await admin
          .post('/dns')
          .send({ server: 'fd00:0::53' })
          .then(() => admin.post('/dns').send({ server: 'FD00::53' })),
        400,
        'VPNSVC_ERROR_INVALID_PARAMETER',
        /fd00::53 is already added/,
      );
      await admin.delete('/dns/fd00::53').expect(204);
      const absent = await admin.delete('/dns/10.9.9.9');
      assertError(absent, 404, 'VPNSVC_ERROR_NO_SUCH_FILE', /10\.9\.9\.9 is not added/);
      assertContract('removeDnsServer', absent);
      assertError(await admin.delete('/dns/not-an-address'), 400, 'VPNSVC_ERROR_INVALID_PARAMETER');
      assertError(await admin.delete('/dns/domains/corp.example'), 404, 'VPNSVC_ERROR_NO_SUCH_FILE', /not added/);
      for (const domain of ['bad domain', 'a..b', '-x.example', 'x;reboot', '~', '', `${'a'.repeat(64)}.example`]) {
        const res = await admin.post('/dns/domains').send({ domain });
        assertError(res, 400, 'VPNSVC_ERROR_INVALID_PARAMETER');
        assertContract('addSearchDomain', res);
      }
      assertError(await admin.post('/dns').send({ server: '10.8.0.54', extra: 1 }), 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /unknown field/);
      assert.equal(readFileSync(resolvConf, 'utf8'), written, 'no refused call changed the file');
    });

    test('DNS changes need the vpnservice privilege', async (t) => {
      const { request, resolvConf } = await upInterface(t);
      const res = await request.post('/dns').set('authorization', 'Bearer test-internet-only').send({ server: '10.8.0.53' });
      assertError(res, 403, 'VPNSVC_ERROR_PERMISSION_DENIED');
      assert.equal(readFileSync(resolvConf, 'utf8'), USER_RESOLV_CONF);
    });
  });
});
