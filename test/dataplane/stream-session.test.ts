/**
 * The WebSocket side of a stream, as both threads run it: binary messages to the stream, text
 * closes with 1003, a message over one packet in the packet framing with 1009, the daemon's end
 * with 1001 and a reason ws accepts, and nothing reaches the stream after that end.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { FRAMING_BATCH, FRAMING_PACKET, type Framing, MAX_PACKET } from '../../src/dataplane/framing.js';
import { CLOSE_REASON_CHARS, StreamSession, type StreamWebSocket } from '../../src/dataplane/stream-session.js';

class FakeWebSocket extends EventEmitter implements StreamWebSocket {
  readyState = 1;
  bufferedAmount = 0;
  readonly closes: Array<[number, string]> = [];
  send(): void {}
  ping(): void {}
  terminate(): void {}
  close(code: number, reason: string): void {
    this.closes.push([code, reason]);
    this.readyState = 2;
  }
}

function session(framing: Framing = FRAMING_PACKET) {
  const ws = new FakeWebSocket();
  const received: Buffer[] = [];
  const events: string[] = [];
  const stream = { receive: (b: Buffer) => received.push(b), reject: () => events.push('rejected') };
  const s = new StreamSession(ws, stream, framing, {
    closed: (code) => events.push(`closed ${code}`),
    failed: (err) => events.push(`failed ${err.message}`),
  });
  return { ws, s, received, events };
}

test('binary messages reach the stream; text is rejected and closes with 1003', () => {
  const { ws, received, events } = session();
  ws.emit('message', Buffer.from([0x45, 0]), true);
  assert.equal(received.length, 1);
  ws.emit('message', Buffer.from('hello'), false);
  assert.deepEqual(events, ['rejected']);
  assert.deepEqual(ws.closes, [[1003, 'binary messages only']]);
  assert.equal(received.length, 1);
});

test('the packet framing takes one packet per message (1009 above it); the batch framing leaves the limit to ws', () => {
  const packet = session(FRAMING_PACKET);
  packet.ws.emit('message', Buffer.alloc(MAX_PACKET + 1), true);
  assert.deepEqual(packet.events, ['rejected']);
  assert.equal(packet.ws.closes[0]?.[0], 1009);
  const batched = session(FRAMING_BATCH);
  batched.ws.emit('message', Buffer.alloc(MAX_PACKET + 1), true);
  assert.equal(batched.received.length, 1);
  assert.deepEqual(batched.ws.closes, []);
});

test("the daemon's end: 1001 with a reason ws accepts, once; later messages go nowhere", () => {
  const { ws, s, received } = session();
  s.end(`the interface was removed ${'x'.repeat(200)}`);
  s.end('again');
  assert.equal(ws.closes.length, 1);
  assert.equal(ws.closes[0]?.[0], 1001);
  assert.equal(ws.closes[0]?.[1].length, CLOSE_REASON_CHARS);
  ws.emit('message', Buffer.from([0x45, 0]), true);
  assert.equal(received.length, 0, 'the TUN may already be closed');
});

test('errors and the close are reported; a closed client is not sent a close', () => {
  const { ws, s, events } = session();
  ws.emit('error', new Error('read ECONNRESET'));
  ws.readyState = 3;
  ws.emit('close', 1006);
  s.end('the interface was removed');
  assert.deepEqual(events, ['failed read ECONNRESET', 'closed 1006']);
  assert.deepEqual(ws.closes, []);
});
