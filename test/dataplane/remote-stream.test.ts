/**
 * A PacketChannel whose stream runs elsewhere (a worker thread): exclusive like a local one,
 * the fd left unwatched, its counters joined live and kept after it ends, and stopped before
 * the channel says the stream ended.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FRAMING_BATCH } from '../../src/dataplane/framing.js';
import { PacketChannel, type PacketCounters, type RemoteStream, STREAM_TUN_QUEUE_LEN } from '../../src/dataplane/packet-channel.js';
import { FakeTun, PacketSocketStub } from '../helpers/fake-tun.js';
import { ipv4Udp } from '../helpers/packets.js';

class RemoteStub implements RemoteStream {
  readonly counters: PacketCounters = { streamDropped: 0, writeDropped: 0, framesRejected: 0, offloadDropped: 0 };
  readonly log: string[] = [];
  stop(why: string): void {
    this.log.push(`stop: ${why}`);
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('a remote stream holds the channel: EBUSY for a second stream and for reads, waiting reads refused, the fd unwatched', async () => {
  const tun = new FakeTun('vsufake0');
  const ch = new PacketChannel(tun);
  const waiting = ch.read(5000);
  const remote = new RemoteStub();
  ch.attachRemote(remote, () => undefined);
  await assert.rejects(waiting, /a stream was attached while this read waited/);
  assert.equal(ch.hasStream, true);
  assert.equal(tun.txQueueLen, STREAM_TUN_QUEUE_LEN, 'the kernel queue is raised as for a local stream');
  assert.throws(() => ch.requireNoStream(), /EBUSY/);
  assert.throws(() => ch.attach(new PacketSocketStub(), FRAMING_BATCH, () => undefined), /EBUSY/);
  assert.throws(() => ch.attachRemote(new RemoteStub(), () => undefined), /EBUSY/);
  await assert.rejects(ch.read(0), /EBUSY/);
  const reads = tun.reads;
  tun.push(ipv4Udp('10.180.9.2', '10.180.9.1', 1, 2, Buffer.from('for the worker')));
  await turn();
  assert.equal(tun.watching, 0, "the remote stream reads the TUN itself; this thread's poll would race it");
  assert.equal(tun.reads, reads);
  assert.equal(tun.queue.length, 1);
});

test("a remote stream's counters join the channel's live, and stay after it detaches", () => {
  const ch = new PacketChannel(new FakeTun('vsufake1'));
  assert.throws(() => ch.write(Buffer.from('not IP')));
  const remote = new RemoteStub();
  ch.attachRemote(remote, () => undefined);
  remote.counters.streamDropped = 7;
  remote.counters.framesRejected = 2;
  assert.deepEqual(ch.counters, { streamDropped: 7, writeDropped: 1, framesRejected: 2, offloadDropped: 0 });
  remote.counters.streamDropped = 9;
  assert.equal(ch.counters.streamDropped, 9, 'read as they change');
  ch.detach(remote);
  assert.equal(ch.hasStream, false);
  assert.deepEqual(remote.log, [], 'a stream that left on its own is not stopped again');
  remote.counters.streamDropped = 100;
  assert.deepEqual(
    ch.counters,
    { streamDropped: 9, writeDropped: 1, framesRejected: 2, offloadDropped: 0 },
    'kept, and no longer followed',
  );
  ch.detach(remote);
  assert.equal(ch.counters.streamDropped, 9, 'a second detach adds nothing');
});

test('closing the channel stops the remote stream before it reports the end', () => {
  const ch = new PacketChannel(new FakeTun('vsufake2'));
  const remote = new RemoteStub();
  ch.attachRemote(remote, (why) => remote.log.push(`ended: ${why}`));
  remote.counters.writeDropped = 3;
  ch.close('the interface was removed');
  assert.deepEqual(remote.log, ['stop: the interface was removed', 'ended: the interface was removed']);
  assert.equal(ch.hasStream, false);
  assert.equal(ch.counters.writeDropped, 3);
});
