/** The stream's framings: names, header sizes, and the negotiation by sub-protocol. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FRAME_HEADER_BYTES,
  FRAMING_BATCH,
  FRAMING_GSO,
  FRAMING_PACKET,
  FRAMINGS,
  framingOf,
  headerBytes,
  MAX_PACKET,
  prefixBytes,
  selectFraming,
} from '../../src/dataplane/framing.js';
import { FakeTun } from '../helpers/fake-tun.js';
import { batch, ipv4Udp, splitBatch } from '../helpers/packets.js';

test('the packet framing has no header; the batch framing a u16 length', () => {
  assert.equal(headerBytes(FRAMING_PACKET), 0);
  assert.equal(headerBytes(FRAMING_BATCH), FRAME_HEADER_BYTES);
  assert.equal(FRAME_HEADER_BYTES, 2);
  assert.equal(MAX_PACKET, 0xffff, 'the largest packet a u16 length can carry');
  assert.deepEqual([...FRAMINGS].sort(), ['vpnsvc.batch.v1', 'vpnsvc.gso.v1', 'vpnsvc.packet.v1']);
});

test('the gso framing: a u32 length, then a 10-byte virtio_net_hdr before every packet', () => {
  assert.equal(headerBytes(FRAMING_GSO), 4);
  assert.equal(prefixBytes(FRAMING_GSO), 14);
  assert.equal(prefixBytes(FRAMING_BATCH), 2);
  assert.equal(prefixBytes(FRAMING_PACKET), 0);
  assert.equal(framingOf('vpnsvc.gso.v1'), FRAMING_GSO);
  assert.equal(framingOf(''), FRAMING_PACKET, 'no sub-protocol in the answer: the default framing');
  assert.equal(selectFraming([FRAMING_GSO, FRAMING_BATCH]), FRAMING_GSO);
  assert.equal(selectFraming(['vpnsvc.gso.v2', FRAMING_BATCH]), FRAMING_BATCH, 'a client falls back to what the server knows');
});

test('selectFraming picks the first framing offered that vpnsvc knows; none known is false', () => {
  assert.equal(selectFraming(['chat', FRAMING_BATCH, FRAMING_PACKET]), FRAMING_BATCH);
  assert.equal(selectFraming([FRAMING_PACKET, FRAMING_BATCH]), FRAMING_PACKET);
  assert.equal(selectFraming(new Set([FRAMING_BATCH])), FRAMING_BATCH, 'any iterable, as ws hands a Set');
  assert.equal(selectFraming([]), false);
  assert.equal(selectFraming(['chat', 'VPNSVC.BATCH.V1', 'vpnsvc.batch.v2']), false, 'names are exact');
});

test('a batch frame round-trips through the TUN framing, up to a packet of MAX_PACKET bytes', () => {
  const packets = [40, 1500, MAX_PACKET].map((size) => ipv4Udp('10.180.9.2', '10.180.9.1', 1, 2, Buffer.alloc(size - 28, 7)));
  const frame = batch(packets);
  assert.equal(
    frame.length,
    packets.reduce((n, p) => n + FRAME_HEADER_BYTES + p.length, 0),
  );
  const tun = new FakeTun();
  const stats = new Float64Array(3);
  assert.equal(tun.writeBatch(frame, FRAME_HEADER_BYTES, null, 0, stats), 3);
  assert.deepEqual(tun.written, packets);
  assert.deepEqual([...stats], [3, 0, 40 + 1500 + MAX_PACKET]);
  assert.deepEqual(splitBatch(frame), packets);
});
