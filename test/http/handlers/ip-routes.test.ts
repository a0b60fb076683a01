/**
 * Routes over REST against the real kernel (inside the test namespace), read back with
 * `ip -j route` / `ip -j -6 route`, never from the service.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Built, build, buildWithInterface } from '../../helpers/app.js';
import { assertContract, assertError } from '../../helpers/contract.js';
import { ip, ipJson, kernelTestOptions, link } from '../../helpers/kernel.js';

const IFACE = 'vsrt0';

interface IpRoute {
  dst: string;
  dev?: string;
  protocol?: string;
  scope?: string;
}

/** vpnsvc's routes (protocol 86) on the interface, main table and the VPN's, as `ip -j` shows them, in a "dst" form. */
function kernelRoutes(dev = IFACE): string[] {
  const show = (family: string, table: string): IpRoute[] => {
    try {
      return ipJson<IpRoute[]>(family, 'route', 'show', 'table', table, 'dev', dev, 'proto', '86');
    } catch {
      return []; // the kernel has no such table until a route is put in it
    }
  };
  const v4 = [...show('-4', 'main'), ...show('-4', '7686')];
  const v6 = [...show('-6', 'main'), ...show('-6', '7686')];
  return [...v4.map((r) => (r.dst === 'default' ? '0.0.0.0/0' : r.dst)), ...v6.map((r) => (r.dst === 'default' ? '::/0' : r.dst))];
}

const upInterface = (t: Parameters<typeof build>[0]): Promise<Built> => buildWithInterface(t, IFACE, '10.99.0.1', '10.99.0.2');

