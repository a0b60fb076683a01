/**
 * The CLI's table against a recording HTTP server: every command becomes the REST call it
 * names (including the routes, DNS, firewall and protect calls of the other domains), exit codes
 * carry the service's error, and URL and token come from flags, environment or the state dir.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { COMMANDS, WITHOUT_CLI } from '../../src/cli/commands.js';
import { EXIT_CODES, inCliWords } from '../../src/cli/main.js';
import { projectRoot } from '../../src/config/project-root.js';
import { ERROR_CODES } from '../../src/errors/errors.js';
import { loadSpec } from '../../src/http/spec.js';
import { cli } from '../helpers/cli.js';
import { kernelSkipReason, kernelTestOptions } from '../helpers/kernel.js';
import { selfSignedCert } from '../helpers/net.js';

interface Seen {
  method: string;
  url: string;
  body: unknown;
  auth: string | undefined;
}
const seen: Seen[] = [];
let server: Server;
let url = '';
const IFACE = {
  name: 'vpn0',
  index: 7,
  fd: 20,
  mtu: 1500,
  blocking: true,
  session: 'VPN_Session',
  localIp: '10.9.0.1',
  remoteIp: '10.9.0.2',
  up: true,
  staged: { mtu: 1500, localIp: '10.9.0.1', remoteIp: '10.9.0.2' },
  counters: { rxPackets: 1, rxBytes: 84, txPackets: 2, txBytes: 168, rxDropped: 0, txDropped: 0 },
};

before(async () => {
  server = createServer((req, res) => {
    let b = '';
    req.on('data', (c) => (b += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, body: b ? JSON.parse(b) : undefined, auth: req.headers.authorization });
      const reply = (status: number, body?: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(body === undefined ? '' : JSON.stringify(body));
      };
      if (!req.headers.authorization)
        return reply(401, {
          error: 'VPNSVC_ERROR_PERMISSION_DENIED',
          code: -13,
          message: 'no credentials: send "Authorization: Bearer <token>"',
        });
      if (req.url === '/dns' && req.method === 'POST' && b.includes('10.9.0.99'))
        return reply(404, {
          error: 'VPNSVC_ERROR_NO_SUCH_FILE',
          code: -2,
          message: 'no VPN interface is active: create one (vpnsvc_init, POST /interfaces) before adding DNS servers',
        });
      if (req.url === '/interfaces' && req.method === 'GET') return reply(200, [IFACE]);
      if (req.url === '/interfaces/nope')
        return reply(404, { error: 'VPNSVC_ERROR_NO_SUCH_FILE', code: -2, message: 'no VPN interface "nope"' });
      if (req.method === 'DELETE') {
        res.writeHead(204);
        return res.end();
      }
      if (req.url === '/routes' && req.method === 'GET') return reply(200, [{ address: '10.0.0.0', prefix: 8 }]);
      if (req.url === '/features')
        return reply(
          200,
          req.headers.authorization === 'Bearer unsupported'
            ? { supported: false, missing: ['no TUN here'] }
            : { supported: true, missing: [] },
        );
      return reply(req.method === 'POST' ? 201 : 200, req.url!.startsWith('/interfaces') ? IFACE : { ok: true });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(() => server.close());

const env = () => ({ VPNSVC_URL: url, VPNSVC_TOKEN: 'secret-token' });

async function call(args: string[], e: NodeJS.ProcessEnv = env()) {
  seen.length = 0;
  const r = await cli(args, e);
  return { ...r, seen: [...seen] };
}

test('every operation in openapi.yaml has a CLI command', () => {
  const covered = new Set(COMMANDS.flatMap((c) => c.operations ?? []));
  const missing = loadSpec()
    .operations.map((o) => `${o.method} ${o.path}`)
    .filter((op) => !covered.has(op) && !(op in WITHOUT_CLI));
  assert.deepEqual(missing, [], 'add a command under src/cli/commands/ (or, for a non-CLI client, a reason in WITHOUT_CLI)');
  const operations = new Set(loadSpec().operations.map((o) => `${o.method} ${o.path}`));
  for (const op of Object.keys(WITHOUT_CLI)) {
    assert.ok(operations.has(op), `WITHOUT_CLI names ${op}, which openapi.yaml does not have`);
    assert.ok(!covered.has(op), `${op} has a CLI command; remove it from WITHOUT_CLI`);
  }
});

test('every service error has its own exit code', () => {
  assert.deepEqual(Object.keys(EXIT_CODES).sort(), Object.keys(ERROR_CODES).sort());
  assert.equal(new Set(Object.values(EXIT_CODES)).size, Object.keys(EXIT_CODES).length);
});

test('commands become the REST calls they name', async () => {
  const cases: [string[], string, unknown?][] = [
    [['init', 'vpn0'], 'POST /interfaces', { name: 'vpn0' }],
    [['show', 'vpn0'], 'GET /interfaces/vpn0'],
    [['apply', 'vpn0'], 'POST /interfaces/vpn0/apply'],
    [['down', 'vpn0'], 'DELETE /interfaces/vpn0'],
    [['session', 'set', 'corp'], 'PUT /session', { name: 'corp' }],
    [['route', 'add', '10.0.0.0/8'], 'POST /routes', { address: '10.0.0.0', prefix: 8 }],
    [
      ['route', 'add', '10.0.0.0/8', 'fd00::/64'],
      'POST /routes',
      [
        { address: '10.0.0.0', prefix: 8 },
        { address: 'fd00::', prefix: 64 },
      ],
    ],
    [['route', 'del', '10.0.0.0/8'], 'DELETE /routes/10.0.0.0/8'],
    [
      ['route', 'del', '10.0.0.0/8', '192.168.1.0/24'],
      'DELETE /routes',
      [
        { address: '10.0.0.0', prefix: 8 },
        { address: '192.168.1.0', prefix: 24 },
      ],
    ],
    [['route', 'list'], 'GET /routes'],
    [['route', 'policy'], 'GET /routes/policy'],
    [['route', 'add', '10.20.0.0/16', '--exclude'], 'POST /routes', { address: '10.20.0.0', prefix: 16, exclude: true }],
    [['set', 'vpn0', '--local6', 'fd00:8::2/64'], 'PATCH /interfaces/vpn0', { localIp6: 'fd00:8::2/64' }],
    [['set', 'vpn0', '--local6', 'none'], 'PATCH /interfaces/vpn0', { localIp6: null }],
    [['dns', 'add', '10.9.0.53'], 'POST /dns', { server: '10.9.0.53' }],
    [['dns', 'del', 'fd00::53'], 'DELETE /dns/fd00%3A%3A53'],
    [['dns', 'list'], 'GET /dns'],
    [['dns', 'domain', 'add', '~corp.example'], 'POST /dns/domains', { domain: '~corp.example' }],
    [['dns', 'domain', 'del', '~corp.example'], 'DELETE /dns/domains/~corp.example'],
    [
      ['firewall', 'block', '--allow-vpn', '0.0.0.0/0,::/0', '--allow-original', '192.0.2.1', '--original-interface', 'eth0'],
      'PUT /firewall',
      {
        allowVpn: [
          { address: '0.0.0.0', prefix: 0 },
          { address: '::', prefix: 0 },
        ],
        allowOriginal: [{ address: '192.0.2.1', prefix: 32 }],
        originalInterface: 'eth0',
      },
    ],
    [['firewall', 'unblock'], 'DELETE /firewall'],
    [['firewall', 'show'], 'GET /firewall'],
    [['protect', '1234', '5', 'eth0'], 'POST /protect', { pid: 1234, fd: 5, interface: 'eth0' }],
    [['read', 'vpn0', '--timeout', '250'], 'GET /interfaces/vpn0/packet?timeoutMs=250'],
  ];
  for (const [args, op, body] of cases) {
    const r = await call(args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
    const last = r.seen.at(-1)!;
    assert.equal(`${last.method} ${last.url}`, op, args.join(' '));
    assert.deepEqual(last.body, body, args.join(' '));
    assert.equal(last.auth, 'Bearer secret-token');
  }
});

test('[name] defaults to the active interface; up is init + set + apply', async () => {
  const r = await call(['set', '--mtu', '1400', '--local', '10.9.0.1', '--non-blocking']);
  assert.deepEqual(
    r.seen.map((s) => `${s.method} ${s.url}`),
    ['GET /interfaces', 'PATCH /interfaces/vpn0'],
  );
  assert.deepEqual(r.seen[1]!.body, { mtu: 1400, localIp: '10.9.0.1', blocking: false });
  assert.match(r.out, /^vpn0 \(index 7\) {2}UP {2}mtu 1500/);
  const u = await call(['up', 'vpn0', '--local', '10.9.0.1', '--remote', '10.9.0.2', '--replace']);
  assert.equal(u.code, 0, u.err);
  assert.deepEqual(
    u.seen.map((s) => `${s.method} ${s.url}`),
    ['GET /interfaces', 'POST /interfaces', 'PATCH /interfaces/vpn0', 'POST /interfaces/vpn0/apply'],
  );
});

test('exit codes: the service error name and message; 2 for usage; 3 when unreachable', async () => {
  const r = await call(['show', 'nope']);
  assert.equal(r.code, EXIT_CODES.VPNSVC_ERROR_NO_SUCH_FILE);
  assert.equal(r.err, 'vpnsvc: VPNSVC_ERROR_NO_SUCH_FILE: no VPN interface "nope"\n');
  const j = await call(['show', 'nope', '--json']);
  assert.deepEqual(JSON.parse(j.out), { error: 'VPNSVC_ERROR_NO_SUCH_FILE', code: -2, message: 'no VPN interface "nope"', status: 404 });
  for (const bad of [
    ['route', 'add', '10.0.0.0/99x'],
    ['frobnicate'],
    ['route', 'add'],
    ['set', '--mtu', 'big'],
    ['show', '--no-such-flag'],
    ['protect', 'x', '3', 'eth0'],
    ['protect', '1', '3'],
  ]) {
    const b = await call(bad);
    assert.equal(b.code, 2, bad.join(' '));
    assert.equal(b.seen.length, 0, `${bad.join(' ')} sent nothing`);
  }
  const down = await call(['status'], { VPNSVC_URL: 'http://127.0.0.1:1', VPNSVC_TOKEN: 'x' });
  assert.equal(down.code, 3);
  assert.match(down.err, /cannot reach vpnsvc at http:\/\/127\.0\.0\.1:1: ECONNREFUSED/);
});

test("token: --token-file, then VPNSVC_TOKEN, then the state directory's admin.token", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-cli-'));
  try {
    writeFileSync(join(dir, 'admin.token'), 'from-state-dir\n');
    writeFileSync(join(dir, 'other'), 'from-file\n');
    assert.equal((await call(['list'], { VPNSVC_URL: url, VPNSVC_STATE_DIR: dir })).seen[0]!.auth, 'Bearer from-state-dir');
    assert.equal((await call(['list'], { VPNSVC_URL: url, VPNSVC_STATE_DIR: dir, VPNSVC_TOKEN: 'env' })).seen[0]!.auth, 'Bearer env');
    assert.equal(
      (await call(['list', '--token-file', join(dir, 'other')], { VPNSVC_URL: url, VPNSVC_TOKEN: 'env' })).seen[0]!.auth,
      'Bearer from-file',
    );
    assert.equal(
      (await call(['list'], { VPNSVC_URL: url, VPNSVC_ADMIN_TOKEN_FILE: join(dir, 'other') })).seen[0]!.auth,
      'Bearer from-file',
    );
    // The daemon's own VPNSVC_LISTEN is enough to find it.
    const port = new URL(url).port;
    assert.equal((await call(['list'], { VPNSVC_LISTEN: `127.0.0.1:${port}`, VPNSVC_TOKEN: 't' })).code, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('status shows the interface with counters, routes, DNS and firewall', async () => {
  const r = await call(['status']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /vpn0 \(index 7\) {2}UP/);
  assert.match(r.out, /rx 1 packets, 84 B, 0 dropped {3}tx 2 packets, 168 B, 0 dropped/);
  assert.match(r.out, /^routes:\n {2}10\.0\.0\.0\/8$/m);
  assert.match(r.out, /^dns:\n {2}ok: true$/m);
});

test('bridge is handed its own arguments (src/cli/bridge.ts when the build has it)', async () => {
  // Incomplete arguments: a usage error either way, and nothing sent to the daemon.
  const r = await call(['bridge', '--url', `${url.replace('http', 'ws')}/interfaces/vpn0/stream`]);
  assert.equal(r.code, 2);
  assert.equal(r.seen.length, 0);
});

test("help lists every command; a command's --help names its REST call", async () => {
  const all = await call(['--help']);
  for (const c of COMMANDS) assert.ok(all.out.includes(c.words.join(' ')), c.words.join(' '));
  const one = await call(['route', 'add', '--help']);
  assert.match(one.out, /REST: POST \/routes/);
  assert.equal(one.seen.length, 0);
});

/** Every failure: exactly one line on stderr. */
const oneLine = (r: { err: string }, what: string) => assert.equal(r.err.trimEnd().split('\n').length, 1, `${what}: ${r.err}`);

