/**
 * PacketChannel and PacketStream without a kernel: a FakeTun that frames bytes as the native
 * shim does, and a stub stream client whose bufferedAmount the test sets.
 */
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { describe, test } from 'node:test';
import { FRAMING_BATCH, FRAMING_PACKET, MAX_PACKET } from '../../src/dataplane/framing.js';
import {
  PACKET_STREAM_HIGH_WATER_MARK,
  PacketChannel,
  STREAM_HIGH_WATER_MARK,
  STREAM_TUN_QUEUE_LEN,
} from '../../src/dataplane/packet-channel.js';
import { type ErrorName, VpnsvcError } from '../../src/errors/errors.js';
import { FakeTun, PacketSocketStub } from '../helpers/fake-tun.js';
import { batch, ipv4Udp, readIpv4Udp, splitBatch } from '../helpers/packets.js';

const EBADFD = 77;
/** The largest batch message the stream sends unless one packet is larger (see PacketStream.pump). */
const BATCH_MESSAGE_BYTES = 16 * 1024;

/** An IPv4/UDP packet of exactly `size` bytes whose destination port tells it apart. */
function packet(port: number, size = 60): Buffer {
  return ipv4Udp('10.180.9.2', '10.180.9.1', 40000, port, Buffer.alloc(size - 28, port & 0xff));
}

const portOf = (p: Buffer): number | undefined => readIpv4Udp(p)?.dport;