describe('routes on the kernel', kernelTestOptions(), () => {
  after(() => {
    for (const name of [IFACE, 'vsrtother']) if (link(name)) ip('link', 'delete', name);
  });

  test('POST /routes adds an IPv4 and an IPv6 route that ip route shows via the TUN; DELETE removes them', async (t) => {
    const { admin } = await upInterface(t);
    const v4 = await admin.post('/routes').send({ address: '10.20.0.0', prefix: 16 });
    assert.equal(v4.status, 201, JSON.stringify(v4.body));
    assertContract('addRoutes', v4);
    assert.deepEqual(v4.body, { address: '10.20.0.0', prefix: 16 });
    const v6 = await admin.post('/routes').send({ address: 'FD00:0:0:1::', prefix: 64 }).expect(201);
    assert.deepEqual(v6.body, { address: 'fd00:0:0:1::', prefix: 64 }, 'canonical RFC 5952 form');

    const [r4] = ipJson<IpRoute[]>('route', 'show', '10.20.0.0/16');
    assert.equal(r4?.dev, IFACE);
    assert.equal(r4?.protocol, '86');
    assert.equal(r4?.scope, 'link');
    const [r6] = ipJson<IpRoute[]>('-6', 'route', 'show', 'fd00:0:0:1::/64');
    assert.equal(r6?.dev, IFACE);

    const list = await admin.get('/routes').expect(200);
    assertContract('listRoutes', list);
    assert.deepEqual(list.body, [
      { address: '10.20.0.0', prefix: 16 },
      { address: 'fd00:0:0:1::', prefix: 64 },
    ]);

    const del = await admin.delete('/routes/10.20.0.0/16');
    assert.equal(del.status, 204);
    assertContract('removeRoute', del);
    await admin.delete('/routes/fd00:0:0:1::/64').expect(204);
    assert.deepEqual(kernelRoutes(), []);
  });

  test('default routes for both families: 0.0.0.0/1 + 128.0.0.0/1 and ::/0 take everything into the tunnel', async (t) => {
    const { admin } = await upInterface(t);
    const res = await admin.post('/routes').send([
      { address: '0.0.0.0', prefix: 1 },
      { address: '128.0.0.0', prefix: 1 },
      { address: '::', prefix: 0 },
    ]);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assertContract('addRoutes', res);
    assert.deepEqual(res.body, { added: 3 });
    assert.deepEqual(kernelRoutes().sort(), ['0.0.0.0/1', '128.0.0.0/1', '::/0']);
  });

  test("0.0.0.0/0 and ::/0 work beside the LAN's default routes: the VPN's own table and policy rules, gone with the last route", async (t) => {
    const { admin } = await upInterface(t);
    ip('tuntap', 'add', 'dev', 'vsrtother', 'mode', 'tun');
    ip('link', 'set', 'vsrtother', 'up');
    ip('-6', 'route', 'add', '::/0', 'dev', 'vsrtother'); // the LAN's, kernel default metric 1024
    ip('route', 'add', '0.0.0.0/0', 'dev', 'vsrtother');
    const rules = () =>
      ['-4', '-6'].flatMap((f) => ipJson<Array<{ protocol?: string }>>(f, 'rule', 'show')).filter((r) => r.protocol === '86').length;
    assert.equal(rules(), 0, 'no policy rule before the first default route');
    await admin.post('/routes').send({ address: '0.0.0.0', prefix: 0 }).expect(201);
    await admin.post('/routes').send({ address: '::', prefix: 0 }).expect(201);
    assert.equal(ipJson<Array<{ dev: string }>>('route', 'get', '192.0.2.1')[0]?.dev, IFACE, 'IPv4 goes into the tunnel');
    assert.equal(ipJson<Array<{ dev: string }>>('-6', 'route', 'get', '2001:db8::1')[0]?.dev, IFACE, 'IPv6 goes into the tunnel');
    assert.equal(
      ipJson<Array<{ dev: string }>>('route', 'get', '192.0.2.1', 'mark', '0x7686')[0]?.dev,
      'vsrtother',
      "the service's mark takes the LAN's default route",
    );
    assert.equal(rules(), 4, 'two rules per family: main without its default, then the VPN table for unmarked packets');
    await admin.post('/routes').send({ address: '192.0.2.0', prefix: 24, exclude: true }).expect(201);
    assert.equal(ipJson<Array<{ dev: string }>>('route', 'get', '192.0.2.1')[0]?.dev, 'vsrtother', 'the excluded prefix stays on the LAN');
    const list = await admin.get('/routes').expect(200);
    assertContract('listRoutes', list);
    assert.deepEqual(list.body, [
      { address: '0.0.0.0', prefix: 0 },
      { address: '192.0.2.0', prefix: 24, exclude: true },
      { address: '::', prefix: 0 },
    ]);
    const policy = await admin.get('/routes/policy').expect(200);
    assertContract('getRoutingPolicy', policy);
    assert.equal(policy.body.table, 7686);
    assert.deepEqual(
      policy.body.rules.map((r: { family: number; rule: string }) => `${r.family} ${r.rule}`),
      [
        '4 lookup main suppress_prefixlength 0',
        '4 not fwmark 0x7686 lookup 7686',
        '6 lookup main suppress_prefixlength 0',
        '6 not fwmark 0x7686 lookup 7686',
      ],
    );
    await admin.delete('/routes/192.0.2.0/24').expect(204);
    await admin.delete('/routes/0.0.0.0/0').expect(204);
    assert.equal(rules(), 2, "IPv6's rules stay while ::/0 does");
    await admin.delete('/routes/::/0').expect(204);
    assert.equal(rules(), 0, 'the last route of the table takes the rules');
    assert.equal(ipJson<Array<{ dev: string }>>('-6', 'route', 'show', 'default')[0]?.dev, 'vsrtother', "the LAN's default route stays");
    ip('link', 'delete', 'vsrtother');
  });

  test('a bulk add of 10,000 routes lands whole; a bulk remove takes them all', async (t) => {
    const { admin } = await upInterface(t);
    const routes = Array.from({ length: 10_000 }, (_, i) => ({ address: `10.${100 + (i >> 8)}.${i & 255}.0`, prefix: 24 }));
    const res = await admin.post('/routes').send(routes);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body, { added: 10_000 });
    const kernel = new Set(kernelRoutes());
    assert.equal(kernel.size, 10_000);
    for (const r of routes) assert.ok(kernel.has(`${r.address}/${r.prefix}`), `${r.address}/${r.prefix} in the kernel`);
    const listed = await admin.get('/routes').expect(200);
    assert.equal(listed.body.length, 10_000);

    const del = await admin.delete('/routes').send(routes);
    assert.equal(del.status, 204, JSON.stringify(del.body));
    assertContract('removeRoutes', del);
    assert.deepEqual(kernelRoutes(), []);
  });

  test('a bulk add that fails half-way leaves nothing of the batch in the kernel', async (t) => {
    const { admin } = await upInterface(t);
    await admin.post('/routes').send({ address: '10.31.0.0', prefix: 16 }).expect(201);
    const routes = Array.from({ length: 3000 }, (_, i) => ({ address: `10.${40 + (i >> 8)}.${i & 255}.0`, prefix: 24 }));
    routes.splice(2500, 0, { address: '10.31.0.0', prefix: 16 }); // already there: EEXIST in the middle
    const res = await admin.post('/routes').send(routes);
    assertError(res, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /routes\[2500\] 10\.31\.0\.0\/16 is already a route of "vsrt0".*EEXIST/);
    assertContract('addRoutes', res);
    assert.deepEqual(kernelRoutes(), ['10.31.0.0/16'], 'only the route from before the batch');
  });

  test('a bulk remove with one absent route removes nothing (404 names it)', async (t) => {
    const { admin } = await upInterface(t);
    await admin
      .post('/routes')
      .send([
        { address: '10.50.0.0', prefix: 16 },
        { address: 'fd50::', prefix: 48 },
      ])
      .expect(201);
    const res = await admin.delete('/routes').send([
      { address: '10.50.0.0', prefix: 16 },
      { address: '10.51.0.0', prefix: 16 },
    ]);
    assertError(res, 404, 'VPNSVC_ERROR_NO_SUCH_FILE', /routes\[1\] 10\.51\.0\.0\/16 is not a route of "vsrt0".*ESRCH/);
    assertContract('removeRoutes', res);
    assert.deepEqual(kernelRoutes().sort(), ['10.50.0.0/16', 'fd50::/48']);
  });

  test('the same route twice is 400: on a second call (EEXIST) and inside one array (nothing added)', async (t) => {
    const { admin } = await upInterface(t);
    await admin.post('/routes').send({ address: '10.60.0.0', prefix: 16 }).expect(201);
    assertError(
      await admin.post('/routes').send({ address: '10.60.0.0', prefix: 16 }),
      400,
      'VPNSVC_ERROR_INVALID_PARAMETER',
      /already a route.*EEXIST/,
    );
    const twice = await admin.post('/routes').send([
      { address: '10.61.0.0', prefix: 16 },
      { address: '10.61.0.0', prefix: 16 },
    ]);
    assertError(twice, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /routes\[1\] 10\.61\.0\.0\/16 repeats routes\[0\]/);
    assert.deepEqual(kernelRoutes(), ['10.60.0.0/16']);
  });

  test("someone else's route for the same prefix: adding is 400 EEXIST, and vpnsvc never deletes it", async (t) => {
    const { admin } = await upInterface(t);
    ip('route', 'add', '10.70.0.0/16', 'dev', IFACE); // the user's own (proto boot)
    const res = await admin.post('/routes').send({ address: '10.70.0.0', prefix: 16 });
    assertError(res, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /already has a route for this prefix that vpnsvc did not add.*EEXIST/);
    assertError(await admin.delete('/routes/10.70.0.0/16'), 404, 'VPNSVC_ERROR_NO_SUCH_FILE');
    assert.equal(ipJson<IpRoute[]>('route', 'show', '10.70.0.0/16').length, 1, "the user's route is still there");
  });

  test('routes before apply are refused with 400 (not deferred); without an interface 404', async (t) => {
    const { admin } = await build(t);
    assertError(
      await admin.post('/routes').send({ address: '10.80.0.0', prefix: 16 }),
      404,
      'VPNSVC_ERROR_NO_SUCH_FILE',
      /no VPN interface is active/,
    );
    assertError(await admin.get('/routes'), 404, 'VPNSVC_ERROR_NO_SUCH_FILE');
    await admin.post('/interfaces').send({ name: IFACE }).expect(201);
    const res = await admin.post('/routes').send({ address: '10.80.0.0', prefix: 16 });
    assertError(res, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /need "vsrt0" up: apply its settings first/);
    assertContract('addRoutes', res);
    assert.deepEqual(kernelRoutes(), []);
    assert.deepEqual((await admin.get('/routes').expect(200)).body, []);
  });

  test('deinit takes the routes away with the interface', async (t) => {
    const { admin } = await upInterface(t);
    await admin
      .post('/routes')
      .send([
        { address: '10.90.0.0', prefix: 16 },
        { address: 'fd90::', prefix: 64 },
      ])
      .expect(201);
    await admin.delete(`/interfaces/${IFACE}`).expect(204);
    // Only these two: other test files may hold routes of their own in the shared namespace.
    const left = [...ipJson<IpRoute[]>('route', 'show', 'proto', '86'), ...ipJson<IpRoute[]>('-6', 'route', 'show', 'proto', '86')];
    assert.deepEqual(
      left.filter((r) => r.dst === '10.90.0.0/16' || r.dst === 'fd90::/64'),
      [],
    );
  });

  describe('bad input is a documented 400/404, never a 500, and the kernel is untouched', () => {
    const cases: Array<[string, unknown, number, RegExp]> = [
      ['host bits set', { address: '10.1.2.3', prefix: 8 }, 400, /host bits set: did you mean 10\.0\.0\.0\/8\?/],
      ['IPv6 host bits', { address: 'fd00::1', prefix: 64 }, 400, /did you mean fd00::\/64\?/],
      ['IPv4 prefix 33', { address: '10.0.0.0', prefix: 33 }, 400, /prefix 33 is out of range for IPv4 \(0\.\.32\)/],
      ['IPv6 prefix 129', { address: 'fd00::', prefix: 129 }, 400, /prefix/],
      ['negative prefix', { address: '10.0.0.0', prefix: -1 }, 400, /prefix/],
      ['fractional prefix', { address: '10.0.0.0', prefix: 8.5 }, 400, /prefix/],
      ['prefix as string', { address: '10.0.0.0', prefix: '8' }, 400, /prefix/],
      ['multicast', { address: '224.0.0.0', prefix: 4 }, 400, /multicast/],
      ['IPv6 multicast', { address: 'ff02::', prefix: 16 }, 400, /multicast/],
      ['unspecified host route', { address: '0.0.0.0', prefix: 32 }, 400, /unspecified/],
      ['IPv6 unspecified host route', { address: '::', prefix: 128 }, 400, /unspecified/],
      ['loopback', { address: '127.0.0.0', prefix: 8 }, 400, /loopback/],
      ['broadcast', { address: '255.255.255.255', prefix: 32 }, 400, /broadcast/],
      ['IPv4-mapped IPv6', { address: '::ffff:10.0.0.0', prefix: 104 }, 400, /IPv4-mapped/],
      ['leading zeros', { address: '010.0.0.0', prefix: 8 }, 400, /not an IPv4 or IPv6 address/],
      ['a zone index', { address: 'fe80::%eth0', prefix: 64 }, 400, /not an IPv4 or IPv6 address/],
      ['a hostname', { address: 'example.com', prefix: 24 }, 400, /not an IPv4 or IPv6 address/],
      ['shell metacharacters', { address: '10.0.0.0;reboot', prefix: 8 }, 400, /not an IPv4 or IPv6 address/],
      ['an unknown field', { address: '10.0.0.0', prefix: 8, metric: 5 }, 400, /unknown field "metric"/],
      ['a missing prefix', { address: '10.0.0.0' }, 400, /prefix/],
      ['an empty array', [], 400, /fewer than 1|must NOT have fewer/],
      [
        'a bad entry in an array',
        [
          { address: '10.0.0.0', prefix: 8 },
          { address: '10.1.2.3', prefix: 8 },
        ],
        400,
        /routes\[1\] 10\.1\.2\.3\/8 has host bits set/,
      ],
      [
        'an out-of-schema entry in an array',
        [
          { address: '10.0.0.0', prefix: 8 },
          { address: '10.0.0.0', prefix: 200 },
        ],
        400,
        /body\.1\.prefix must be <= 128/,
      ],
      [
        'an array of 20,001 routes',
        Array.from({ length: 20_001 }, () => ({ address: '10.0.0.0', prefix: 8 })),
        400,
        /more than 20000 items/,
      ],
      ['a text body', 'nonsense', 415, /takes a body of application\/json/],
    ];
    for (const [what, body, status, message] of cases) {
      test(`POST /routes with ${what} is ${status}`, async (t) => {
        const { admin } = await upInterface(t);
        const res = await admin.post('/routes').send(body as object);
        assertError(res, status, status === 404 ? 'VPNSVC_ERROR_NO_SUCH_FILE' : 'VPNSVC_ERROR_INVALID_PARAMETER', message);
        assertContract('addRoutes', res);
        assert.deepEqual(kernelRoutes(), []);
      });
    }

    test('DELETE /routes/{address}/{prefix}: absent is 404, bad prefix or address 400', async (t) => {
      const { admin } = await upInterface(t);
      const absent = await admin.delete('/routes/10.1.0.0/16');
      assertError(absent, 404, 'VPNSVC_ERROR_NO_SUCH_FILE', /10\.1\.0\.0\/16 is not a route of "vsrt0"/);
      assertContract('removeRoute', absent);
      assertError(await admin.delete('/routes/10.1.0.0/33'), 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /prefix/);
      assertError(await admin.delete('/routes/10.1.0.0/x'), 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /prefix/);
      assertError(await admin.delete('/routes/10.1.2.3/8'), 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /host bits/);
      assertError(await admin.delete('/routes/nonsense/8'), 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /not an IPv4 or IPv6/);
    });

    test('routes need the vpnservice privilege', async (t) => {
      const { request } = await upInterface(t);
      const res = await request.post('/routes').set('authorization', 'Bearer test-internet-only').send({ address: '10.1.0.0', prefix: 16 });
      assertError(res, 403, 'VPNSVC_ERROR_PERMISSION_DENIED');
      assert.deepEqual(kernelRoutes(), []);
    });
  });
});
