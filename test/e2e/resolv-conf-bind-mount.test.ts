/**
 * A resolv.conf that is a bind mount (as containers have it) cannot be replaced by rename: the
 * file backend fails with EBUSY, leaves the file and its directory as they were, and its
 * restore afterwards changes nothing. Runs in a private mount namespace (unshare -m).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { projectRoot } from '../../src/config/project-root.js';
import { kernelTestOptions } from '../helpers/kernel.js';

const SCRIPT = `
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { FileBackend } from './src/system/resolver/file-backend.ts';
const [dir] = process.argv.slice(1); // node -e: the arguments follow the binary
if (!dir || !dir.startsWith('/')) throw new Error('expected the temp dir as an absolute path');
// Inside unshare -m: this bind mount is private to the child's mount namespace.
execFileSync('mount', ['--bind', dir + '/host-resolv.conf', dir + '/etc/resolv.conf']);
const b = new FileBackend(dir + '/etc/resolv.conf', dir + '/state');
let error = '';
try { await b.apply('tun0', { servers: ['10.0.0.53'], domains: [] }); } catch (e) { error = e.code; }
const after = readFileSync(dir + '/etc/resolv.conf', 'utf8');
await b.clear();
console.log(JSON.stringify({ error, after, cleared: readFileSync(dir + '/etc/resolv.conf', 'utf8'), files: readdirSync(dir + '/etc'), state: readdirSync(dir + '/state') }));
`;

test('a bind-mounted resolv.conf: EBUSY, nothing changed, nothing left behind', kernelTestOptions(), () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-bind-'));
  try {
    execFileSync('mkdir', ['-p', join(dir, 'etc')]);
    writeFileSync(join(dir, 'host-resolv.conf'), 'nameserver 192.168.1.1\n');
    writeFileSync(join(dir, 'etc', 'resolv.conf'), '');
    const out = execFileSync(
      'unshare',
      ['-m', '--propagation', 'private', process.execPath, '--import', 'tsx', '--input-type=module', '-e', SCRIPT, dir],
      { cwd: projectRoot(), encoding: 'utf8' },
    );
    const r = JSON.parse(out) as { error: string; after: string; cleared: string; files: string[]; state: string[] };
    assert.equal(r.error, 'EBUSY');
    assert.equal(r.after, 'nameserver 192.168.1.1\n');
    assert.equal(r.cleared, 'nameserver 192.168.1.1\n');
    assert.deepEqual(r.files, ['resolv.conf'], 'no temporary file left');
    assert.deepEqual(r.state, [], 'no backup left after clear');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
