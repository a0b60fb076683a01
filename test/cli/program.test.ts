/** The commander program from the command table: options come back under their own names. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMMANDS } from '../../src/cli/commands.js';
import { buildProgram, type Invocation } from '../../src/cli/program.js';

async function parse(argv: string[]): Promise<Invocation> {
  let got: Invocation | undefined;
  const quiet = { out: () => undefined, err: () => undefined };
  await buildProgram(COMMANDS, '0.0.0', quiet, (inv) => {
    got = inv;
  }).parseAsync(argv, { from: 'user' });
  assert.ok(got, argv.join(' '));
  return got;
}

test('negated, repeatable, short and global options, before or after the command', async () => {
  assert.deepEqual((await parse(['events', '--no-follow', '--since', '5'])).parsed.values, { since: '5', 'no-follow': true });
  assert.deepEqual((await parse(['events'])).parsed.values, {});
  assert.deepEqual((await parse(['firewall', 'block', '--allow-vpn', 'a', '--allow-vpn', 'b,c'])).parsed.values, {
    'allow-vpn': ['a', 'b,c'],
  });
  const g = await parse(['--json', 'route', 'add', '10.0.0.0/8', '--url', 'http://x', '--token-file', '/t']);
  assert.deepEqual(g.parsed.positionals, ['10.0.0.0/8']);
  assert.deepEqual(g.global, { url: 'http://x', tokenFile: '/t', json: true });
  assert.deepEqual((await parse(['set', '--non-blocking', '-i', 'vpn1'])).parsed.values, { 'non-blocking': true, interface: 'vpn1' });
  assert.equal((await parse(['session'])).command.words.join(' '), 'session');
  assert.equal((await parse(['session', 'set', 'corp'])).command.words.join(' '), 'session set');
});

test('the bridge gets its arguments untouched, --url and --help included', async () => {
  const b = await parse(['bridge', '--url', 'ws://x/y', '--help', '--name', 'b0']);
  assert.equal(b.command.words.join(' '), 'bridge');
  assert.deepEqual(b.parsed.positionals, ['--url', 'ws://x/y', '--help', '--name', 'b0']);
});
