/**
 * The native shim's wrappers on a real TUN (inside the test namespace), each read back with
 * `ip -j`: MTU, addresses, link flags, O_NONBLOCK; a -errno becomes a VpnsvcError that keeps
 * the errno's name.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { VpnsvcError } from '../../src/errors/errors.js';
import * as native from '../../src/system/native.js';
import { addresses, fdFlags, ip, kernelTestOptions, link } from '../helpers/kernel.js';

const O_NONBLOCK = 0o4000;

function kernelError(kind: VpnsvcError['kind'], errno: string, message: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof VpnsvcError, String(err));
    assert.deepEqual([err.kind, err.errno, err.message], [kind, errno, message]);
    return true;
  };
}

test('the library path is the built shim unless VPNSVC_NATIVE_LIB says otherwise', (t) => {
  const saved = process.env.VPNSVC_NATIVE_LIB;
  t.after(() => {
    if (saved === undefined) delete process.env.VPNSVC_NATIVE_LIB;
    else process.env.VPNSVC_NATIVE_LIB = saved;
  });
  delete process.env.VPNSVC_NATIVE_LIB;
  assert.match(native.nativeLibraryPath(), /\/native-shim\/build\/libvpnsvc\.so$/);
  process.env.VPNSVC_NATIVE_LIB = '/opt/vpnsvc/libvpnsvc.so';
  assert.equal(native.nativeLibraryPath(), '/opt/vpnsvc/libvpnsvc.so');
});

describe('native wrappers on a TUN', kernelTestOptions(), () => {
  after(() => {
    if (link('vst6')) ip('link', 'delete', 'vst6');
  });

  test('open, MTU, addresses, flags and O_NONBLOCK, each as the kernel has it', (t) => {
    assert.equal(native.tunDeviceStatus(), 0, '/dev/net/tun opens');
    const tun = native.tunOpen('vst6');
    t.after(() => native.closeFd(tun.fd));
    assert.equal(tun.name, 'vst6');
    assert.equal(native.ifIndex('vst6'), link('vst6')?.ifindex);

    assert.equal(native.getMtu('vst6'), 1500);
    native.setMtu('vst6', 1280);
    assert.equal(link('vst6')?.mtu, 1280);
    assert.equal(native.getMtu('vst6'), 1280);

    assert.equal(native.getLocalAddress('vst6'), null, 'no IPv4 address yet');
    assert.equal(native.getPeerAddress('vst6'), null);
    native.setLocalAddress('vst6', '10.181.6.1');
    native.setPeerAddress('vst6', '10.181.6.2');
    assert.equal(native.getLocalAddress('vst6'), '10.181.6.1');
    assert.equal(native.getPeerAddress('vst6'), '10.181.6.2');
    const [addr] = addresses('vst6').filter((a) => a.family === 'inet');
    assert.deepEqual([addr?.local, addr?.address], ['10.181.6.1', '10.181.6.2']);

    assert.equal(native.getFlags('vst6') & native.IFF_UP, 0);
    native.setLinkUp('vst6', true);
    assert.notEqual(native.getFlags('vst6') & native.IFF_UP, 0);
    assert.ok(link('vst6')?.flags.includes('UP'));
    native.setLinkUp('vst6', false);
    assert.equal(native.getFlags('vst6') & native.IFF_UP, 0);
    assert.ok(!link('vst6')?.flags.includes('UP'));

    assert.equal(native.isNonBlocking(tun.fd), false);
    native.setNonBlocking(tun.fd, true);
    assert.equal(native.isNonBlocking(tun.fd), true);
    assert.notEqual(fdFlags(tun.fd) & O_NONBLOCK, 0);
    native.setNonBlocking(tun.fd, false);
    assert.equal(fdFlags(tun.fd) & O_NONBLOCK, 0);
  });

  test('kernel refusals keep the errno name; the kind is the seed’s or the wrapper’s', (t) => {
    const tun = native.tunOpen('vst6');
    t.after(() => native.closeFd(tun.fd));
    assert.throws(() => native.setMtu('vst6', 10), kernelError('VPNSVC_ERROR_IO_ERROR', 'EINVAL', 'set MTU 10 on "vst6": EINVAL'));
    assert.equal(native.getMtu('vst6'), 1500, 'unchanged');
    assert.throws(
      () => native.setLocalAddress('vst6', '10.181.6'),
      kernelError('VPNSVC_ERROR_IO_ERROR', 'EINVAL', 'set local address 10.181.6 on "vst6": EINVAL'),
    );
    assert.throws(() => native.tunOpen('vst6'), kernelError('VPNSVC_ERROR_IO_ERROR', 'EBUSY', 'open TUN "vst6": EBUSY'));
    assert.equal(typeof native.tunOpenRaw('vst6'), 'number', 'the raw form returns the -errno instead');

    assert.equal(native.ifIndex('vst98'), undefined);
    assert.throws(() => native.getMtu('vst98'), kernelError('VPNSVC_ERROR_NO_SUCH_FILE', 'ENODEV', 'get MTU of "vst98": ENODEV'));
    assert.throws(() => native.getFlags('vst98'), kernelError('VPNSVC_ERROR_NO_SUCH_FILE', 'ENODEV', 'get flags of "vst98": ENODEV'));
    assert.throws(() => native.setLinkUp('vst98', true), kernelError('VPNSVC_ERROR_IO_ERROR', 'ENODEV', 'set "vst98" up: ENODEV'));
    assert.throws(() => native.closeFd(-1), kernelError('VPNSVC_ERROR_IO_ERROR', 'EBADF', 'close fd -1: EBADF'));
  });
});
