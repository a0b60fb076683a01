/**
 * The link probe crash recovery uses, on the kernel (inside the test namespace): a TUN is told
 * from a veth, a missing link is neither, and remove() deletes what it is given.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { VpnsvcError } from '../../src/errors/errors.js';
import { iproute2Links } from '../../src/system/links.js';
import { ip, kernelTestOptions, link } from '../helpers/kernel.js';

describe('links', kernelTestOptions(), () => {
  after(() => {
    for (const name of ['vst3', 'vst4']) if (link(name)) ip('link', 'delete', name);
  });

  test('index, isTun and remove on a TUN and a veth, as ip link has them', async () => {
    ip('tuntap', 'add', 'dev', 'vst3', 'mode', 'tun');
    ip('link', 'add', 'vst4', 'type', 'veth', 'peer', 'name', 'vst5');
    assert.equal(iproute2Links.index('vst3'), link('vst3')?.ifindex);
    assert.equal(iproute2Links.index('vst4'), link('vst4')?.ifindex);
    assert.equal(iproute2Links.index('vst99'), undefined, 'no such link');

    assert.equal(await iproute2Links.isTun('vst3'), true);
    assert.equal(await iproute2Links.isTun('vst4'), false, 'a veth is not a TUN');
    assert.equal(await iproute2Links.isTun('vst99'), false, 'a missing link is not provably ours');

    await iproute2Links.remove('vst3');
    assert.equal(link('vst3'), undefined);
    await iproute2Links.remove('vst4');
    assert.equal(link('vst4'), undefined);
    assert.equal(link('vst5'), undefined, 'the peer goes with it');
  });

  test('removing a link that is not there is an I/O error naming it', async () => {
    await assert.rejects(
      iproute2Links.remove('vst99'),
      (err: unknown) =>
        err instanceof VpnsvcError && err.kind === 'VPNSVC_ERROR_IO_ERROR' && /cannot remove the stale TUN vst99/.test(err.message),
    );
  });
});
