/**
 * vpnsvc(1) is made from the command table and renders without a roff warning; the build leaves
 * both programs executable, runnable by path as the bin entries and `npm link` use them.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { COMMANDS } from '../../src/cli/commands.js';
import { EXIT_CODES } from '../../src/cli/main.js';
import { manPage } from '../../src/cli/man.js';
import { projectRoot } from '../../src/config/project-root.js';

const page = manPage(COMMANDS, '9.9.9', EXIT_CODES, '2026-01-01');

test('the man page lists every command, its options with their values, and every exit code', () => {
  for (const c of COMMANDS) assert.ok(page.includes(`.SS ${c.words.join(' ')}`), c.words.join(' '));
  assert.match(page, /\\fB\\-\\-mtu\\fR \\fI<bytes>\\fR/);
  for (const code of [0, 1, 2, 3, 4, 5, 6, ...Object.values(EXIT_CODES)]) assert.match(page, new RegExp(`^\\\\fB${code}\\\\fR$`, 'm'));
});

test('the man page renders with no roff warning', (t) => {
  const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z'], { input: page, encoding: 'utf8' });
  if (r.error) return t.skip('groff is not installed (Debian package groff-base, which man-db needs)');
  assert.equal(r.status, 0);
  assert.equal(r.stderr, '');
  const text = execFileSync('groff', ['-man', '-Tascii'], { input: page, encoding: 'utf8' });
  assert.match(text, /vpnsvc\s+-\s+command-line\s+client/);
});

test('the build: vpnsvc and vpnsvc-daemon are executable and run by path; the man page is built', () => {
  const pkg = JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { bin: Record<string, string>; man: string[] };
  for (const bin of Object.values(pkg.bin)) {
    const path = join(projectRoot(), bin);
    assert.ok(existsSync(path), `${bin} is built (npm ci builds it; else npm run build)`);
    assert.ok(statSync(path).mode & 0o100, `${bin} is executable`);
    assert.match(readFileSync(path, 'utf8'), /^#!\/usr\/bin\/env node\n/);
    assert.match(execFileSync(path, ['--version'], { encoding: 'utf8' }), /^vpnsvc(-daemon)? \d+\.\d+\.\d+\n$/);
  }
  for (const man of pkg.man) assert.match(readFileSync(join(projectRoot(), man), 'utf8'), /^\.TH VPNSVC 1 /);
});
