/** The state directory's checks on real files: what is refused, and the fix each message gives. */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, lchownSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { checkStateDir, prepareStateDir, UntrustedStateDir } from '../../src/daemon/state-dir.js';
import { TokenStore } from '../../src/tokens/token-store.js';

const isRoot = process.getuid?.() === 0;
const needsRoot = { skip: isRoot ? false : 'chown needs root' };

/** A state directory as the daemon leaves it: 0700, tokens.json and admin.token 0600. */
function stateDir(t: TestContext): { top: string; dir: string } {
  const top = mkdtempSync(join(tmpdir(), 'vpnsvc-state-dir-'));
  t.after(() => rmSync(top, { recursive: true, force: true }));
  const dir = join(top, 'state');
  TokenStore.openStateDir(dir);
  return { top, dir };
}

test('a state directory made by the daemon passes; a missing one is made with mode 0700', (t) => {
  const { top, dir } = stateDir(t);
  assert.deepEqual(checkStateDir(dir), []);
  const fresh = join(top, 'a', 'b');
  prepareStateDir(fresh);
  assert.equal(statSync(fresh).mode & 0o777, 0o700);
});

test('group or other write on the directory or a file in it is refused, with chmod go-w', (t) => {
  const { dir } = stateDir(t);
  chmodSync(dir, 0o777);
  chmodSync(join(dir, 'tokens.json'), 0o620);
  assert.deepEqual(checkStateDir(dir), [
    { path: dir, what: 'is writable by group and others (mode 0777)', fix: `chmod go-w ${dir}` },
    { path: join(dir, 'tokens.json'), what: 'is writable by its group (mode 0620)', fix: `chmod go-w ${join(dir, 'tokens.json')}` },
  ]);
  assert.throws(
    () => prepareStateDir(dir),
    (err: unknown) => err instanceof UntrustedStateDir && err.problems.length === 2 && /fix: chmod go-w/.test(err.message),
  );
});

test('a file owned by another user, anywhere in it, is refused, with chown', needsRoot, (t) => {
  const { dir } = stateDir(t);
  const tokens = join(dir, 'tokens.json');
  chownSync(tokens, 65534, 65534);
  mkdirSync(join(dir, 'sub'), { mode: 0o700 });
  writeFileSync(join(dir, 'sub', 'x'), '');
  chownSync(join(dir, 'sub', 'x'), 65534, 65534);
  assert.deepEqual(
    checkStateDir(dir).map((p) => [p.path, p.what, p.fix]),
    [
      [join(dir, 'sub', 'x'), 'is owned by uid 65534, not root', `chown root ${join(dir, 'sub', 'x')}`],
      [tokens, 'is owned by uid 65534, not root', `chown root ${tokens}`],
    ],
  );
  // The daemon's own user, when it is not root, may own them.
  assert.deepEqual(
    checkStateDir(dir, 65534).map((p) => p.path),
    [],
  );
});

test('tokens.json, admin.token and the journal may not be symbolic links', (t) => {
  const { top, dir } = stateDir(t);
  writeFileSync(join(top, 'elsewhere.json'), '{"tokens":[]}', { mode: 0o600 });
  rmSync(join(dir, 'tokens.json'));
  symlinkSync(join(top, 'elsewhere.json'), join(dir, 'tokens.json'));
  const problems = checkStateDir(dir);
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.path, join(dir, 'tokens.json'));
  assert.match(problems[0]?.what ?? '', /symbolic link/);
});

test('a directory above it that others can write is refused, unless sticky (/tmp)', (t) => {
  const { top, dir } = stateDir(t);
  chmodSync(top, 0o777);
  assert.deepEqual(checkStateDir(dir), [{ path: top, what: 'is writable by group and others (mode 0777)', fix: `chmod go-w ${top}` }]);
  chmodSync(top, 0o1777);
  assert.deepEqual(checkStateDir(dir), []);
  chmodSync(top, 0o700);
});

test('a state directory reached through a link is checked where the link points, and the link where it is', needsRoot, (t) => {
  const { top, dir } = stateDir(t);
  const link = join(top, 'link');
  symlinkSync(dir, link);
  assert.deepEqual(checkStateDir(link), []);
  chmodSync(dir, 0o770);
  assert.deepEqual(
    checkStateDir(link).map((p) => p.path),
    [dir],
    'the directory pointed to is checked, under its own name',
  );
  chmodSync(dir, 0o700);
  const sticky = join(top, 'sticky');
  mkdirSync(sticky, { mode: 0o1777 });
  chmodSync(sticky, 0o1777);
  symlinkSync(dir, join(sticky, 'theirs'));
  // In a sticky directory, a link another user owns can be pointed elsewhere by them at any time.
  lchownSync(join(sticky, 'theirs'), 65534, 65534);
  assert.deepEqual(
    checkStateDir(join(sticky, 'theirs')).map((p) => [p.path, p.what]),
    [[join(sticky, 'theirs'), 'is owned by uid 65534, not root']],
  );
});

test('not a directory: refused', (t) => {
  const { top } = stateDir(t);
  writeFileSync(join(top, 'file'), '');
  assert.deepEqual(
    checkStateDir(join(top, 'file')).map((p) => p.what),
    ['is not a directory'],
  );
});