test('up checks every argument before sending anything, and refuses to replace an active VPN', async () => {
  for (const bad of [
    ['up', 'vpn9', '--local', '10.9.0.1'],
    ['up', 'vpn9', '--remote', '10.9.0.2'],
    ['up', 'vpn9', '--local', '10.9.0.300', '--remote', '10.9.0.2'],
    ['up', 'vpn9', '--local', '10.9.0.1', '--remote', '10.9.0.2', '--mtu', '12'],
    ['up', '-bad', '--local', '10.9.0.1', '--remote', '10.9.0.2'],
    ['up', 'a', 'b', '--local', '10.9.0.1', '--remote', '10.9.0.2'],
    ['up', 'vpn9', '--local', '10.9.0.1', '--remote', '10.9.0.2', '--local6', 'fd00:8::2'],
    ['up', 'vpn9', '--local', '10.9.0.1', '--remote', '10.9.0.2', '--local6', '10.9.0.3/24'],
  ]) {
    const r = await call(bad);
    assert.equal(r.code, 2, `${bad.join(' ')}: ${r.err}`);
    assert.equal(r.seen.length, 0, `${bad.join(' ')} sent nothing`);
    oneLine(r, bad.join(' '));
  }
  // The recording server has vpn0 active.
  const refused = await call(['up', 'vpn9', '--local', '10.9.0.1', '--remote', '10.9.0.2']);
  assert.equal(refused.code, 6);
  assert.deepEqual(
    refused.seen.map((s) => `${s.method} ${s.url}`),
    ['GET /interfaces'],
  );
  assert.match(refused.err, /^vpnsvc: the VPN interface "vpn0" is active: "vpnsvc up --replace" replaces it/);
  oneLine(refused, 'up over an active VPN');
});

