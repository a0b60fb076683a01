/** The test runner's summary counts skipped suites, which node:test's own summary leaves out. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/config/project-root.js';

test('a skipped suite and a skipped test are both in the summary, with their reason', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-reporter-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'sample.test.mjs');
  writeFileSync(
    file,
    [
      "import { describe, test } from 'node:test';",
      "describe('kernel suite', { skip: 'needs root' }, () => { test('a', () => {}); test('b', () => {}); });",
      "test('kernel test', { skip: 'needs root' }, () => {});",
      "test('other', (t) => t.skip('no bash'));",
      "test('runs', () => {});",
    ].join('\n'),
  );
  const reporter = join(projectRoot(), 'scripts/lib/honest-summary-reporter.mjs');
  // Without NODE_TEST_CONTEXT, which would make the inner run report to this one instead.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const { stdout } = await promisify(execFile)(process.execPath, ['--test', `--test-reporter=${reporter}`, file], { cwd: dir, env });
  assert.match(stdout, /^ℹ skipped 2 tests and 1 whole suite \(whose tests did not run\)$/m);
  assert.match(stdout, /^ℹ skipped: needs root \(1 suite, 1 test\)$/m);
  assert.match(stdout, /^ℹ skipped: no bash \(1 test\)$/m);
  assert.match(stdout, /^ℹ pass 1$/m);
});
