import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BrowserSessions, type EndReason } from '../../src/tokens/browser-sessions.js';
import { hashToken, type TokenEntry, TokenStore } from '../../src/tokens/token-store.js';

const admin: TokenEntry = { id: 'admin', sha256: hashToken('admin-secret-token'), privileges: ['vpnservice', 'internet'] };
const reader: TokenEntry = { id: 'reader', sha256: hashToken('reader-secret-token'), privileges: [] };

function setup(limits = { idleMs: 1000, maxAgeMs: 5000, max: 3 }) {
  let now = 1_000_000;
  let entries = [admin, reader];
  const store = { byHash: (h: string) => entries.find((e) => e.sha256 === h) };
  const sessions = new BrowserSessions(limits, store, () => now);
  const ended: EndReason[] = [];
  sessions.onEnd((_s, why) => ended.push(why));
  return {
    sessions,
    ended,
    advance: (ms: number) => {
      now += ms;
    },
    setEntries: (e: TokenEntry[]) => {
      entries = e;
    },
  };
}

test('a session stands for its token; the secret is random and only its hash is kept', () => {
  const { sessions } = setup();
  const a = sessions.create(admin);
  const b = sessions.create(admin);
  assert.notEqual(a.secret, b.secret);
  assert.ok(a.secret.length >= 40);
  assert.notEqual(a.session.key, a.secret);
  assert.equal(sessions.use(a.secret)?.entry.id, 'admin');
  assert.equal(sessions.use('not-a-session'), undefined);
});

test('idle and absolute limits end a session; use moves the idle limit, not the absolute one', () => {
  const { sessions, advance, ended } = setup();
  const { secret } = sessions.create(admin);
  for (let i = 0; i < 4; i++) {
    advance(900);
    assert.ok(sessions.use(secret), `used within the idle limit (${i})`);
  }
  advance(900);
  assert.ok(sessions.use(secret));
  advance(500);
  assert.equal(sessions.use(secret), undefined, 'past the absolute limit although used');
  assert.deepEqual(ended, ['expired']);

  const idle = sessions.create(admin);
  advance(1001);
  sessions.sweep();
  assert.equal(sessions.use(idle.secret), undefined);
  assert.deepEqual(ended, ['expired', 'idle']);
});

test('a removed or rotated token ends its sessions; changed privileges apply at once', () => {
  const { sessions, setEntries, ended } = setup();
  const a = sessions.create(admin);
  const r = sessions.create(reader);
  setEntries([{ ...admin, privileges: ['vpnservice'] }, reader]);
  assert.deepEqual(sessions.use(a.secret)?.entry.privileges, ['vpnservice']);
  setEntries([{ ...admin, sha256: hashToken('rotated-admin-token') }, reader]);
  assert.equal(sessions.use(a.secret), undefined, 'the admin token was rotated');
  setEntries([admin]);
  sessions.sweep();
  assert.equal(sessions.use(r.secret), undefined, 'the reader token was deleted');
  assert.deepEqual(ended, ['token removed', 'token removed']);
});

test('at most max sessions: the least recently used one ends first', () => {
  const { sessions, ended } = setup();
  const first = sessions.create(admin);
  const second = sessions.create(admin);
  sessions.create(admin);
  assert.ok(sessions.use(first.secret), 'first is now the most recently used');
  sessions.create(admin);
  assert.equal(sessions.size, 3);
  assert.equal(sessions.use(second.secret), undefined);
  assert.ok(sessions.use(first.secret));
  assert.deepEqual(ended, ['evicted']);
});

test('logout ends exactly that session; the token store looks up entries by hash', () => {
  const { sessions } = setup();
  const a = sessions.create(admin);
  const b = sessions.create(admin);
  assert.equal(sessions.logout(a.secret), true);
  assert.equal(sessions.logout(a.secret), false);
  assert.equal(sessions.use(a.secret), undefined);
  assert.ok(sessions.use(b.secret));
  const store = TokenStore.fromEntries([admin]);
  assert.equal(store.byHash(admin.sha256)?.id, 'admin');
  assert.equal(store.byHash(reader.sha256), undefined);
});
