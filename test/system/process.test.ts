/** The one process runner, on real programs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProgramError, ProgramNotFoundError, runProgram } from '../../src/system/process.js';

const node = process.execPath;

test('input is written to stdin and stdout comes back', async () => {
  assert.equal(await runProgram('cat', [], { input: 'nameserver 10.0.0.1\n' }), 'nameserver 10.0.0.1\n');
  assert.equal(await runProgram('cat', [], { input: Buffer.from([0x61, 0x0a]) }), 'a\n');
});

test('without input, stdin is /dev/null (a reader sees end of file at once)', async () => {
  assert.equal(await runProgram('readlink', ['/proc/self/fd/0']), '/dev/null\n');
  assert.equal(await runProgram('cat', []), '');
});

test('a program that never reads its stdin (resolvectl) costs no unhandled EPIPE', async () => {
  const big = 'x'.repeat(1 << 20);
  const crashes: unknown[] = [];
  const onCrash = (err: unknown) => crashes.push(err);
  process.on('uncaughtException', onCrash);
  try {
    for (let i = 0; i < 200; i++) assert.equal(await runProgram('/bin/true', [], { input: big }), '');
  } finally {
    process.off('uncaughtException', onCrash);
  }
  assert.deepEqual(crashes, []);
});

test('the timeout kills the program, with SIGKILL when it ignores SIGTERM', async () => {
  const started = Date.now();
  await assert.rejects(runProgram('sleep', ['10'], { timeoutMs: 100 }), (err: unknown) => {
    assert.ok(err instanceof ProgramError);
    assert.equal(err.timedOut, true);
    assert.equal(err.signal, 'SIGTERM');
    assert.equal(err.message, 'sleep 10: timed out after 100 ms');
    return true;
  });
  const stubborn = ['-e', 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000)'];
  // Long enough for node to start and install its handler.
  await assert.rejects(runProgram(node, stubborn, { timeoutMs: 700 }), (err: unknown) => {
    assert.ok(err instanceof ProgramError);
    assert.equal(err.signal, 'SIGKILL');
    return true;
  });
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
});

test('a failure names the program, its arguments and its trimmed stderr', async () => {
  const args = ['-e', 'process.stdout.write("partial"); console.error("  no such link\\n"); process.exit(3)'];
  await assert.rejects(runProgram(node, args), (err: unknown) => {
    assert.ok(err instanceof ProgramError);
    assert.equal(err.message, `${node} ${args.join(' ')}: no such link`);
    assert.equal(err.stderr, 'no such link');
    assert.equal(err.exitCode, 3);
    assert.equal(err.timedOut, false);
    return true;
  });
  await assert.rejects(runProgram('false', ['--quiet']), { message: 'false --quiet: exit 1' });
});

test('a missing program is reported as such, with its Debian package when the caller names it', async () => {
  await assert.rejects(runProgram('vpnsvc-no-such-program', ['x']), (err: unknown) => {
    assert.ok(err instanceof ProgramNotFoundError);
    assert.equal(err.code, 'ENOENT');
    assert.equal(err.program, 'vpnsvc-no-such-program');
    return true;
  });
  await assert.rejects(runProgram('vpnsvc-no-such-program', [], { input: 'x', debianPackage: 'nftables' }), {
    name: 'ProgramNotFoundError',
    message: 'vpnsvc-no-such-program is not installed: install the Debian package "nftables"',
  });
});

test('stdin as a regular file: readable through /dev/stdin (which a socket is not), and already unlinked', async () => {
  const batch = `${JSON.stringify({ nftables: [{ list: { ruleset: null } }] })}\n`;
  assert.equal(await runProgram('cat', ['/dev/stdin'], { input: batch, stdin: 'file' }), batch);
  // Why the option exists: opening /dev/stdin on the socketpair node gives a child fails.
  await assert.rejects(runProgram('cat', ['/dev/stdin'], { input: batch }), /No such device or address/);
  assert.match(await runProgram('readlink', ['/proc/self/fd/0'], { input: batch, stdin: 'file' }), /\/stdin \(deleted\)\n$/);
});
