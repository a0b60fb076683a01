/** DataPlane without a kernel: one channel for whichever TUN the engine hands it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataPlane } from '../../src/dataplane/data-plane.js';
import { FRAMING_PACKET } from '../../src/dataplane/framing.js';
import type { VpnsvcError } from '../../src/errors/errors.js';
import { FakeTun, PacketSocketStub } from '../helpers/fake-tun.js';
import { ipv4Udp } from '../helpers/packets.js';

const zeros = { streamDropped: 0, writeDropped: 0, framesRejected: 0, offloadDropped: 0 };

test('channelFor keeps one channel per TUN and replaces it for a new TUN, ending the old one', async () => {
  const plane = new DataPlane();
  const first = new FakeTun('vsufake1');
  const channel = plane.channelFor(first);
  assert.equal(plane.channelFor(first), channel, 'the same TUN, the same channel');

  const ends: string[] = [];
  channel.attach(new PacketSocketStub(), FRAMING_PACKET, (why) => ends.push(why));
  const second = new FakeTun('vsufake2');
  const next = plane.channelFor(second);
  assert.notEqual(next, channel);
  assert.equal(next.tun, second);
  assert.equal(channel.closed, true);
  assert.deepEqual(ends, ['the interface was replaced']);
  assert.equal(first.watching, 0, 'the old TUN is no longer watched');
  assert.equal(next.hasStream, false);
  await assert.rejects(next.read(0), (e: VpnsvcError) => e.kind === 'VPNSVC_ERROR_TIMEOUT', 'the new channel serves reads');
});

test("counters() are the channel's of that TUN, as a copy; zeros for any other TUN", () => {
  const plane = new DataPlane();
  const tun = new FakeTun('vsufake1');
  assert.deepEqual(plane.counters(tun), zeros, 'a TUN that never carried a packet');
  const channel = plane.channelFor(tun);
  assert.throws(() => channel.write(Buffer.from('not a packet')));
  const stream = channel.attach(new PacketSocketStub(), FRAMING_PACKET, () => undefined);
  stream.reject();
  const counters = plane.counters(tun);
  assert.deepEqual(counters, { streamDropped: 0, writeDropped: 1, framesRejected: 1, offloadDropped: 0 });
  counters.writeDropped = 99;
  assert.equal(plane.counters(tun).writeDropped, 1, 'callers get a copy');
  assert.deepEqual(plane.counters(new FakeTun('vsufake2')), zeros);
});

test('release() ends the stream and reads of that TUN only, and forgets its channel', async () => {
  const plane = new DataPlane();
  const tun = new FakeTun('vsufake1');
  const channel = plane.channelFor(tun);
  const waiting = channel.read(1000);
  plane.release(new FakeTun('vsufake2'), 'not this one');
  assert.equal(channel.closed, false, 'another TUN releases nothing');

  plane.release(tun, 'the interface was removed');
  await assert.rejects(waiting, /the interface was removed/);
  assert.equal(channel.closed, true);
  assert.equal(tun.watching, 0);
  assert.deepEqual(plane.counters(tun), zeros);
  const again = plane.channelFor(tun);
  assert.notEqual(again, channel, 'a fresh channel after a release');
  tun.push(ipv4Udp('10.180.9.2', '10.180.9.1', 1, 2, Buffer.from('x')));
  assert.equal((await again.read(0)).length, 29);
});

test('close() ends whatever channel there is', () => {
  const plane = new DataPlane();
  plane.close('nothing yet');
  const tun = new FakeTun('vsufake1');
  const ends: string[] = [];
  const channel = plane.channelFor(tun);
  channel.attach(new PacketSocketStub(), FRAMING_PACKET, (why) => ends.push(why));
  plane.close('the service is stopping');
  assert.deepEqual(ends, ['the service is stopping']);
  assert.equal(channel.closed, true);
  assert.notEqual(plane.channelFor(tun), channel);
});
