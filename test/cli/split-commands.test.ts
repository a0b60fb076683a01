/** `vpnsvc split` against a recording HTTP server, and `vpnsvc exec`'s argument checks and cgroup lookup. */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { cgroup2MountOf } from '../../src/cli/commands/split.js';
import { cli } from '../helpers/cli.js';

const seen: Array<{ method: string; url: string; body: unknown }> = [];
let server: Server;
let url = '';
const STATE = {
  mode: 'exclude',
  uids: ['1000-1999'],
  cgroups: ['/vpnsvc.bypass'],
  cgroup2Mount: '/sys/fs/cgroup/unified',
  rules: [{ family: 4, priority: 32590, rule: 'uidrange 1000-1999 lookup main' }],
};

before(async () => {
  server = createServer((req, res) => {
    let b = '';
    req.on('data', (d) => (b += d));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body: b ? JSON.parse(b) : undefined });
      if (req.method === 'DELETE') {
        res.writeHead(204);
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(STATE));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => server.close());

const call = async (args: string[]) => {
  seen.length = 0;
  const r = await cli(args, { VPNSVC_URL: url, VPNSVC_TOKEN: 't' });
  return { ...r, seen: [...seen] };
};

test('split set sends the mode and the lists; show prints them as a table; clear deletes', async () => {
  const set = await call(['split', 'set', '--exclude', '--uid', '1000-1999', '--uid', '65534,7', '--cgroup', '/vpnsvc.bypass']);
  assert.equal(set.code, 0, set.err);
  assert.deepEqual(set.seen, [
    { method: 'PUT', url: '/split-tunnel', body: { mode: 'exclude', uids: ['1000-1999', '65534', '7'], cgroups: ['/vpnsvc.bypass'] } },
  ]);
  assert.match(set.out, /mode {5}exclude \(these bypass the VPN\)/);
  assert.match(set.out, /IPv4 {4}32590 {5}uidrange 1000-1999 lookup main/);
  const include = await call(['split', 'set', '--include', '--cgroup', '/a']);
  assert.deepEqual(include.seen[0]?.body, { mode: 'include', uids: [], cgroups: ['/a'] });
  const show = await call(['split', 'show']);
  assert.deepEqual(show.seen, [{ method: 'GET', url: '/split-tunnel', body: undefined }]);
  assert.match(show.out, /cgroups {2}\/vpnsvc.bypass/);
  const json = await call(['--json', 'split', 'show']);
  assert.deepEqual(JSON.parse(json.out), STATE);
  const clear = await call(['split', 'clear']);
  assert.deepEqual(clear.seen, [{ method: 'DELETE', url: '/split-tunnel', body: undefined }]);
  assert.equal(clear.out.trim(), 'cleared');
});

test('split set needs exactly one of --exclude and --include, before anything is sent', async () => {
  for (const args of [
    ['split', 'set', '--uid', '1'],
    ['split', 'set', '--exclude', '--include', '--uid', '1'],
  ]) {
    const r = await call(args);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /give one of --exclude .* or --include/);
    assert.deepEqual(r.seen, []);
  }
});

test('exec: one of --bypass, --only-vpn, --cgroup, a command, a plain cgroup path', async () => {
  const none = await call(['exec', '--', 'true']);
  assert.match(none.err, /give one of --bypass, --only-vpn or --cgroup/);
  const both = await call(['exec', '--bypass', '--only-vpn', '--', 'true']);
  assert.match(both.err, /give one of --bypass, --only-vpn or --cgroup/);
  const nothing = await call(['exec', '--bypass']);
  assert.match(nothing.err, /usage: vpnsvc exec --bypass\|--only-vpn -- <command>/);
  const dots = await call(['exec', '--cgroup', '/a/../b', '--', 'true']);
  assert.match(dots.err, /"\/a\/..\/b" is not a cgroup path/);
  assert.deepEqual(
    [none, both, nothing, dots].map((r) => r.seen.length),
    [0, 0, 0, 0],
    'exec never calls the daemon',
  );
});

test('exec finds the cgroup2 mount by its fstype', () => {
  const info = '31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n41 31 0:38 / /sys/fs/cgroup/unified rw shared:9 - cgroup2 cgroup2 rw\n';
  assert.equal(cgroup2MountOf(info), '/sys/fs/cgroup/unified');
  assert.equal(cgroup2MountOf('31 23 0:28 / /sys/fs/cgroup rw - tmpfs tmpfs rw'), undefined);
});