test('--version, per-command help with option values, did you mean', async () => {
  const v = await call(['--version']);
  assert.equal(v.code, 0);
  assert.match(v.out, /^vpnsvc \d+\.\d+\.\d+/);
  const set = await call(['set', '--help']);
  assert.equal(set.code, 0);
  assert.match(set.out, /--mtu <bytes>/);
  assert.match(set.out, /-i, --interface <name>/);
  assert.match(set.out, /Usage: vpnsvc set \[name\] \[options\]/);
  const fw = await call(['firewall', 'block', '--help']);
  assert.match(fw.out, /--allow-vpn <cidr,\.\.\.>/);
  for (const [args, hint] of [
    [['rout', 'add', '10.0.0.0/8'], /unknown command 'rout' \(Did you mean route\?\)/],
    [['route', 'ad', '10.0.0.0/8'], /unknown command "vpnsvc route ad" \(did you mean add\?\)/],
    [['route'], /"vpnsvc route" needs a command: add, list, policy, del/],
    [[], /^vpnsvc: name a command, e\.g\. vpnsvc status/],
    [['show', '--no-such-flag'], /unknown option '--no-such-flag'/],
  ] as [string[], RegExp][]) {
    const r = await call(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err, hint);
    assert.equal(r.seen.length, 0);
    oneLine(r, args.join(' '));
  }
});

