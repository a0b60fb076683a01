import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventBus, currentReason, withReason } from '../../src/engine/events.js';

test('seq increases by one; the history is bounded and resumes from any retained seq', () => {
  const bus = new EventBus(4);
  for (let i = 1; i <= 6; i++) bus.emit('t', { data: { i } });
  assert.equal(bus.headSeq, 6);
  assert.equal(bus.oldestSeq, 3);
  assert.deepEqual(bus.after(4).events.map((e) => e.seq), [5, 6]);
  assert.equal(bus.after(4).lost, false);
  assert.deepEqual(bus.after(2, bus.epoch), { lost: false, events: bus.after(2).events });
  assert.deepEqual(bus.after(2).events.map((e) => e.seq), [3, 4, 5, 6]);
  assert.deepEqual(bus.after(6).events, []);
});

test('a position older than the history, ahead of it, or from another run is lost', () => {
  const bus = new EventBus(4);
  for (let i = 0; i < 6; i++) bus.emit('t');
  for (const [since, epoch] of [[1, undefined], [0, undefined], [7, undefined], [5, 'another-run']] as const) {
    const r = bus.after(since, epoch);
    assert.equal(r.lost, true, `since ${since} epoch ${epoch}`);
    assert.deepEqual(r.events.map((e) => e.seq), [3, 4, 5, 6]);
  }
});

test('the reason comes from the async context, across awaits; the default is the daemon', async () => {
  const bus = new EventBus();
  assert.deepEqual(currentReason(), { source: 'daemon' });
  await withReason({ source: 'api', token: 'ui', requestId: 'r1' }, async () => {
    await new Promise((r) => setTimeout(r, 1));
    bus.emit('x');
  });
  assert.deepEqual(bus.after(0).events[0]!.reason, { source: 'api', token: 'ui', requestId: 'r1' });
  assert.deepEqual(bus.emit('y', { reason: { source: 'kernel' } }).reason, { source: 'kernel' });
});

test('a throwing listener neither stops the others nor the emitter', () => {
  const bus = new EventBus();
  const errors: unknown[] = [];
  bus.onListenerError = (e) => errors.push(e);
  const seen: number[] = [];
  bus.subscribe(() => {
    throw new Error('boom');
  });
  const off = bus.subscribe((e) => seen.push(e.seq));
  bus.emit('a');
  off();
  bus.emit('b');
  assert.deepEqual(seen, [1]);
  assert.equal(errors.length, 2);
});