/** Lets the fake's readiness callbacks (setImmediate) run until `cond` holds. */
async function until(what: string, cond: () => boolean, turns = 50): Promise<void> {
  for (let i = 0; i < turns && !cond(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

function isError(kind: ErrorName, message?: RegExp, errno?: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof VpnsvcError, `a VpnsvcError, got ${String(err)}`);
    assert.equal(err.kind, kind);
    if (message) assert.match(err.message, message);
    if (errno) assert.equal(err.errno, errno);
    return true;
  };
}

function channel(): { tun: FakeTun; ch: PacketChannel } {
  const tun = new FakeTun('vsufake0');
  return { tun, ch: new PacketChannel(tun) };
}

describe('REST reads and writes', () => {
  test('a read returns a packet already queued, as a copy of its size, without watching the fd', async () => {
    const { tun, ch } = channel();
    tun.push(packet(1, 100), packet(2));
    const got = await ch.read(0);
    assert.equal(got.length, 100);
    assert.equal(portOf(got), 1);
    assert.equal(got.buffer.byteLength < MAX_PACKET, true, 'not a view into the 64 KiB read buffer');
    assert.equal(tun.queue.length, 1, 'one packet per read');
    assert.equal(tun.watching, 0);
  });

  test('with nothing queued, a zero timeout is VPNSVC_ERROR_TIMEOUT at once', async () => {
    const { ch } = channel();
    await assert.rejects(ch.read(0), isError('VPNSVC_ERROR_TIMEOUT', /no packet queued on "vsufake0"/));
  });

  test('a waiting read is woken by the packet that arrives, and stops watching after', async () => {
    const { tun, ch } = channel();
    const pending = ch.read(1000);
    await turn();
    assert.equal(tun.watching, 1, 'the fd is watched while a read waits');
    tun.push(packet(7));
    const started = Date.now();
    assert.equal(portOf(await pending), 7);
    assert.ok(Date.now() - started < 100, 'woken by readiness, not by the timeout');
    assert.equal(tun.watching, 0, 'idle packets stay in the kernel');
  });

  test('several waiting reads are served in order, one packet each', async () => {
    const { tun, ch } = channel();
    const first = ch.read(1000);
    const second = ch.read(1000);
    tun.push(packet(1), packet(2), packet(3));
    assert.deepEqual([portOf(await first), portOf(await second)], [1, 2]);
    assert.equal(tun.queue.length, 1, 'the third stays queued for the next reader');
  });

  test('a read that waits in vain times out with VPNSVC_ERROR_TIMEOUT naming the wait', async () => {
    const { tun, ch } = channel();
    const started = Date.now();
    await assert.rejects(ch.read(15), isError('VPNSVC_ERROR_TIMEOUT', /no packet on "vsufake0" within 15 ms/));
    assert.ok(Date.now() - started >= 14, 'it waited');
    assert.equal(tun.watching, 0);
  });

  test('an aborted read gives up its wait and takes no packet with it', async () => {
    const { tun, ch } = channel();
    const abort = new AbortController();
    const pending = ch.read(1000, abort.signal);
    await turn();
    abort.abort();
    await assert.rejects(pending, /read abandoned by its caller/);
    assert.equal(tun.watching, 0);
    tun.push(packet(9));
    await turn();
    assert.equal(tun.queue.length, 1, 'the packet waits for the next reader');
    assert.equal(portOf(await ch.read(0)), 9);
  });

  test('a TUN that fails to read fails the waiting read with IO_ERROR and its errno', async () => {
    const { tun, ch } = channel();
    const pending = ch.read(1000);
    tun.readError = -EBADFD;
    tun.push();
    await assert.rejects(pending, isError('VPNSVC_ERROR_IO_ERROR', /read from "vsufake0": EBADFD/, 'EBADFD'));
    await until('the watch to close', () => tun.watching === 0);
  });

  test('a TUN that fails to read rejects the promise of a read that did not wait', async () => {
    const { tun, ch } = channel();
    tun.readError = -EBADFD;
    let result: Promise<Buffer> | undefined;
    try {
      result = ch.read(0);
    } catch (err) {
      assert.fail(`read threw synchronously: ${(err as Error).message}`);
    }
    await assert.rejects(result, isError('VPNSVC_ERROR_IO_ERROR', /EBADFD/));
  });

  test('a write puts one packet into the TUN; one the TUN refuses is IO_ERROR and counted', () => {
    const { tun, ch } = channel();
    const p = packet(5, 80);
    assert.equal(ch.write(p), 80);
    assert.deepEqual(tun.written, [p]);
    assert.throws(
      () => ch.write(Buffer.from('not an IP packet, too short')),
      isError('VPNSVC_ERROR_IO_ERROR', /write a packet to "vsufake0": EINVAL/, 'EINVAL'),
    );
    assert.deepEqual(ch.counters, { streamDropped: 0, writeDropped: 1, framesRejected: 0, offloadDropped: 0 });
  });
});

describe('one stream per interface', () => {
  test('while a stream is attached, reads and a second stream are refused with EBUSY', async () => {
    const { tun, ch } = channel();
    const stream = ch.attach(new PacketSocketStub(), FRAMING_PACKET, () => undefined);
    assert.equal(ch.hasStream, true);
    assert.equal(tun.txQueueLen, STREAM_TUN_QUEUE_LEN, "the kernel's queue for a streaming reader is raised");
    await assert.rejects(ch.read(0), isError('VPNSVC_ERROR_IO_ERROR', /"vsufake0" is busy: a stream is attached/, 'EBUSY'));
    assert.throws(
      () => ch.attach(new PacketSocketStub(), FRAMING_BATCH, () => undefined),
      isError('VPNSVC_ERROR_IO_ERROR', /one stream per interface/, 'EBUSY'),
    );
    assert.throws(() => ch.requireNoStream(), isError('VPNSVC_ERROR_IO_ERROR', undefined, 'EBUSY'));

    ch.detach(stream);
    assert.equal(ch.hasStream, false);
    assert.equal(tun.watching, 0);
    tun.push(packet(3));
    assert.equal(portOf(await ch.read(0)), 3, 'REST reads work again');
    assert.doesNotThrow(() => ch.attach(new PacketSocketStub(), FRAMING_PACKET, () => undefined), 'the next client gets the stream');
  });

  test('a stream attached while reads wait takes over: the reads fail with EBUSY', async () => {
    const { ch } = channel();
    const waiting = ch.read(1000);
    ch.attach(new PacketSocketStub(), FRAMING_PACKET, () => undefined);
    await assert.rejects(waiting, isError('VPNSVC_ERROR_IO_ERROR', /a stream was attached while this read waited/, 'EBUSY'));
  });

  test('detaching a stream that is no longer attached changes nothing', () => {
    const { ch } = channel();
    const old = ch.attach(new PacketSocketStub(), FRAMING_PACKET, () => undefined);
    ch.detach(old);
    ch.attach(new PacketSocketStub(), FRAMING_PACKET, () => undefined);
    ch.detach(old);
    assert.equal(ch.hasStream, true);
  });
});

describe('the stream, packet framing', () => {
  test('every packet of the TUN is one message to the client, corked per wakeup', async () => {
    const { tun, ch } = channel();
    const socket = new PacketSocketStub();
    const stream = ch.attach(socket, FRAMING_PACKET, () => undefined);
    const packets = [packet(1, 40), packet(2, 1500), packet(3, 28 + 0)];
    tun.push(...packets);
    await until('three messages', () => socket.sent.length === 3);
    assert.deepEqual(socket.sent, packets);
    assert.equal(stream.moved.toClient, 3);
    assert.equal(tun.queue.length, 0);
    assert.ok(socket.corks >= 1);
    assert.equal(socket.corked, 0, 'every cork is undone');
  });

  test('every message of the client is one packet into the TUN; non-IP ones are dropped and counted', () => {
    const { tun, ch } = channel();
    const stream = ch.attach(new PacketSocketStub(), FRAMING_PACKET, () => undefined);
    stream.receive(packet(10));
    stream.receive(Buffer.from('junk junk junk junk junk'));
    stream.receive(packet(11));
    assert.deepEqual(tun.written.map(portOf), [10, 11]);
    assert.equal(stream.moved.fromClient, 2);
    assert.deepEqual(ch.counters, { streamDropped: 0, writeDropped: 1, framesRejected: 0, offloadDropped: 0 });
  });

  test('over the high-water mark, packets are drained from the TUN and dropped, not queued', async () => {
    const { tun, ch } = channel();
    const socket = new PacketSocketStub();
    ch.attach(socket, FRAMING_PACKET, () => undefined);
    socket.bufferedAmount = PACKET_STREAM_HIGH_WATER_MARK + 1;
    tun.push(packet(1), packet(2), packet(3));
    await until('the TUN drained', () => tun.queue.length === 0);
    assert.equal(socket.sent.length, 0, 'nothing sent');
    assert.equal(ch.counters.streamDropped, 3);

    socket.bufferedAmount = PACKET_STREAM_HIGH_WATER_MARK;
    tun.push(packet(4));
    await until('the next packet', () => socket.sent.length === 1);
    assert.equal(portOf(socket.sent[0] as Buffer), 4, 'at the mark (not over it) packets flow again');
    assert.equal(ch.counters.streamDropped, 3);
  });
});

describe('the stream, batch framing', () => {
  test('packets go as [u16 BE length][packet]..., messages split at 16 KiB', async () => {
    const { tun, ch } = channel();
    const socket = new PacketSocketStub();
    const stream = ch.attach(socket, FRAMING_BATCH, () => undefined);
    const packets = Array.from({ length: 20 }, (_, i) => packet(100 + i, 1500));
    tun.push(...packets);
    await until('20 packets', () => socket.sent.flatMap(splitBatch).length === 20);
    assert.deepEqual(socket.sent.flatMap(splitBatch), packets, 'in order, byte for byte');
    const perMessage = Math.floor(BATCH_MESSAGE_BYTES / 1502);
    assert.deepEqual(
      socket.sent.map((m) => m.length),
      [perMessage * 1502, (20 - perMessage) * 1502],
      'as many packets as fit in 16 KiB per message',
    );
    assert.equal(stream.moved.toClient, 20);
  });

  test('a packet larger than 16 KiB travels in a message of its own', async () => {
    const { tun, ch } = channel();
    const socket = new PacketSocketStub();
    ch.attach(socket, FRAMING_BATCH, () => undefined);
    const small = packet(1, 100);
    const big = packet(2, 20_000);
    tun.push(small, big, packet(3, 100), packet(4, MAX_PACKET));
    await until('4 packets', () => socket.sent.flatMap(splitBatch).length === 4);
    assert.deepEqual(
      socket.sent.map((m) => m.length),
      [102, 20_002, 102, MAX_PACKET + 2],
    );
    assert.deepEqual(
      socket.sent.map(splitBatch).map((ps) => ps.map(portOf)),
      [[1], [2], [3], [4]],
    );
  });

  test('a batch frame from the client lands packet by packet; non-IP packets are dropped, damaged frames rejected', () => {
    const { tun, ch } = channel();
    const stream = ch.attach(new PacketSocketStub(), FRAMING_BATCH, () => undefined);
    stream.receive(batch([packet(1), Buffer.from('junk junk junk junk junk'), packet(2)]));
    assert.deepEqual(tun.written.map(portOf), [1, 2]);
    assert.deepEqual(ch.counters, { streamDropped: 0, writeDropped: 1, framesRejected: 0, offloadDropped: 0 });
    // A length that overruns the message: the packet before the damage still lands.
    stream.receive(Buffer.concat([batch([packet(3)]), Buffer.from([0x05, 0xdc, 0x45, 0x00])]));
    assert.deepEqual(tun.written.map(portOf), [1, 2, 3]);
    assert.equal(ch.counters.framesRejected, 1);
    stream.receive(Buffer.from([0x00]));
    stream.reject();
    assert.equal(ch.counters.framesRejected, 3, 'a lone header byte and a frame of the wrong kind');
  });

  test('over the high-water mark, whole reads are dropped and counted', async () => {
    const { tun, ch } = channel();
    const socket = new PacketSocketStub();
    ch.attach(socket, FRAMING_BATCH, () => undefined);
    socket.bufferedAmount = STREAM_HIGH_WATER_MARK + 1;
    tun.push(...Array.from({ length: 100 }, (_, i) => packet(i)));
    await until('the TUN drained', () => tun.queue.length === 0);
    assert.equal(socket.sent.length, 0, 'nothing sent');
    assert.equal(ch.counters.streamDropped, 100);
    socket.bufferedAmount = 0;
    tun.push(packet(7));
    await until('the next packet', () => socket.sent.length === 1);
    assert.deepEqual(splitBatch(socket.sent[0] as Buffer).map(portOf), [7]);
  });
});

describe('the end of a stream', () => {
  test('close() ends the stream and the waiting reads, and stops watching the fd', async () => {
    const { tun, ch } = channel();
    const ends: string[] = [];
    ch.attach(new PacketSocketStub(), FRAMING_BATCH, (why) => ends.push(why));
    ch.close('the interface was removed');
    assert.deepEqual(ends, ['the interface was removed']);
    assert.equal(ch.hasStream, false);
    assert.equal(ch.closed, true);
    assert.equal(tun.watching, 0);

    const other = channel();
    const waiting = other.ch.read(1000);
    other.ch.close('the interface was removed');
    await assert.rejects(
      waiting,
      isError('VPNSVC_ERROR_NO_SUCH_FILE', /read from "vsufake0": the interface was removed: ENODEV/, 'ENODEV'),
    );
    assert.equal(other.tun.watching, 0);
  });

  test('a TUN that fails to read ends the stream with the errno instead of spinning', async () => {
    const { tun, ch } = channel();
    const ends: string[] = [];
    ch.attach(new PacketSocketStub(), FRAMING_PACKET, (why) => ends.push(why));
    tun.readError = -EBADFD;
    tun.push();
    await until('the end of the stream', () => ends.length > 0);
    assert.deepEqual(ends, ['reading the TUN failed: EBADFD']);
    assert.equal(ch.hasStream, false);
    assert.equal(tun.watching, 0);
    const reads = tun.reads;
    await turn();
    await turn();
    assert.equal(tun.reads, reads, 'no more reads of the broken TUN');
  });

  test('the fake frames exactly as the shim: u16 BE length before each packet, lengths in lens', () => {
    const tun = new FakeTun();
    tun.push(packet(1, 300), packet(2, 40));
    const buf = Buffer.alloc(MAX_PACKET + 2 + 300);
    const lens = new Uint32Array(4);
    assert.equal(tun.readBatch(buf, MAX_PACKET, 2, lens), 1, 'after the first packet there is no room for another of pktMax');
    assert.equal(buf.readUInt16BE(0), 300);
    assert.equal(lens[0], 300);
    assert.equal(tun.readBatch(Buffer.alloc(10), MAX_PACKET, 2, lens), 0, 'no room: nothing read');
    assert.equal(tun.readBatch(buf, MAX_PACKET, 3, lens), -constants.errno.EINVAL, 'only 0 or 2 header bytes');
  });
});
