/**
 * The interface lifecycle over REST against the real kernel (inside the test namespace):
 * every outcome is read back with `ip -j`, not from the service.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { build } from '../../helpers/app.js';
import { assertContract } from '../../helpers/contract.js';
import { addresses, fdFlags, ip, kernelTestOptions, link } from '../../helpers/kernel.js';

const O_NONBLOCK = 0o4000;

describe('interfaces on the kernel', kernelTestOptions(), () => {
  after(() => {
    for (const name of ['vsi0', 'vsi1', 'vsitaken', 'vsitaken0', 'vsitaken1']) {
      if (link(name)) ip('link', 'delete', name);
    }
  });

  test('POST /interfaces creates a TUN that ip link shows, with the seed defaults', async (t) => {
    const { admin } = await build(t);
    const res = await admin.post('/interfaces').send({ name: 'vsi0' });
    assert.equal(res.status, 201);
    assertContract('createInterface', res);
    const kernel = link('vsi0');
    assert.ok(kernel, 'ip link shows vsi0');
    assert.equal(kernel.link_type, 'none', 'a TUN (IFF_TUN) has no link-layer type');
    assert.equal(res.body.name, 'vsi0');
    assert.equal(res.body.index, kernel.ifindex);
    assert.equal(res.body.mtu, kernel.mtu);
    assert.equal(res.body.session, 'VPN_Session');
    assert.equal(res.body.blocking, true);
    assert.equal(res.body.up, false);
    assert.deepEqual(res.body.staged, { mtu: 1500, localIp: null, remoteIp: null, localIp6: null });
    assert.equal(fdFlags(res.body.fd) & O_NONBLOCK, 0, 'the fd is blocking by default');
  });

  test('PATCH stages, apply sets the addresses, MTU and link state that ip shows', async (t) => {
    const { admin } = await build(t);
    await admin.post('/interfaces').send({ name: 'vsi0' }).expect(201);
    const patched = await admin.patch('/interfaces/vsi0').send({ localIp: '10.66.0.1', remoteIp: '10.66.0.2', mtu: 1380 });
    assert.equal(patched.status, 200);
    assertContract('updateInterface', patched);
    assert.deepEqual(addresses('vsi0'), [], 'staged values are not in the kernel before apply');
    assert.equal(link('vsi0')?.mtu, 1500);

    const applied = await admin.post('/interfaces/vsi0/apply');
    assert.equal(applied.status, 200);
    assertContract('applyInterfaceSettings', applied);
    const [addr] = addresses('vsi0');
    assert.equal(addr?.local, '10.66.0.1');
    assert.equal(addr?.address, '10.66.0.2', 'the point-to-point peer');
    assert.equal(link('vsi0')?.mtu, 1380);
    assert.ok(link('vsi0')?.flags.includes('UP'));
    assert.equal(applied.body.localIp, '10.66.0.1');
    assert.equal(applied.body.remoteIp, '10.66.0.2');
    assert.equal(applied.body.up, true);
  });

  test('blocking and session take effect at once', async (t) => {
    const { admin } = await build(t);
    const created = await admin.post('/interfaces').send({ name: 'vsi0' }).expect(201);
    const res = await admin.patch('/interfaces/vsi0').send({ blocking: false, session: 'office' }).expect(200);
    assert.equal(res.body.blocking, false);
    assert.equal(res.body.session, 'office');
    assert.notEqual(fdFlags(created.body.fd) & O_NONBLOCK, 0, 'O_NONBLOCK is set on the fd');
    await admin.patch('/interfaces/vsi0').send({ blocking: true }).expect(200);
    assert.equal(fdFlags(created.body.fd) & O_NONBLOCK, 0);
  });

  test('a second POST replaces the first: only one VPN interface at a time', async (t) => {
    const { admin } = await build(t);
    await admin.post('/interfaces').send({ name: 'vsi0' }).expect(201);
    const second = await admin.post('/interfaces').send({ name: 'vsi1' }).expect(201);
    assert.equal(second.body.name, 'vsi1');
    assert.equal(link('vsi0'), undefined, 'the first TUN is gone from the kernel');
    assert.ok(link('vsi1'));
    const list = await admin.get('/interfaces').expect(200);
    assertContract('listInterfaces', list);
    assert.deepEqual(
      list.body.map((i: { name: string }) => i.name),
      ['vsi1'],
    );
    // The same name again replaces it in place rather than picking another name.
    const again = await admin.post('/interfaces').send({ name: 'vsi1' }).expect(201);
    assert.equal(again.body.name, 'vsi1');
    assert.notEqual(again.body.index, second.body.index);
  });

  test('a name taken by another interface yields a different actual name', async (t) => {
    const { admin } = await build(t);
    // Someone else's persistent TUN: attaching to it would hijack its traffic (IFF_TUN_EXCL).
    ip('tuntap', 'add', 'dev', 'vsitaken', 'mode', 'tun');
    const res = await admin.post('/interfaces').send({ name: 'vsitaken' }).expect(201);
    assert.notEqual(res.body.name, 'vsitaken');
    assert.match(res.body.name, /^vsitaken\d+$/);
    assert.equal(link(res.body.name)?.ifindex, res.body.index, 'the actual name is in the kernel');
    assert.notEqual(link('vsitaken')?.ifindex, res.body.index, 'the other interface is untouched');
    await admin.delete(`/interfaces/${res.body.name}`).expect(204);
    assert.ok(link('vsitaken'), 'deinit leaves the other interface alone');
    ip('link', 'delete', 'vsitaken');
  });

  test('DELETE removes the device; a second DELETE is 404', async (t) => {
    const { admin } = await build(t);
    await admin.post('/interfaces').send({ name: 'vsi0' }).expect(201);
    const res = await admin.delete('/interfaces/vsi0');
    assert.equal(res.status, 204);
    assert.equal(link('vsi0'), undefined);
    const again = await admin.delete('/interfaces/vsi0');
    assert.equal(again.status, 404);
    assertContract('deleteInterface', again);
    assert.equal(again.body.error, 'VPNSVC_ERROR_NO_SUCH_FILE');
  });

  test('apply without addresses is INVALID_PARAMETER and leaves the kernel as it was', async (t) => {
    const { admin } = await build(t);
    await admin.post('/interfaces').send({ name: 'vsi0' }).expect(201);
    await admin.patch('/interfaces/vsi0').send({ localIp: '10.66.0.1' }).expect(200);
    const res = await admin.post('/interfaces/vsi0/apply');
    assert.equal(res.status, 400);
    assertContract('applyInterfaceSettings', res);
    assert.equal(res.body.error, 'VPNSVC_ERROR_INVALID_PARAMETER');
    assert.equal(res.body.code, -22);
    assert.match(res.body.message, /remoteIp not set/);
    assert.deepEqual(addresses('vsi0'), []);
    assert.ok(!link('vsi0')?.flags.includes('UP'));
  });

  test('a PATCH with one bad field changes nothing', async (t) => {
    const { admin } = await build(t);
    await admin.post('/interfaces').send({ name: 'vsi0' }).expect(201);
    const res = await admin.patch('/interfaces/vsi0').send({ session: 'kept', mtu: 20 });
    assert.equal(res.status, 400);
    const now = await admin.get('/interfaces/vsi0').expect(200);
    assert.equal(now.body.session, 'VPN_Session');
  });

  test("an interface deleted behind the daemon's back answers 404 and frees the handle", async (t) => {
    const { admin } = await build(t);
    await admin.post('/interfaces').send({ name: 'vsi0' }).expect(201);
    ip('link', 'delete', 'vsi0');
    const res = await admin.get('/interfaces/vsi0');
    assert.equal(res.status, 404);
    assert.match(res.body.message, /removed outside vpnsvc/);
    assert.deepEqual((await admin.get('/interfaces').expect(200)).body, []);
  });

  test('counters come from the kernel', async (t) => {
    const { admin } = await build(t);
    await admin.post('/interfaces').send({ name: 'vsi0' }).expect(201);
    await admin.patch('/interfaces/vsi0').send({ localIp: '10.66.0.1', remoteIp: '10.66.0.2' }).expect(200);
    await admin.post('/interfaces/vsi0/apply').expect(200);
    const created = await admin.patch('/interfaces/vsi0').send({ blocking: false }).expect(200);
    const before = created.body.counters;
    // A UDP datagram routed to the peer goes into the TUN; the kernel counts it as tx once
    // it is read from the fd.
    const sock = createSocket('udp4');
    await new Promise<void>((resolve, reject) => sock.send(Buffer.from('hello'), 9, '10.66.0.2', (e) => (e ? reject(e) : resolve())));
    sock.close();
    // Drain the fd (the kernel may also have queued IPv6 housekeeping such as MLD reports).
    const packets: Buffer[] = [];
    for (;;) {
      const buf = Buffer.alloc(2048);
      try {
        packets.push(buf.subarray(0, readSync(created.body.fd, buf)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw err;
      }
    }
    const udp = packets.find((p) => p[0]! >> 4 === 4 && p[9] === 17);
    assert.ok(udp, 'the IPv4 UDP datagram came out of the TUN');
    assert.equal([...udp.subarray(16, 20)].join('.'), '10.66.0.2');
    const afterRead = (await admin.get('/interfaces/vsi0')).body.counters;
    assert.equal(afterRead.txPackets, before.txPackets + packets.length);
    assert.equal(afterRead.txBytes, before.txBytes + packets.reduce((n, p) => n + p.length, 0));
  });
});
