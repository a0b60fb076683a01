/**
 * The CLI against the real app and kernel: a whole session (up, set, status, events, down) read
 * back with `ip -j`, errors with their exit codes, and `vpnsvc events` catching up after its
 * stream is cut.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { EXIT_CODES } from '../../src/cli/main.js';
import { build, TOKENS } from '../helpers/app.js';
import { cli } from '../helpers/cli.js';
import { addresses, ip, kernelTestOptions, link } from '../helpers/kernel.js';

async function daemon(t: Parameters<typeof build>[0]) {
  const built = await build(t);
  await built.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = built.app.server.address() as { port: number };
  return { ...built, env: { VPNSVC_URL: `http://127.0.0.1:${port}`, VPNSVC_TOKEN: TOKENS.admin } };
}

describe('a session driven by the CLI', kernelTestOptions(), () => {
  after(() => {
    for (const name of ['vscli0', 'vscli1']) if (link(name)) ip('link', 'delete', name);
  });

  test('up, set, status, events, down: each step lands in the kernel and in the events', async (t) => {
    const { env } = await daemon(t);
    const up = await cli(['up', 'vscli0', '--local', '10.73.0.1', '--remote', '10.73.0.2', '--mtu', '1400'], env);
    assert.equal(up.code, 0, up.err);
    assert.match(up.out, /^vscli0 \(index \d+\) {2}UP {2}mtu 1400/);
    assert.equal(link('vscli0')?.mtu, 1400);
    assert.deepEqual(
      addresses('vscli0')
        .filter((a) => a.family === 'inet')
        .map((a) => [a.local, a.address]),
      [['10.73.0.1', '10.73.0.2']],
    );

    assert.equal((await cli(['set', '--session', 'office', '--non-blocking'], env)).code, 0);
    const session = await cli(['session', '--json'], env);
    assert.deepEqual(JSON.parse(session.out), { name: 'office', interface: 'vscli0' });

    const status = await cli(['status'], env);
    assert.equal(status.code, 0, status.err);
    assert.match(
      status.out,
      /vscli0 \(index \d+\) {2}UP {2}mtu 1400 {2}non-blocking {2}session "office"\n {2}address 10\.73\.0\.1 {2}peer 10\.73\.0\.2\n {2}rx \d+ packets/,
    );

    // --watch refreshes until interrupted.
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 550);
    const watched = await cli(['status', '--watch', '0.2'], env, ac.signal);
    assert.equal(watched.code, 0);
    assert.ok((watched.out.match(/^vscli0 \(index/gm) ?? []).length >= 2, watched.out);

    const shown = JSON.parse((await cli(['show', '--json'], env)).out);
    assert.equal(shown.index, link('vscli0')?.ifindex);

    const down = await cli(['down'], env);
    assert.deepEqual([down.code, down.out], [0, 'removed\n']);
    assert.equal(link('vscli0'), undefined);

    const events = await cli(['events', '--no-follow', '--types', 'interface,settings,session'], env);
    const lines = events.out.trim().split('\n');
    assert.deepEqual(
      lines.map((l) => l.split(/\s+/).slice(2, 4).join(' ')),
      [
        'interface.created vscli0',
        'interface.updated vscli0',
        'settings.applied vscli0',
        'session.changed vscli0',
        'interface.updated vscli0',
        'interface.removed vscli0',
      ],
    );
    for (const l of lines) assert.match(l, /\(api, token admin, req [0-9a-f-]{36}\)$/);
  });

  test('errors: name and message on stderr, the exit code of the error', async (t) => {
    const { env } = await daemon(t);
    const missing = await cli(['show', 'vsnope'], env);
    assert.equal(missing.code, EXIT_CODES.VPNSVC_ERROR_NO_SUCH_FILE);
    assert.equal(missing.err, 'vpnsvc: VPNSVC_ERROR_NO_SUCH_FILE: no VPN interface "vsnope" (none is active)\n');
    const bad = await cli(['init', 'way-too-long-interface-name'], env);
    assert.equal(bad.code, EXIT_CODES.VPNSVC_ERROR_INVALID_PARAMETER);
    assert.match(bad.err, /^vpnsvc: VPNSVC_ERROR_INVALID_PARAMETER: /);
    const denied = await cli(['init', 'vscli1'], { ...env, VPNSVC_TOKEN: TOKENS.vpnservice });
    assert.equal(denied.code, EXIT_CODES.VPNSVC_ERROR_PERMISSION_DENIED);
    assert.match(denied.err, /lacks the privilege http:\/\/tizen\.org\/privilege\/internet/);
    const unknown = await cli(['list'], { ...env, VPNSVC_TOKEN: 'not-a-token' });
    assert.equal(unknown.code, EXIT_CODES.VPNSVC_ERROR_PERMISSION_DENIED);
    assert.equal(link('vscli1'), undefined);
  });
});

test('vpnsvc events follows live, and after its stream is cut resumes without loss or repeat', async (t) => {
  const { env, vpnsvc, app } = await daemon(t);
  const { followers } = app;
  const ac = new AbortController();
  const running = cli(['events', '--json'], env, ac.signal);
  const waitFollowers = async (n: number) => {
    for (let i = 0; i < 100 && followers.count !== n; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(followers.count, n);
  };
  await waitFollowers(1);
  // Straight onto the bus: the CLI's resuming is under test here, not the engine.
  const emit = (session: string) => vpnsvc.events.emit('session.changed', { interface: 'vscli9', data: { session } });
  emit('one');
  emit('two');
  await new Promise((r) => setTimeout(r, 100));
  // Cut the stream from the daemon's side, then change things while the CLI is away.
  for (const s of followers.streams) s.destroy();
  await waitFollowers(0);
  emit('three');
  emit('four');
  await waitFollowers(1);
  emit('five');
  await new Promise((r) => setTimeout(r, 300));
  ac.abort();
  const { code, out, err } = await running;
  assert.equal(code, 0);
  const seen = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; seq?: number; data?: { session?: string } });
  assert.deepEqual(
    seen.filter((e) => e.type === 'session.changed').map((e) => `${e.seq} ${e.data?.session}`),
    ['1 one', '2 two', '3 three', '4 four', '5 five'],
  );
  assert.match(err, /-- disconnected; resuming after seq 2/);
});
