/**
 * Every bad input gets a documented 400/404 body with the seed's error name, never a 500.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Built, build } from '../helpers/app.js';
import { assertContract, assertError } from '../helpers/contract.js';
import { addresses, ip, kernelTestOptions, link } from '../helpers/kernel.js';

describe('bad input to POST /interfaces', () => {
  const names: Array<[string, unknown]> = [
    ['empty', ''],
    ['16 characters', 'a'.repeat(16)],
    ['a space', 'tun 0'],
    ['a slash', 'tun/0'],
    ['shell metacharacters', 'tun0;reboot'],
    ['a format template', 'tun%d'],
    ['a number', 7],
  ];
  for (const [what, name] of names) {
    test(`name with ${what} is 400 INVALID_PARAMETER`, async (t) => {
      const { admin } = await build(t);
      const res = await admin.post('/interfaces').send({ name });
      assertError(res, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /body\.name/);
      assert.equal(res.body.code, -22);
      assertContract('createInterface', res);
    });
  }

  test('names starting with "-" or "." (options to tools, "." and "..") are 400', async (t) => {
    const { admin } = await build(t);
    for (const name of ['.', '..', '.hidden', '-x', '--help']) {
      assertError(await admin.post('/interfaces').send({ name }), 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /body\.name/);
    }
  });

  test('an unknown field is rejected, not stripped', async (t) => {
    const { admin } = await build(t);
    const res = await admin.post('/interfaces').send({ name: 'tun0', persist: true });
    assertError(res, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /unknown field "persist"/);
  });

  test('a missing body, malformed JSON and a non-object body are 400', async (t) => {
    const { admin } = await build(t);
    assertError(await admin.post('/interfaces'), 400, 'VPNSVC_ERROR_INVALID_PARAMETER');
    assertError(
      await admin.post('/interfaces').set('content-type', 'application/json').send('{"name":'),
      400,
      'VPNSVC_ERROR_INVALID_PARAMETER',
    );
    assertError(await admin.post('/interfaces').send([{ name: 'tun0' }]), 400, 'VPNSVC_ERROR_INVALID_PARAMETER');
  });

  test('an unknown path is 404 NO_SUCH_FILE', async (t) => {
    const { admin } = await build(t);
    assertError(await admin.get('/nothing-here'), 404, 'VPNSVC_ERROR_NO_SUCH_FILE');
  });
});

describe('bad settings on a live interface', kernelTestOptions(), () => {
  let built: Built;
  const ctx = { after: (fn: () => Promise<void>) => void cleanups.push(fn) } as never;
  const cleanups: Array<() => Promise<void>> = [];

  before(async () => {
    built = await build(ctx);
    await built.admin.post('/interfaces').send({ name: 'vsbad0' }).expect(201);
  });
  after(async () => {
    for (const fn of cleanups) await fn();
    if (link('vsbad0')) ip('link', 'delete', 'vsbad0');
  });

  const cases: Array<[string, object, RegExp]> = [
    ['MTU below 68', { mtu: 67 }, /mtu must be >= 68/],
    ['MTU above 65535', { mtu: 65536 }, /mtu must be <= 65535/],
    ['MTU not an integer', { mtu: 1400.5 }, /mtu must be integer/],
    ['MTU as a string', { mtu: '1400' }, /mtu must be integer/],
    ['session of 32 characters', { session: 'x'.repeat(32) }, /session must NOT have more than 31 characters/],
    ['empty session', { session: '' }, /session/],
    ['session with a newline', { session: 'a\nb' }, /session has characters that are not allowed/],
    ['blocking as a string', { blocking: 'yes' }, /blocking must be boolean/],
    ['local IP with three parts', { localIp: '10.0.0' }, /localIp must be an IPv4 address/],
    ['local IP with an octet over 255', { localIp: '10.0.0.256' }, /localIp must be an IPv4 address/],
    ['local IP with leading zeros', { localIp: '010.0.0.1' }, /localIp must be an IPv4 address/],
    ['remote IP in IPv6', { remoteIp: '::1' }, /remoteIp must be an IPv4 address/],
    ['remote IP as a hostname', { remoteIp: 'vpn.example.com' }, /remoteIp must be an IPv4 address/],
    ['an empty patch', {}, /at least one field/],
    ['an unknown field', { mtu: 1400, persist: true }, /unknown field "persist"/],
  ];
  for (const [what, body, message] of cases) {
    test(`${what} is 400`, async () => {
      const res = await built.admin.patch('/interfaces/vsbad0').send(body);
      assertError(res, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', message);
      assertContract('updateInterface', res);
    });
  }

  for (const address of ['224.0.0.1', '255.255.255.255', '0.0.0.0']) {
    test(`local IP ${address} (not unicast) is refused before it is staged`, async () => {
      const res = await built.admin.patch('/interfaces/vsbad0').send({ localIp: address });
      assertError(res, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /unicast/);
      const now = await built.admin.get('/interfaces/vsbad0');
      assert.equal(now.body.staged.localIp, null);
    });
  }

  test('nothing bad reached the kernel', () => {
    assert.equal(link('vsbad0')?.mtu, 1500);
    assert.deepEqual(addresses('vsbad0'), []);
  });

  for (const [method, url] of [
    ['get', '/interfaces/nosuch0'],
    ['patch', '/interfaces/nosuch0'],
    ['delete', '/interfaces/nosuch0'],
    ['post', '/interfaces/nosuch0/apply'],
  ] as const) {
    test(`${method.toUpperCase()} ${url} is 404 NO_SUCH_FILE`, async () => {
      const req = built.admin[method](url);
      const res = method === 'patch' ? await req.send({ mtu: 1400 }) : await req;
      assertError(res, 404, 'VPNSVC_ERROR_NO_SUCH_FILE', /no VPN interface "nosuch0"/);
      assert.equal(res.body.code, -2);
    });
  }

  test('a bad name in the path is 400, not 404', async () => {
    assertError(await built.admin.get('/interfaces/bad%20name'), 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /params\.name/);
    assertError(await built.admin.get(`/interfaces/${'a'.repeat(16)}`), 400, 'VPNSVC_ERROR_INVALID_PARAMETER');
  });
});

test('a request the HTTP parser rejects still gets the one error body', async (t) => {
  const { app } = await build(t);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const { connect } = await import('node:net');
  const raw = await new Promise<string>((resolve, reject) => {
    let text = '';
    const sock = connect(port, '127.0.0.1', () => sock.write('GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n'));
    sock.on('data', (d) => (text += d.toString()));
    sock.on('end', () => resolve(text));
    sock.on('error', reject);
  });
  assert.match(raw, /^HTTP\/1\.1 400 /);
  const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4));
  assert.equal(body.error, 'VPNSVC_ERROR_INVALID_PARAMETER');
  assert.match(body.message, /malformed HTTP request/);
});
