import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { addToken, hashToken, removeToken, TokenStore } from '../../src/tokens/token-store.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-tokens-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('first start writes an admin token with both privileges, mode 0600', (t) => {
  const dir = join(tempDir(t), 'state');
  const { store, createdAdminToken } = TokenStore.openStateDir(dir);
  assert.equal(createdAdminToken, join(dir, 'admin.token'));
  assert.equal(statSync(createdAdminToken).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'tokens.json')).mode & 0o777, 0o600);
  const token = readFileSync(createdAdminToken, 'utf8').trim();
  assert.ok(token.length >= 40, 'at least 256 bits of randomness, base64url');
  assert.deepEqual(store.verify(token)?.privileges, ['vpnservice', 'internet']);
  assert.doesNotMatch(readFileSync(join(dir, 'tokens.json'), 'utf8'), new RegExp(token), 'only the hash is stored');

  const again = TokenStore.openStateDir(dir);
  assert.equal(again.createdAdminToken, undefined, 'a second start keeps the existing tokens');
  assert.ok(again.store.verify(token));
});

test('a restricted token carries only its privileges; unknown tokens match nothing', (t) => {
  const dir = tempDir(t);
  TokenStore.openStateDir(dir);
  const ui = addToken(dir, 'ui', ['vpnservice']);
  const { store } = TokenStore.openStateDir(dir);
  assert.deepEqual(store.verify(ui), { id: 'ui', sha256: hashToken(ui), privileges: ['vpnservice'] });
  assert.equal(store.verify(`${ui}x`), undefined);
  assert.equal(store.verify(''), undefined);
  assert.throws(() => addToken(dir, 'ui', ['internet']), /already exists/);
});

test('a malformed tokens.json is refused with its path', (t) => {
  const dir = tempDir(t);
  TokenStore.openStateDir(dir);
  const path = join(dir, 'tokens.json');
  writeFileSync(path, JSON.stringify({ tokens: [{ id: 'x', sha256: 'abc', privileges: ['root'] }] }));
  assert.throws(() => TokenStore.openStateDir(dir), /tokens\.json: tokens\[0\]\.sha256/);
});

test('removeToken revokes one id, keeps the others and mode 0600; an unknown id changes nothing', (t) => {
  const dir = tempDir(t);
  TokenStore.openStateDir(dir);
  const ui = addToken(dir, 'ui', ['vpnservice']);
  const ro = addToken(dir, 'ro', []);
  assert.equal(removeToken(dir, 'ui'), true);
  const { store } = TokenStore.openStateDir(dir);
  assert.equal(store.verify(ui), undefined);
  assert.equal(store.verify(ro)?.id, 'ro');
  assert.equal(statSync(join(dir, 'tokens.json')).mode & 0o777, 0o600);
  const before = readFileSync(join(dir, 'tokens.json'), 'utf8');
  assert.equal(removeToken(dir, 'ui'), false);
  assert.equal(readFileSync(join(dir, 'tokens.json'), 'utf8'), before);
  assert.deepEqual(readdirSync(dir).sort(), ['admin.token', 'tokens.json'], 'no temporary file left');
});
