/**
 * openPointToPoint on the kernel (inside the test namespace): the TUN comes up addressed, with
 * its MTU, as `ip -j` shows; its handle moves packets both ways; close() removes the device, and
 * a setting the kernel refuses leaves no device behind.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, describe, test } from 'node:test';
import { VpnsvcError } from '../../src/errors/errors.js';
import { openPointToPoint } from '../../src/system/tun.js';
import { addresses, ip, ipJson, kernelTestOptions, link } from '../helpers/kernel.js';
import { ipv4Udp, readIpv4Udp } from '../helpers/packets.js';

const NAMES = ['vst1', 'vst2'];

describe('a point-to-point TUN', kernelTestOptions(), () => {
  after(() => {
    for (const name of NAMES) if (link(name)) ip('link', 'delete', name);
  });

  test('comes up with its addresses and MTU, as ip -j reads them back; close() removes it', () => {
    const tun = openPointToPoint('vst1', '10.181.1.1', '10.181.1.2', 1400);
    try {
      const kernel = link('vst1');
      assert.ok(kernel, 'ip link shows vst1');
      assert.equal(tun.name, 'vst1');
      assert.equal(tun.index, kernel.ifindex);
      assert.equal(kernel.mtu, 1400);
      assert.equal(kernel.link_type, 'none', 'a TUN (IFF_TUN) has no link layer');
      assert.ok(kernel.flags.includes('UP') && kernel.flags.includes('POINTOPOINT'), kernel.flags.join(','));
      assert.deepEqual(
        addresses('vst1')
          .filter((a) => a.family === 'inet')
          .map((a) => [a.local, a.address, a.prefixlen]),
        [['10.181.1.1', '10.181.1.2', 32]],
      );
      assert.ok(tun.fd >= 0);
      assert.equal(tun.isNonBlocking(), false, "blocking, as the kernel opens it; the shim's reads never wait");
    } finally {
      tun.close();
    }
    assert.equal(link('vst1'), undefined, 'a non-persistent TUN goes with its last fd');
    tun.close();
  });

  test('the handle reads what the kernel routes to the peer and writes what the kernel receives', async (t) => {
    const tun = openPointToPoint('vst1', '10.181.1.1', '10.181.1.2', 1500);
    t.after(() => tun.close());
    const txqlen = () => ipJson<Array<{ txqlen: number }>>('link', 'show', 'dev', 'vst1')[0]!.txqlen;
    assert.equal(tun.raiseTxQueueLen(txqlen() + 500), txqlen());
    const raised = txqlen();
    assert.equal(tun.raiseTxQueueLen(1), raised, 'never lowered');

    const sock = createSocket('udp4');
    t.after(() => sock.close());
    await new Promise<void>((r) => sock.bind(0, '10.181.1.1', r));
    const { port } = sock.address();

    // Kernel → TUN: a datagram to the peer is routed into the device.
    const queued = new Promise<void>((resolve) => {
      const watch = tun.watchReadable(() => {
        watch.close();
        resolve();
      });
    });
    sock.send(Buffer.from('to the peer'), 9, '10.181.1.2');
    await queued;
    const buf = Buffer.alloc(64 * 1024);
    const lens = new Uint32Array(64);
    const count = tun.readBatch(buf, 2048, 0, lens);
    assert.ok(count >= 1, `read ${count}`);
    const packets = [];
    for (let i = 0, at = 0; i < count; at += lens[i]!, i++) packets.push(buf.subarray(at, at + lens[i]!));
    const udp = packets.map(readIpv4Udp).find((u) => u?.dport === 9);
    assert.deepEqual(udp && [udp.src, udp.dst, String(udp.payload)], ['10.181.1.1', '10.181.1.2', 'to the peer']);

    // TUN → kernel: a packet written into the device is delivered to the local socket.
    const got = new Promise<[string, string]>((r) => sock.once('message', (msg, from) => r([String(msg), from.address])));
    const packet = ipv4Udp('10.181.1.2', '10.181.1.1', 5353, port, Buffer.from('from the peer'));
    assert.equal(tun.write(packet), packet.length);
    assert.deepEqual(await got, ['from the peer', '10.181.1.2']);
  });

  test('a setting the kernel refuses fails the open and leaves no device behind', () => {
    assert.throws(
      () => openPointToPoint('vst2', '10.181.2.1', '10.181.2.2', 10),
      (err: unknown) => err instanceof VpnsvcError && err.errno === 'EINVAL' && /set MTU 10 on "vst2"/.test(err.message),
    );
    assert.equal(link('vst2'), undefined);
    assert.throws(() => openPointToPoint('vst2', '10.181.2.1', 'not-an-address', 1400), VpnsvcError);
    assert.equal(link('vst2'), undefined);
  });
});
