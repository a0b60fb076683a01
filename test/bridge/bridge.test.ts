/** vpnsvc bridge's command line: what it accepts and how it refuses. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parseBridgeArgs, UsageError } from '../../src/bridge/bridge.js';
import { projectRoot } from '../../src/config/project-root.js';

const base = ['--url', 'ws://127.0.0.1:8760/interfaces/tun0/stream', '--name', 'vsb0', '--local', '10.7.0.2', '--peer', '10.7.0.1'];

test('bridge options: batch framing and MTU 1500 by default, the token from the environment', () => {
  process.env.VPNSVC_TOKEN = 'from-env';
  try {
    const opts = parseBridgeArgs(base);
    assert.equal(opts.framing, 'vpnsvc.batch.v1');
    assert.equal(opts.mtu, 1500);
    assert.equal(opts.token, 'from-env');
    assert.equal(opts.mask, false);
    assert.equal(parseBridgeArgs([...base, '--framing', 'packet']).framing, 'vpnsvc.packet.v1');
    assert.equal(parseBridgeArgs([...base, '--framing', 'gso']).framing, 'vpnsvc.gso.v1');
  } finally {
    delete process.env.VPNSVC_TOKEN;
  }
});

test('bridge options: missing or bad values are usage errors', () => {
  assert.throws(() => parseBridgeArgs(base.slice(2)), UsageError);
  assert.throws(() => parseBridgeArgs([...base, '--framing', 'json']), UsageError);
  assert.throws(() => parseBridgeArgs([...base, '--mtu', '20']), UsageError);
  assert.throws(() => parseBridgeArgs([...base, '--token', 'x']), /Unknown option/, 'no tokens on the command line');
});

test('vpnsvc with no or an unknown command says so in one line, points at --help and exits 2', async () => {
  const cli = join(projectRoot(), 'src/cli/main.ts');
  for (const args of [[], ['nope'], ['bridge']]) {
    const err = await promisify(execFile)(process.execPath, ['--import', 'tsx', cli, ...args]).then(
      () => assert.fail('it should fail'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(err.code, 2);
    assert.match(err.stderr, /^vpnsvc( bridge)?: .*\(vpnsvc( bridge)? --help/);
    assert.equal(err.stderr.trimEnd().split('\n').length, 1, err.stderr);
  }
});
