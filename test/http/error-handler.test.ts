/**
 * Every bad input gets a documented 400/404 body with the seed's error name, never a 500.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_PARAM_LENGTH } from '../../src/http/error-handler.js';
import { loadSpec } from '../../src/http/spec.js';
import { type Built, build, TOKENS } from '../helpers/app.js';
import { assertContract, assertError } from '../helpers/contract.js';
import { addresses, ip, kernelTestOptions, link } from '../helpers/kernel.js';

const spec = loadSpec();

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

/** One raw exchange on a fresh connection: what came back before the server closed it (or `waitMs` passed). */
async function exchange(port: number, text: string, waitMs = 2000): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise<string>((resolve, reject) => {
    let got = '';
    const sock = connect(port, '127.0.0.1', () => sock.write(text));
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, waitMs);
    sock.on('data', (d) => {
      got += d.toString('latin1');
      const head = got.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)/i.exec(got.slice(0, head));
      if (head >= 0 && length && got.length - head - 4 >= Number(length[1])) done();
    });
    sock.on('end', done);
    sock.on('error', reject);
  });
}

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: any;
  text: string;
}

function parseAnswer(raw: string): RawAnswer {
  assert.match(raw, /^HTTP\/1\.1 \d{3} /, `no HTTP answer: ${JSON.stringify(raw.slice(0, 200))}`);
  const head = raw.indexOf('\r\n\r\n');
  const lines = raw.slice(0, head).split('\r\n');
  const headers = Object.fromEntries(
    lines.slice(1).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as const),
  );
  const text = raw.slice(head + 4);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: Number(lines[0]!.split(' ')[1]), headers, body, text };
}

