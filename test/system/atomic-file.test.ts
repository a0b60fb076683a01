/** Atomic file replacement: the simple entry on the real fs, and the sequence through a recording fs. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import {
  type FsOps,
  realFs,
  removeDurably,
  removeFileDurably,
  tempPathFor,
  writeFileAtomic,
  writeFileAtomicWith,
} from '../../src/system/atomic-file.js';

function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(join(tmpdir(), 'vpnsvc-atomic-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The real fs, logging what each call did to which path (an fd is shown as the path it opened). */
function recordingFs(failRename = false) {
  const log: string[] = [];
  const paths = new Map<number, string>();
  const ops: FsOps = {
    ...realFs,
    openSync: ((p: fs.PathLike, flags: fs.OpenMode = 'r', mode?: fs.Mode) => {
      const fd = fs.openSync(p, flags, mode);
      paths.set(fd, String(p));
      log.push(`open ${String(p)} ${String(flags)}`);
      return fd;
    }) as FsOps['openSync'],
    fsyncSync: (fd: number) => {
      log.push(`fsync ${paths.get(fd)}`);
      fs.fsyncSync(fd);
    },
    closeSync: (fd: number) => {
      log.push(`close ${paths.get(fd)}`);
      fs.closeSync(fd);
    },
    renameSync: (from: fs.PathLike, to: fs.PathLike) => {
      log.push(`rename ${String(from)} ${String(to)}`);
      if (failRename) throw Object.assign(new Error('EBUSY: resource busy'), { code: 'EBUSY' });
      fs.renameSync(from, to);
    },
    unlinkSync: (p: fs.PathLike) => {
      log.push(`unlink ${String(p)}`);
      fs.unlinkSync(p);
    },
  };
  return { ops, log };
}

test('writeFileAtomic: the content, the mode asked for whatever the umask or the old mode, no temporary file left', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'tokens.json');
  fs.writeFileSync(path, 'old and longer content\n', { mode: 0o644 });
  const umask = process.umask(0o077);
  try {
    writeFileAtomic(path, '{"tokens":[]}\n', { mode: 0o600 });
  } finally {
    process.umask(umask);
  }
  assert.equal(fs.readFileSync(path, 'utf8'), '{"tokens":[]}\n');
  assert.equal(fs.statSync(path).mode & 0o7777, 0o600);
  writeFileAtomic(path, new Uint8Array([1, 2, 3]), { mode: 0o640 });
  assert.deepEqual([...fs.readFileSync(path)], [1, 2, 3]);
  assert.equal(fs.statSync(path).mode & 0o7777, 0o640);
  assert.deepEqual(fs.readdirSync(dir), ['tokens.json']);
});

test('the sequence: temp file written and fsynced, renamed over the target, then the directory fsynced', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'runtime.json');
  const tmp = tempPathFor(path);
  const { ops, log } = recordingFs();
  writeFileAtomicWith(ops, path, Buffer.from('{}\n'), { mode: 0o600 });
  assert.deepEqual(log, [
    `unlink ${tmp}`,
    `open ${tmp} wx`,
    `fsync ${tmp}`,
    `close ${tmp}`,
    `rename ${tmp} ${path}`,
    `open ${dir} r`,
    `fsync ${dir}`,
    `close ${dir}`,
  ]);
  assert.equal(fs.readFileSync(path, 'utf8'), '{}\n');
});

test('a failed rename leaves the old file as it was and no temporary file', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'resolv.conf');
  fs.writeFileSync(path, 'nameserver 192.0.2.1\n');
  const { ops, log } = recordingFs(true);
  assert.throws(() => writeFileAtomicWith(ops, path, Buffer.from('new\n'), { mode: 0o644 }), /EBUSY/);
  assert.equal(fs.readFileSync(path, 'utf8'), 'nameserver 192.0.2.1\n');
  assert.deepEqual(fs.readdirSync(dir), ['resolv.conf']);
  assert.equal(log.at(-1), `unlink ${tempPathFor(path)}`);
});

test('removal is made durable with a directory fsync; an absent file is not an error', (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'runtime.json');
  fs.writeFileSync(path, '{}');
  const { ops, log } = recordingFs();
  removeDurably(ops, path);
  assert.deepEqual(log, [`unlink ${path}`, `open ${dir} r`, `fsync ${dir}`, `close ${dir}`]);
  assert.equal(fs.existsSync(path), false);
  removeFileDurably(path);
});
