/** The engine checks its inputs itself: it is an API of its own, not only behind HTTP. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkInterfaceName, checkMtu, checkSession, checkUnicastIPv4 } from '../../src/engine/validate.js';

test('interface names: 1-15 of A-Z a-z 0-9 _ . -, never starting with - or .', () => {
  for (const ok of ['tun0', 'a', 'wg_corp.1', '_x', 'x'.repeat(15), 'vpn-1']) assert.equal(checkInterfaceName(ok), ok);
  for (const bad of ['', '.', '..', '-x', '.x', 'x'.repeat(16), 'tun 0', 'tun/0', 'tun%d', 'tün0', 'a;b']) {
    assert.throws(
      () => checkInterfaceName(bad),
      (e: { kind: string }) => e.kind === 'VPNSVC_ERROR_INVALID_PARAMETER',
      bad,
    );
  }
});

test('MTU, session and IPv4 checks', () => {
  assert.equal(checkMtu(68), 68);
  assert.equal(checkMtu(65535), 65535);
  for (const bad of [67, 65536, 1500.5, Number.NaN]) assert.throws(() => checkMtu(bad), /MTU/);
  assert.equal(checkSession('x'.repeat(31)), 'x'.repeat(31));
  assert.equal(checkSession('é'.repeat(31)), 'é'.repeat(31), 'characters, not bytes');
  assert.throws(() => checkSession('x'.repeat(32)), /1-31 characters, got 32/);
  assert.throws(() => checkSession('a\tb'), /control characters/);
  assert.equal(checkUnicastIPv4('10.0.0.1', 'local address'), '10.0.0.1');
  for (const bad of ['10.0.0', '1.2.3.4.5', '0x0a.0.0.1', '224.1.1.1', '0.0.0.0', '255.255.255.255', '::1']) {
    assert.throws(() => checkUnicastIPv4(bad, 'local address'), /local address/, bad);
  }
});

test('kernel errors keep their errno name, including Linux-only ones Node does not list', async () => {
  const { errnoError } = await import('../../src/errors/errors.js');
  const gone = errnoError(-77, 'read from TUN "tun0"');
  assert.equal(gone.message, 'read from TUN "tun0": EBADFD');
  assert.equal(gone.kind, 'VPNSVC_ERROR_IO_ERROR');
  assert.equal(errnoError(-2, 'x').kind, 'VPNSVC_ERROR_NO_SUCH_FILE');
  assert.equal(errnoError(-22, 'x').kind, 'VPNSVC_ERROR_INVALID_PARAMETER');
});