describe('answers the routes never give are in the contract too', () => {
  let built: Built;
  let port: number;
  const cleanups: Array<() => Promise<void>> = [];
  const AUTH = `Authorization: Bearer ${TOKENS.admin}\r\n`;
  const SECRET = 'q7secretvalue';

  before(async () => {
    built = await build({ after: (fn: () => Promise<void>) => void cleanups.push(fn) } as never);
    await built.app.listen({ host: '127.0.0.1', port: 0 });
    port = (built.app.server.address() as { port: number }).port;
  });
  after(async () => {
    for (const fn of cleanups) await fn();
  });
  const ask = async (text: string) => parseAnswer(await exchange(port, text));

  test('a malformed percent-encoding in the path is 400 with the one body, and echoes no query value', async () => {
    for (const path of ['/interfaces/%zz', '/interfaces/%E0%A4%A', '/%E0%A4%A', '/dns/%', '/routes/10.0.0.0/%C0%AF']) {
      const res = await ask(`GET ${path}?token=${SECRET} HTTP/1.1\r\nHost: x\r\n${AUTH}\r\n`);
      assertError(res, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /percent-encod/);
      assert.ok(!res.text.includes(SECRET), res.text);
    }
    assertContract('getInterface', await ask(`GET /interfaces/%zz HTTP/1.1\r\nHost: x\r\n${AUTH}\r\n`));
  });

  test('a path parameter longer than the router takes is 414 with the one body; one the spec allows is not', async () => {
    const res = await ask(`DELETE /dns/domains/${'a'.repeat(2000)}?token=${SECRET} HTTP/1.1\r\nHost: x\r\n${AUTH}\r\n`);
    assertError(res, 414, 'VPNSVC_ERROR_INVALID_PARAMETER', /path parameter/);
    assert.ok(!res.text.includes(SECRET) && !res.text.includes('aaaa'), res.text);
    assertContract('removeSearchDomain', res);
    // 254 characters is a valid search domain; a percent-encoded IPv6 address is three times its length.
    const long = await ask(`DELETE /dns/domains/${'a'.repeat(254)} HTTP/1.1\r\nHost: x\r\n${AUTH}\r\n`);
    assert.notEqual(long.status, 414, long.text);
    assertContract('removeSearchDomain', long);
    const v6 = encodeURIComponent('fd00:1111:2222:3333:4444:5555:6666:7777');
    assertContract('removeDnsServer', await ask(`DELETE /dns/${v6}${'%20'.repeat(40)} HTTP/1.1\r\nHost: x\r\n${AUTH}\r\n`));
  });

  test('an HTTP/1.1 request without Host is 400 with the one body', async () => {
    const res = await ask('GET /health HTTP/1.1\r\n\r\n');
    assertError(res, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /Host/);
    assertContract('getHealth', res);
    assert.equal((await ask('GET /health HTTP/1.0\r\n\r\n')).status, 200);
  });

  test('DELETE /firewall refuses a malformed body or request with a declared status', async () => {
    const body = await ask(`DELETE /firewall HTTP/1.1\r\nHost: x\r\n${AUTH}content-type: application/json\r\ncontent-length: 2\r\n\r\n{x`);
    assertError(body, 415, 'VPNSVC_ERROR_INVALID_PARAMETER', /takes no request body/);
    assertContract('unblockNetworks', body);
    const noHost = await ask(`DELETE /firewall HTTP/1.1\r\n${AUTH}\r\n`);
    assertError(noHost, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /Host/);
    assertContract('unblockNetworks', noHost);
  });

  test('a method the path does not have is 405 with Allow listing the methods of the spec, OPTIONS and CONNECT too', async () => {
    const cases: Array<[string, string, string, string]> = [
      ['PUT', '/health', 'GET, HEAD', 'getHealth'],
      ['PURGE', '/health', 'GET, HEAD', 'getHealth'],
      ['TRACE', '/interfaces', 'GET, HEAD, POST', 'listInterfaces'],
      ['OPTIONS', '/interfaces', 'GET, HEAD, POST', 'createInterface'],
      ['POST', '/interfaces/tun0', 'DELETE, GET, HEAD, PATCH', 'getInterface'],
      ['GET', '/dns/domains', 'DELETE, POST', 'addSearchDomain'],
      ['PATCH', '/firewall', 'DELETE, GET, HEAD, PUT', 'blockNetworks'],
      ['CONNECT', '/health', 'GET, HEAD', 'getHealth'],
    ];
    for (const [method, path, allow, operationId] of cases) {
      const res = await ask(`${method} ${path}?token=${SECRET} HTTP/1.1\r\nHost: x\r\n${AUTH}content-length: 0\r\n\r\n`);
      assertError(res, 405, 'VPNSVC_ERROR_INVALID_PARAMETER', new RegExp(method));
      assert.equal(res.headers.allow, allow, `${method} ${path}`);
      assert.ok(!res.text.includes(SECRET), res.text);
      assertContract(operationId, res);
    }
    const proxy = await ask('CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n');
    assertError(proxy, 405, 'VPNSVC_ERROR_INVALID_PARAMETER', /CONNECT/);
    assert.equal(proxy.headers.allow, '');
    // A path that is not in the spec is still 404, whatever the method.
    assertError(await ask('PURGE /nothing HTTP/1.1\r\nHost: x\r\n\r\n'), 404, 'VPNSVC_ERROR_NO_SUCH_FILE');
  });

  test('a body in a media type the operation does not take is 415 and names what it takes', async () => {
    const post = (type: string | undefined, body: string, path = '/interfaces') =>
      ask(
        `POST ${path} HTTP/1.1\r\nHost: x\r\n${AUTH}${type === undefined ? '' : `content-type: ${type}\r\n`}content-length: ${body.length}\r\n\r\n${body}`,
      );
    for (const [type, body] of [
      ['text/plain', '{"name":"tun0"}'],
      ['application/octet-stream', '{"name":"tun0"}'],
      [`application/x-${SECRET}`, '{}'],
      [undefined, '{"name":"tun0"}'],
    ] as const) {
      const res = await post(type, body);
      assertError(res, 415, 'VPNSVC_ERROR_INVALID_PARAMETER', /application\/json/);
      assert.ok(!res.text.includes(SECRET), res.text);
      assertContract('createInterface', res);
    }
    assertContract('writePacket', await post('application/json', '{}', '/interfaces/tun0/packets'));
    assert.equal((await post('application/json', '{}', '/interfaces/tun0/packets')).status, 415);
    // A body on an operation that takes none.
    const del = await ask(`DELETE /firewall HTTP/1.1\r\nHost: x\r\n${AUTH}content-type: text/plain\r\ncontent-length: 2\r\n\r\nhi`);
    assertError(del, 415, 'VPNSVC_ERROR_INVALID_PARAMETER', /no request body/);
    assertContract('unblockNetworks', del);
    // The media type's parameters and case do not matter; an empty body with a JSON type is no body.
    assert.equal((await post('Application/JSON; charset=utf-8', '[]')).status, 400);
    assert.equal((await ask(`POST /interfaces HTTP/1.1\r\nHost: x\r\n${AUTH}content-type: application/json\r\n\r\n`)).status, 400);
  });

  test('an upgrade to an operation that is no WebSocket, or a handshake ws refuses, is 400 with the one body', async () => {
    const KEY = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    const upgrade = (path: string, headers: string) =>
      ask(`GET ${path} HTTP/1.1\r\nHost: x\r\n${AUTH}Connection: Upgrade\r\n${headers}\r\n`);
    const health = await upgrade('/health', `Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n${KEY}`);
    assertError(health, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /GET \/health does not upgrade/);
    assertContract('getHealth', health);
    for (const [headers, why] of [
      [`Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n`, /Upgrade header/],
      ['Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: x\r\n', /Sec-WebSocket-Key/],
      [`Upgrade: websocket\r\nSec-WebSocket-Version: 99\r\n${KEY}`, /Sec-WebSocket-Version/],
      [`Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n${KEY}Sec-WebSocket-Protocol: a b,,\r\n`, /Sec-WebSocket-Protocol/],
    ] as const) {
      const res = await upgrade('/events', headers);
      assertError(res, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', why);
      assertContract('followEvents', res);
    }
  });

  test('an Expect header other than 100-continue is ignored, not answered 417', async () => {
    const res = await ask('GET /health HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n');
    assert.equal(res.status, 200, res.text);
    assertContract('getHealth', res);
  });

  test('the router takes every path parameter the spec allows, percent-encoded', () => {
    const lengths = spec.operations
      .flatMap((o) => Object.values((o.schema.params?.properties ?? {}) as Record<string, any>))
      .map((p) => {
        const schema = p.$ref ? spec.componentSchemas[String(p.$ref).split('/').pop()!] : p;
        return Number(schema?.maxLength ?? 3); // an integer parameter is a few digits
      });
    assert.ok(lengths.length > 0);
    assert.ok(Math.max(...lengths) * 3 <= MAX_PARAM_LENGTH, `${Math.max(...lengths)} * 3 > ${MAX_PARAM_LENGTH}`);
  });
});

test('a request whose headers do not arrive in time is 408 with the one body', async (t) => {
  const { app } = await build(t);
  app.server.headersTimeout = 300;
  app.server.requestTimeout = 300;
  // Node looks for late requests at this period; it takes the value when it starts listening.
  (app.server as unknown as { connectionsCheckingInterval: number }).connectionsCheckingInterval = 50;
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const res = parseAnswer(await exchange(port, 'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ', 3000));
  assertError(res, 408, 'VPNSVC_ERROR_TIMEOUT', /in time/);
  assertContract('getHealth', res);
});

test('a request that arrives while the app closes is 503 with the one body', async (t) => {
  const { app } = await build(t);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  const { connect } = await import('node:net');
  const sock = connect(port, '127.0.0.1');
  await new Promise((resolve) => sock.once('connect', resolve));
  let got = '';
  sock.on('data', (d) => (got += d.toString('latin1')));
  const ended = new Promise((resolve) => sock.on('close', resolve));
  // A request whose body is still coming keeps its connection busy while close begins.
  const body = '{"name":"office"}';
  sock.write(
    `PUT /session HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.admin}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n{`,
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  const closing = app.close();
  await new Promise((resolve) => setTimeout(resolve, 100));
  sock.write(`${body.slice(1)}GET /health HTTP/1.1\r\nHost: x\r\n\r\n`);
  await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 3000))]);
  sock.destroy();
  await closing;
  const second = got.indexOf('HTTP/1.1', 1);
  assert.ok(second > 0, `two answers expected: ${got}`);
  const res = parseAnswer(got.slice(second));
  assertError(res, 503, 'VPNSVC_ERROR_IPC_FAILED', /shutting down/);
  assertContract('getHealth', res);
});
