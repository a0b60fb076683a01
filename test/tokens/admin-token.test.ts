/**
 * VPNSVC_ADMIN_TOKEN_FILE installed into tokens.json: created, replaced, or left unchanged; a
 * secret too short to be one is refused; the file holding the hashes is root's alone.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { installAdminToken, MIN_ADMIN_TOKEN_LENGTH } from '../../src/tokens/admin-token.js';
import { addToken, hashToken, TOKENS_FILE, type TokenFile, TokenStore, writeTokenFile } from '../../src/tokens/token-store.js';

const SECRET = 'k8s-secret-token-0123456789';

function scratch(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-admin-token-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'state');
  const secretFile = join(dir, 'secret');
  return {
    stateDir,
    secretFile,
    tokensPath: join(stateDir, TOKENS_FILE),
    secret(value: string) {
      writeFileSync(secretFile, value);
    },
    store: () => TokenStore.openStateDir(stateDir).store,
  };
}

test('created on first start: the admin entry in tokens.json (0600) in a state directory of 0700', (t) => {
  const s = scratch(t);
  s.secret(`${SECRET}\n`);
  assert.equal(installAdminToken(s.stateDir, s.secretFile), 'created');
  assert.equal(statSync(s.tokensPath).mode & 0o777, 0o600);
  assert.equal(statSync(s.stateDir).mode & 0o777, 0o700);
  const file = JSON.parse(readFileSync(s.tokensPath, 'utf8')) as TokenFile;
  assert.deepEqual(
    file.tokens.map((e) => [e.id, e.sha256]),
    [['admin', hashToken(SECRET)]],
    'the hash of the trimmed secret, never the secret',
  );
  assert.ok(!readFileSync(s.tokensPath, 'utf8').includes(SECRET));
  const admin = s.store().verify(SECRET);
  assert.equal(admin?.id, 'admin');
  assert.ok(admin.privileges.includes('vpnservice') && admin.privileges.includes('internet'));
});

test('the same secret again is unchanged and rewrites nothing; another one replaces the admin entry only', (t) => {
  const s = scratch(t);
  s.secret(SECRET);
  installAdminToken(s.stateDir, s.secretFile);
  const ui = addToken(s.stateDir, 'ui', ['vpnservice']);
  const before = statSync(s.tokensPath);
  s.secret(`  ${SECRET}\n\n`);
  assert.equal(installAdminToken(s.stateDir, s.secretFile), 'unchanged');
  const after = statSync(s.tokensPath);
  assert.deepEqual([after.ino, after.mtimeMs], [before.ino, before.mtimeMs]);

  const rotated = 'rotated-secret-token-9876543210';
  s.secret(rotated);
  assert.equal(installAdminToken(s.stateDir, s.secretFile), 'replaced');
  const store = s.store();
  assert.equal(store.verify(SECRET), undefined, 'the old admin token no longer works');
  assert.equal(store.verify(rotated)?.id, 'admin');
  assert.equal(store.verify(ui)?.id, 'ui', "the user's own tokens stay");
  assert.equal(statSync(s.tokensPath).mode & 0o777, 0o600);
});

test('an admin entry that lost a privilege is replaced, even with the same secret', (t) => {
  const s = scratch(t);
  s.secret(SECRET);
  mkdirSync(s.stateDir, { recursive: true });
  writeTokenFile(s.tokensPath, { tokens: [{ id: 'admin', sha256: hashToken(SECRET), privileges: ['vpnservice'] }] });
  assert.equal(installAdminToken(s.stateDir, s.secretFile), 'replaced');
  assert.ok(s.store().verify(SECRET)?.privileges.includes('internet'));
});

test('a secret too short, with a space, or unreadable is refused, and tokens.json stays as it was', (t) => {
  const s = scratch(t);
  s.secret(SECRET);
  installAdminToken(s.stateDir, s.secretFile);
  const before = readFileSync(s.tokensPath, 'utf8');
  const refused = /VPNSVC_ADMIN_TOKEN_FILE: .* must hold one token of at least 16 characters without spaces$/;
  assert.equal(MIN_ADMIN_TOKEN_LENGTH, 16);
  for (const bad of ['x'.repeat(MIN_ADMIN_TOKEN_LENGTH - 1), 'two words-0123456789', '', '\n']) {
    s.secret(bad);
    assert.throws(() => installAdminToken(s.stateDir, s.secretFile), refused, JSON.stringify(bad));
  }
  assert.throws(() => installAdminToken(s.stateDir, join(s.stateDir, 'absent')), {
    message: `VPNSVC_ADMIN_TOKEN_FILE: cannot read ${join(s.stateDir, 'absent')}: ENOENT`,
  });
  assert.equal(readFileSync(s.tokensPath, 'utf8'), before);
  s.secret('y'.repeat(MIN_ADMIN_TOKEN_LENGTH));
  assert.equal(installAdminToken(s.stateDir, s.secretFile), 'replaced', 'exactly the minimum is enough');
});