test('a route names its prefix; the kill switch allow-list may name single hosts', async () => {
  const r = await call(['route', 'add', '10.1.0.0']);
  assert.equal(r.code, 2);
  assert.match(r.err, /"10\.1\.0\.0" has no prefix: write 10\.1\.0\.0\/32 for one host/);
  assert.equal(r.seen.length, 0);
  assert.equal((await call(['route', 'del', 'fd00::1'])).code, 2);
  assert.equal((await call(['route', 'add', '10.0.0.0/33'])).code, 2);
});

test('local files and tokens: one line naming the file, exit 4; no token names where the CLI looked', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-cli-'));
  try {
    const missing = join(dir, 'nope.token');
    const tf = await call(['list', '--token-file', missing], { VPNSVC_URL: url });
    assert.equal(tf.code, 4);
    assert.equal(tf.err, `vpnsvc: cannot read the --token-file ${missing} (ENOENT)\n`);
    assert.equal(tf.seen.length, 0);
    const w = await call(['write', 'vpn0', join(dir, 'packet.bin')]);
    assert.equal(w.code, 4);
    assert.match(w.err, /^vpnsvc: cannot read the packet file .*packet\.bin \(ENOENT\)\n$/);
    assert.equal(w.seen.length, 0);
    const none = await call(['list'], { VPNSVC_URL: url, VPNSVC_STATE_DIR: dir });
    assert.equal(none.code, EXIT_CODES.VPNSVC_ERROR_PERMISSION_DENIED);
    oneLine(none, 'no token');
    assert.ok(none.err.includes(`looked for ${join(dir, 'admin.token')} (ENOENT)`), none.err);
    assert.match(none.err, /--token-file FILE or \$VPNSVC_TOKEN, or set VPNSVC_STATE_DIR/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the service's REST hints come out as CLI commands", async () => {
  const r = await call(['dns', 'add', '10.9.0.99']);
  assert.equal(r.code, EXIT_CODES.VPNSVC_ERROR_NO_SUCH_FILE);
  assert.equal(
    r.err,
    'vpnsvc: VPNSVC_ERROR_NO_SUCH_FILE: no VPN interface is active: create one (vpnsvc_init, vpnsvc up) before adding DNS servers\n',
  );
  assert.equal(
    inCliWords('apply its settings first (POST /interfaces/vpn0/apply, vpnsvc_update_settings)'),
    'apply its settings first (vpnsvc apply, vpnsvc_update_settings)',
  );
});

test("completion: bash completes command words and the chosen command's options", async (t) => {
  const script = (await call(['completion', 'bash'])).out;
  assert.match((await call(['completion', 'zsh'])).out, /^#compdef vpnsvc\n[\s\S]*bashcompinit[\s\S]*complete -F _vpnsvc vpnsvc/);
  assert.equal((await call(['completion', 'fish'])).code, 2);
  const complete = (line: string) => {
    const words = line.split(' ');
    const r = spawnSync(
      'bash',
      [
        '-c',
        `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _vpnsvc; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { encoding: 'utf8' },
    );
    if (r.error) t.skip('bash is not installed');
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trim().split('\n').sort();
  };
  assert.deepEqual(complete('vpnsvc rou'), ['route']);
  assert.deepEqual(complete('vpnsvc route '), ['add', 'del', 'list', 'policy']);
  assert.deepEqual(complete('vpnsvc dns domain '), ['add', 'del']);
  assert.deepEqual(complete('vpnsvc --url http://x:1 set --m'), ['--mtu']);
  assert.deepEqual(complete('vpnsvc up vpn0 --rep'), ['--replace']);
  // zsh runs the same function through bashcompinit (sh emulation, as zsh's completion calls it).
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-zsh-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, '_vpnsvc.zsh'), (await call(['completion', 'zsh'])).out);
  const zsh = spawnSync(
    'zsh',
    [
      '-f',
      '-c',
      `source ${join(dir, '_vpnsvc.zsh')}; emulate sh -c 'COMP_WORDS=(vpnsvc dns ""); COMP_CWORD=2; _vpnsvc; printf "%s\\n" "\${COMPREPLY[@]}"'`,
    ],
    { encoding: 'utf8', env: { ...process.env, HOME: dir } },
  );
  if (zsh.error) return t.skip('zsh is not installed');
  assert.equal(zsh.status, 0, zsh.stderr);
  assert.deepEqual(zsh.stdout.trim().split('\n').sort(), ['add', 'del', 'domain', 'list']);
});

/**
 * The CLI as a program (the bridge writes to the process's own stdout and stderr); not spawnSync,
 * which would stop this process's recording server from answering.
 */
function cliProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(projectRoot(), 'src/cli/main.ts'), ...args],
      { cwd: projectRoot(), encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 },
      (err, stdout, stderr) => resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('bridge: --help exits 0; a failure is one line and exit 5', async (t) => {
  const help = await cliProcess(['bridge', '--help']);
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usage: vpnsvc bridge --url <ws-url>/);
  const usage = await cliProcess(['bridge', '--name', 'vsb9']);
  assert.equal(usage.status, 2);
  assert.equal(usage.stderr, 'vpnsvc bridge: --url, --name, --local and --peer are required (vpnsvc bridge --help)\n');
  const noCa = await cliProcess([
    'bridge',
    '--url',
    'wss://127.0.0.1:1/x',
    '--name',
    'vsb9',
    '--local',
    '10.77.0.2',
    '--peer',
    '10.77.0.1',
    '--ca',
    '/nonexistent.pem',
  ]);
  assert.equal(noCa.status, 2);
  assert.equal(noCa.stderr, 'vpnsvc bridge: cannot read the --ca /nonexistent.pem (ENOENT) (vpnsvc bridge --help)\n');
  // Root outside the test namespace would make a TUN on the host: not here.
  if (process.getuid?.() === 0 && kernelSkipReason()) return t.skip(kernelSkipReason());
  const port = new URL(url).port;
  const failed = await cliProcess(
    ['bridge', '--url', `ws://127.0.0.1:${port}/interfaces/vpn0/stream`, '--name', 'vsb9', '--local', '10.77.0.2', '--peer', '10.77.0.1'],
    { VPNSVC_TOKEN: 'secret-token' },
  );
  assert.equal(failed.status, 5, failed.stderr);
  // Root in the test namespace: the TUN opens and the recording server refuses the upgrade; else the TUN cannot open.
  const lines = failed.stderr.trimEnd().split('\n');
  assert.equal(lines.filter((l) => !l.startsWith('vpnsvc bridge: up ')).length, 1, failed.stderr);
  assert.match(lines.at(-1)!, /^vpnsvc bridge: (the daemon refused the stream: HTTP \d+|cannot open the TUN vsb9)/);
});

test('bridge --ca: a wss:// daemon with a private CA is trusted with it, refused without it', kernelTestOptions(), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-bridge-ca-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { cert, key } = selfSignedCert(dir);
  // A TLS server that refuses every upgrade: reaching its answer proves the handshake passed.
  const tls = createHttpsServer({ cert: readFileSync(cert), key: readFileSync(key) }, (_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"VPNSVC_ERROR_NO_SUCH_FILE"}');
  });
  await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
  t.after(() => tls.close());
  const wss = `wss://127.0.0.1:${(tls.address() as { port: number }).port}/interfaces/vpn0/stream`;
  const args = ['bridge', '--url', wss, '--name', 'vsb8', '--local', '10.77.0.2', '--peer', '10.77.0.1'];
  const trusted = await cliProcess([...args, '--ca', cert], { VPNSVC_TOKEN: 'x' });
  assert.equal(trusted.status, 5);
  assert.match(trusted.stderr, /^vpnsvc bridge: the daemon refused the stream: HTTP 404/m);
  const untrusted = await cliProcess(args, { VPNSVC_TOKEN: 'x', VPNSVC_CA: '' });
  assert.equal(untrusted.status, 5);
  assert.match(untrusted.stderr, /^vpnsvc bridge: self[- ]signed certificate/m);
  assert.equal(untrusted.stderr.trimEnd().split('\n').length, 1, untrusted.stderr);
});

test('ready: 0 when the VPN feature is supported, NOT_SUPPORTED naming what is missing otherwise', async () => {
  const yes = await call(['ready']);
  assert.equal(yes.code, 0, yes.err);
  assert.equal(yes.out, 'ready\n');
  const no = await call(['ready'], { VPNSVC_URL: url, VPNSVC_TOKEN: 'unsupported' });
  assert.equal(no.code, EXIT_CODES.VPNSVC_ERROR_NOT_SUPPORTED);
  assert.equal(no.err, 'vpnsvc: VPNSVC_ERROR_NOT_SUPPORTED: not ready: no TUN here\n');
  assert.equal((await call(['ready'], { VPNSVC_URL: 'http://127.0.0.1:1', VPNSVC_TOKEN: 'x' })).code, 3);
});
