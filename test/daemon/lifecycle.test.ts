/**
 * The daemon process as operators run it: TLS, graceful SIGTERM within its bound, recovery after
 * SIGKILL, structured logs that never carry a token, the admin token from a file.
 */
import assert from 'node:assert/strict';
import { execFile, spawn as spawnChild } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { projectRoot } from '../../src/config/project-root.js';
import { JOURNAL_FILE } from '../../src/recovery/journal.js';
import { TOKENS_FILE, TokenStore } from '../../src/tokens/token-store.js';
import { type Daemon, logLines, spawnDaemon, waitReady } from '../helpers/daemon.js';
import { sseFollow, wsFollow } from '../helpers/follower.js';
import { ip, kernelTestOptions, link } from '../helpers/kernel.js';
import { freePort, selfSignedCert } from '../helpers/net.js';

const run = promisify(execFile);

async function waitFor(pred: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function cliBin(args: string[], env: Record<string, string>) {
  return run(process.execPath, ['--import', 'tsx', join(projectRoot(), 'src/cli/main.ts'), ...args], {
    cwd: projectRoot(),
    env: { ...process.env, ...env },
  }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

test('TLS: HTTPS and WSS with a certificate made in the test; plain HTTP gets nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-tls-'));
  const { cert, key } = selfSignedCert(dir);
  const port = await freePort();
  const daemon = spawnDaemon({ VPNSVC_LISTEN: `127.0.0.1:${port}`, VPNSVC_TLS_CERT: cert, VPNSVC_TLS_KEY: key }, dir);
  t.after(() => daemon.stop());
  await waitFor(() => existsSync(join(dir, 'state', 'admin.token')) && /"msg":"Server listening/.test(daemon.output()), 15_000);
  const ca = readFileSync(cert);
  const token = daemon.token();

  const get = (path: string, opts: { ca?: Buffer } = { ca }) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path, ...opts, headers: { authorization: `Bearer ${token}` } }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  const health = await get('/health');
  assert.equal(health.status, 200);
  assert.equal(JSON.parse(health.body).status, 'ok');
  await assert.rejects(get('/health', {}), /self-signed|unable to verify/i, 'an unknown CA is refused');
  // Plain HTTP to the TLS port: no HTTP answer.
  const plain = await new Promise<string>((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
    let got = '';
    s.on('data', (d) => (got += d.toString('latin1')));
    s.on('close', () => resolve(got));
    s.on('error', () => resolve(got));
    setTimeout(() => s.destroy(), 2000);
  });
  assert.doesNotMatch(plain, /^HTTP\/1\.1 200/);

  // WSS: the events stream over TLS.
  const f = await wsFollow(`wss://127.0.0.1:${port}/events`, token, { ca });
  await f.until((m) => m[0]?.type === 'hello');
  f.close();
  // The CLI over HTTPS with the CA.
  const cli = await cliBin(['--url', `https://127.0.0.1:${port}`, '--ca', cert, 'health', '--json'], { VPNSVC_TOKEN: token });
  assert.equal(cli.code, 0, cli.stderr);
  assert.equal(JSON.parse(cli.stdout).status, 'ok');
  const refused = await cliBin(['--url', `https://127.0.0.1:${port}`, 'health'], { VPNSVC_TOKEN: token });
  assert.equal(refused.code, 3, 'without the CA the CLI refuses the certificate');
});

describe('the daemon: shutdown, recovery, logs', kernelTestOptions(), () => {
  test('SIGTERM: followers told, the interface deinitialized, exit 0 within the bound', async (t) => {
    const daemon = spawnDaemon({ VPNSVC_SHUTDOWN_TIMEOUT_MS: '3000' });
    t.after(() => daemon.stop());
    await waitReady(daemon);
    const token = daemon.token();
    assert.equal((await daemon.call('POST', '/interfaces', { name: 'vsterm0' })).status, 201);
    const ws = await wsFollow(`ws+unix://${daemon.socket}:/events`, token);
    const sse = await sseFollow(`http://localhost/events`, { authorization: `Bearer ${token}` }, daemon.socket);
    await sse.until((s) => s.includes('hello'));
    assert.ok(existsSync(join(daemon.dir, 'state', JOURNAL_FILE)), 'the journal exists while running');

    const t0 = Date.now();
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited, 0);
    const elapsed = Date.now() - t0;
    t.diagnostic(`SIGTERM to exit: ${elapsed} ms`);
    assert.ok(elapsed < 3000, `within the 3 s bound (${elapsed} ms)`);
    assert.equal((await ws.closed).code, 1001);
    assert.equal(ws.messages.at(-1)?.type, 'daemon.stopping');
    assert.deepEqual(ws.messages.at(-1)?.reason, { source: 'daemon', detail: 'SIGTERM' });
    await sse.ended;
    assert.match(await sse.until(() => true), /event: daemon.stopping/);
    assert.equal(link('vsterm0'), undefined, 'deinit removed the TUN');
    assert.ok(!existsSync(join(daemon.dir, 'state', JOURNAL_FILE)), 'a clean stop leaves no journal');
    const done = logLines(daemon).find((l) => l.msg === 'shutdown complete');
    assert.ok(done && typeof done.elapsedMs === 'number');
  });

  test("SIGKILL in the middle of operations, then a restart: nothing of the user's is lost", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-crash-'));
    const first = spawnDaemon({}, dir);
    t.after(() => first.stop());
    await waitReady(first);
    const adminToken = first.token();
    // The user's own things: a restricted token, and a device of theirs named like ours later.
    const ui = await cliBin(['token', 'add', 'ui', '--privileges', 'vpnservice'], { VPNSVC_STATE_DIR: join(dir, 'state') });
    assert.equal(ui.code, 0, ui.stderr);
    const uiToken = ui.stdout.trim();
    const tokensBefore = readFileSync(join(dir, 'state', 'tokens.json'), 'utf8');
    first.child.kill('SIGTERM');
    await first.exited;
    const second = spawnDaemon({}, dir);
    t.after(() => second.stop());
    await waitReady(second);
    assert.equal((await second.call('POST', '/interfaces', { name: 'vscrash0' })).status, 201);
    assert.equal((await second.call('PATCH', '/interfaces/vscrash0', { localIp: '10.74.0.1', remoteIp: '10.74.0.2' })).status, 200);
    // A burst of state changes in flight, killed in the middle.
    const burst = Array.from({ length: 40 }, (_, i) =>
      i % 2
        ? second.call('POST', '/interfaces/vscrash0/apply').catch(() => undefined)
        : second.call('PATCH', '/interfaces/vscrash0', { mtu: 1300 + i }).catch(() => undefined),
    );
    await new Promise((r) => setTimeout(r, 15));
    second.child.kill('SIGKILL');
    await second.exited;
    await Promise.all(burst);
    assert.ok(existsSync(join(dir, 'state', JOURNAL_FILE)), 'a killed daemon leaves its journal');
    rmSync(second.socket, { force: true });

    const third = spawnDaemon({}, dir);
    t.after(() => third.stop());
    await waitReady(third);
    // The user's tokens are intact and work; the admin token is the same.
    assert.equal(readFileSync(join(dir, 'state', 'tokens.json'), 'utf8'), tokensBefore);
    assert.equal(third.token(), adminToken);
    assert.equal((await third.call('GET', '/interfaces', undefined, uiToken)).status, 200);
    // The crashed run's TUN is gone, so the same name is free again.
    assert.equal((await third.call('POST', '/interfaces', { name: 'vscrash0' })).body.name, 'vscrash0');
    // What recovery found is logged and is an event.
    const recovery = logLines(third).find((l) => l.msg === 'recovery: tun');
    assert.ok(recovery, third.output());
    assert.equal(recovery.predecessor, second.child.pid);
    assert.match(recovery.found.join('\n'), /vscrash0 \(index \d+\) is gone/);
    const events = (await third.call('GET', '/events?types=daemon')).body.events as {
      type: string;
      reason: { source: string };
      data: any;
    }[];
    assert.deepEqual(
      events.map((e) => e.type),
      ['daemon.started', 'daemon.recovered'],
    );
    assert.equal(events[1]!.reason.source, 'recovery');
    assert.equal(events[1]!.data.predecessor.pid, second.child.pid);
    rmSync(dir, { recursive: true, force: true });
  });

  test('after SIGKILL with DNS set and the kill switch on: recovery restores resolv.conf and reports the block in force', async (t) => {
    // Its own network namespace: a kill switch in the shared test namespace would cut other test files off.
    const ns = `vsrec-${process.pid}`;
    ip('netns', 'add', ns);
    t.after(() => ip('netns', 'delete', ns));
    ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', ns, 'link', 'add', 'vsrecd0', 'type', 'veth', 'peer', 'name', 'vsrecd1');
    ip('-n', ns, 'link', 'set', 'vsrecd0', 'up');
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-recover-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const resolvConf = join(dir, 'resolv.conf');
    const original = "# the user's\nnameserver 192.168.1.1\n";
    writeFileSync(resolvConf, original);
    const env = { VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: resolvConf };
    const opts = { prefix: ['ip', 'netns', 'exec', ns], keepDir: true };
    const first = spawnDaemon(env, dir, opts);
    t.after(() => first.stop());
    await waitReady(first);
    assert.equal((await first.call('POST', '/interfaces', { name: 'vsrec0' })).status, 201);
    assert.equal((await first.call('PATCH', '/interfaces/vsrec0', { localIp: '10.73.0.1', remoteIp: '10.73.0.2' })).status, 200);
    assert.equal((await first.call('POST', '/interfaces/vsrec0/apply')).status, 200);
    assert.equal((await first.call('POST', '/dns', { server: '10.73.0.53' })).status, 201);
    const block = { allowVpn: [{ address: '0.0.0.0', prefix: 0 }], allowOriginal: [], originalInterface: 'vsrecd0' };
    assert.equal((await first.call('PUT', '/firewall', block)).status, 200);
    assert.match(readFileSync(resolvConf, 'utf8'), /10\.73\.0\.53/);
    first.child.kill('SIGKILL');
    await first.exited;
    rmSync(first.socket, { force: true });

    const second = spawnDaemon(env, dir, opts);
    t.after(() => second.stop());
    await waitReady(second);
    const token = second.token();
    t.after(() => second.call('DELETE', '/firewall', undefined, token).catch(() => undefined));
    assert.equal(readFileSync(resolvConf, 'utf8'), original, "the crashed run's resolv.conf change is undone");
    const log = (name: string) => logLines(second).find((l) => l.msg === `recovery: ${name}`);
    assert.deepEqual(log('resolver')?.did, ['restored the resolver through the file backend'], second.output());
    assert.match(log('resolver')!.found.join(), /a resolv\.conf backup of the crashed run/);
    assert.match(
      log('firewall')!.found.join(),
      /the kill switch is still in force \(1 VPN and 0 original-network exceptions\): kept, fail-closed/,
    );
    assert.match(log('routes')!.found.join(), /the routes through vsrec0 went with the link/);
    const events = (await second.call('GET', '/events?types=daemon')).body.events as {
      type: string;
      reason: { source: string };
      data: any;
    }[];
    assert.equal(events[0]!.type, 'daemon.started');
    assert.equal(events[0]!.reason.source, 'daemon', "a start is the daemon's doing, not recovery's");
    assert.equal(events[1]!.type, 'daemon.recovered');
    assert.deepEqual(
      events[1]!.data.reports.map((r: { reconciler: string }) => r.reconciler),
      ['tun', 'policy-routing', 'routes', 'resolver', 'firewall'],
    );
    assert.equal((await second.call('GET', '/firewall')).body.blocked, true, 'the block is still in the kernel');
  });

  test("a stale TUN of the crashed run is removed; a user's device of the same name is left alone", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-stale-'));
    // A persistent TUN the crashed run would have held (as if its fd had outlived it) ...
    ip('tuntap', 'add', 'mode', 'tun', 'name', 'vsstale0');
    // ... and the user's own device, recorded under an index it no longer has.
    ip('tuntap', 'add', 'mode', 'tun', 'name', 'vsuser0');
    t.after(() => {
      for (const n of ['vsstale0', 'vsuser0']) if (link(n)) ip('link', 'delete', n);
    });
    mkdirSync(join(dir, 'state'), { recursive: true });
    writeFileSync(
      join(dir, 'state', JOURNAL_FILE),
      JSON.stringify({
        pid: 999_999,
        startedAt: '2026-01-01T00:00:00.000Z',
        epoch: 'x',
        interfaces: [
          { name: 'vsstale0', index: link('vsstale0')!.ifindex },
          { name: 'vsuser0', index: link('vsuser0')!.ifindex + 1000 },
        ],
      }),
    );
    const daemon = spawnDaemon({}, dir);
    t.after(() => daemon.stop());
    await waitReady(daemon);
    assert.equal(link('vsstale0'), undefined, 'the stale TUN is removed');
    assert.ok(link('vsuser0'), "the user's device stays");
    const r = logLines(daemon).find((l) => l.msg === 'recovery: tun')!;
    assert.deepEqual(r.did, ['removed the stale TUN vsstale0']);
    assert.match(r.found[1], /vsuser0 exists but is not the crashed run's TUN/);
  });

  test('logs: JSON lines with request ids; no token ever, right or wrong, in header, query or WebSocket', async (t) => {
    const daemon = spawnDaemon({ VPNSVC_LOG_LEVEL: 'info' });
    t.after(() => daemon.stop());
    await waitReady(daemon);
    const token = daemon.token();
    const wrong = `WrongToken_${'q'.repeat(32)}`;
    const raw = (path: string, headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest({ socketPath: daemon.socket, path, headers }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal(await raw('/interfaces', { authorization: `Bearer ${token}`, 'x-request-id': 'trace-abc' }), 200);
    assert.equal(await raw('/interfaces', { authorization: `Bearer ${wrong}` }), 401);
    assert.equal(await raw(`/events?token=${token}&access_token=${wrong}`, {}), 401);
    assert.equal(await raw('/interfaces', { authorization: token }), 401);
    const f = await wsFollow(`ws+unix://${daemon.socket}:/events`, token);
    f.close();
    await daemon.call('POST', '/interfaces', { name: 'vslog0' });
    await daemon.call('DELETE', '/interfaces/vslog0');
    await new Promise((r) => setTimeout(r, 100));
    const out = daemon.output();
    for (const secret of [token, wrong]) assert.ok(!out.includes(secret), 'a token reached the log');
    const lines = logLines(daemon);
    assert.ok(lines.length > 5 && lines.every((l) => typeof l.level === 'number' && typeof l.time === 'number'));
    const traced = lines.filter((l) => l.reqId === 'trace-abc');
    assert.deepEqual(
      traced.map((l) => l.msg),
      ['incoming request', 'request completed'],
    );
    assert.equal(traced[1]!.res.statusCode, 200);
    assert.ok(lines.some((l) => l.req?.url === '/events?token=[redacted]&access_token=[redacted]'));
  });

  test('VPNSVC_ADMIN_TOKEN_FILE: the admin token comes from a file (a Kubernetes Secret)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-secret-'));
    const secret = join(dir, 'token');
    writeFileSync(secret, 'k8s-secret-token-0123456789\n');
    const daemon = spawnDaemon({ VPNSVC_ADMIN_TOKEN_FILE: secret }, dir);
    t.after(() => daemon.stop());
    await waitReady(daemon).catch(() => undefined);
    await waitFor(() => /Server listening/.test(daemon.output()), 15_000);
    assert.ok(!existsSync(join(dir, 'state', 'admin.token')), 'no generated token');
    assert.equal((await daemon.call('GET', '/interfaces', undefined, 'k8s-secret-token-0123456789')).status, 200);
    const cli = await cliBin(['list', '--json'], { VPNSVC_LISTEN: `unix:${daemon.socket}`, VPNSVC_ADMIN_TOKEN_FILE: secret });
    assert.equal(cli.code, 0, cli.stderr);
    assert.ok(!daemon.output().includes('k8s-secret-token'));

    writeFileSync(join(dir, 'short'), 'abc');
    const bad = spawnDaemon({ VPNSVC_ADMIN_TOKEN_FILE: join(dir, 'short') }, mkdtempSync(join(tmpdir(), 'vpnsvc-secret-')));
    t.after(() => bad.stop());
    assert.equal(await bad.exited, 2);
    assert.match(bad.output(), /at least 16 characters/);
  });

  test('tokens added, revoked or rotated take effect without a restart', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-reload-'));
    const secret = join(dir, 'admin-secret');
    writeFileSync(secret, 'first-admin-token-0123456789\n');
    const daemon = spawnDaemon({ VPNSVC_ADMIN_TOKEN_FILE: secret }, dir);
    t.after(() => daemon.stop());
    await waitFor(() => /Server listening/.test(daemon.output()), 15_000);
    const status = (token: string) => daemon.call('GET', '/interfaces', undefined, token).then((r) => r.status);
    const eventually = async (token: string, want: number) => {
      const deadline = Date.now() + 5000;
      while ((await status(token)) !== want) {
        if (Date.now() > deadline) throw new Error(`token still answers ${await status(token)}, not ${want}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const added = await cliBin(['token', 'add', 'ops', '--privileges', 'none'], { VPNSVC_STATE_DIR: join(dir, 'state') });
    assert.equal(added.code, 0, added.stderr);
    const ops = added.stdout.trim();
    await eventually(ops, 200);
    assert.equal((await daemon.call('POST', '/interfaces', { name: 'vsro0' }, ops)).status, 403, 'a read-only token');
    assert.equal((await cliBin(['token', 'del', 'ops'], { VPNSVC_STATE_DIR: join(dir, 'state') })).code, 0);
    await eventually(ops, 401);
    // The Secret is rotated: the old admin token stops, the new one works.
    writeFileSync(secret, 'second-admin-token-0123456789\n');
    await eventually('second-admin-token-0123456789', 200);
    assert.equal(await status('first-admin-token-0123456789'), 401);
    assert.match(daemon.output(), /"msg":"tokens reloaded"/);
  });

  test('a second daemon on the same state directory refuses to start', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-twice-'));
    const first = spawnDaemon({}, dir);
    t.after(() => first.stop());
    await waitReady(first);
    const second = spawnDaemon({ VPNSVC_LISTEN: `unix:${join(dir, 'other.sock')}` }, dir);
    t.after(() => second.stop());
    assert.equal(await second.exited, 1);
    assert.match(second.output(), /another vpnsvc daemon is running with this state directory/);
    assert.equal((await first.call('GET', '/health')).status, 200);
  });
});

/** Whether the daemon came up or exited first (with its code), bounded. */
async function startOutcome(d: Daemon, ms = 15_000): Promise<'listening' | number | null> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (d.child.exitCode !== null) return d.child.exitCode;
    if (/Server listening/.test(d.output())) return 'listening';
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the daemon neither listened nor exited in ${ms} ms:\n${d.output()}`);
}

/**
 * A thread that lstat()s `path` until stopped: every millisecond, and without pause once `busyAfter`
 * exists (the journal, written just before the daemon listens), so it sees the socket in every
 * state it passes through without taking a core for the whole start. With `swap`, the first
 * socket it sees is replaced (rename, atomic) by a symbolic link to `swap`, as an attacker
 * racing the daemon would.
 */
function watchPath(
  path: string,
  busyAfter: string,
  swap?: string,
): { stop(): Promise<{ modes: Record<string, number>; polls: number; swapped: boolean }> } {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads');
     const fs = require('node:fs');
     const { path, busyAfter, swap, flag } = workerData;
     const modes = {};
     let polls = 0, swapped = false, busy = false;
     while (Atomics.load(flag, 0) === 0) {
       polls++;
       if (!busy) {
         busy = fs.existsSync(busyAfter);
         if (!busy) Atomics.wait(flag, 0, 0, 1);
       }
       let st;
       try { st = fs.lstatSync(path); } catch { continue; }
       if (st.isSocket()) {
         const k = (st.mode & 0o7777).toString(8);
         modes[k] = (modes[k] ?? 0) + 1;
         if (swap && !swapped) {
           fs.symlinkSync(swap, path + '.link');
           fs.renameSync(path + '.link', path);
           swapped = true;
         }
       }
     }
     parentPort.postMessage({ modes, polls, swapped });`,
    { eval: true, workerData: { path, busyAfter, swap, flag } },
  );
  const result = new Promise<{ modes: Record<string, number>; polls: number; swapped: boolean }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    stop: async () => {
      Atomics.store(flag, 0, 1);
      const r = await result;
      await worker.terminate();
      return r;
    },
  };
}

describe('the state directory and the unix socket: what the daemon trusts', () => {
  const isRoot = process.getuid?.() === 0;

  test('a state directory others can write is refused at start, with the fix', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-trust-'));
    mkdirSync(join(dir, 'state'));
    chmodSync(join(dir, 'state'), 0o777);
    const d = spawnDaemon({}, dir);
    t.after(() => d.stop());
    assert.equal(await startOutcome(d), 2, d.output());
    assert.match(
      d.output(),
      new RegExp(`${join(dir, 'state')} is writable by group and others \\(mode 0777\\); fix: chmod go-w ${join(dir, 'state')}`),
    );
    assert.ok(!existsSync(join(dir, 'state', TOKENS_FILE)), 'nothing was written into it');
  });

  test('a tokens.json owned by another user is refused at start', { skip: isRoot ? false : 'chown needs root' }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-trust-'));
    TokenStore.openStateDir(join(dir, 'state'));
    const tokens = join(dir, 'state', TOKENS_FILE);
    chownSync(tokens, 65534, 65534);
    const d = spawnDaemon({}, dir);
    t.after(() => d.stop());
    assert.equal(await startOutcome(d), 2, d.output());
    assert.match(d.output(), new RegExp(`${tokens} is owned by uid 65534, not root; fix: chown root ${tokens}`));
  });

  test('the socket never appears with a mode wider than 0660 (5 starts, its path polled without pause)', async (t) => {
    const seen: Record<string, number> = {};
    let polls = 0;
    for (let i = 0; i < 5; i++) {
      const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-sock-'));
      const watcher = watchPath(join(dir, 'vpnsvc.sock'), join(dir, 'state', JOURNAL_FILE));
      const d = spawnDaemon({}, dir);
      try {
        await waitReady(d);
      } finally {
        const r = await watcher.stop();
        await d.stop();
        polls += r.polls;
        for (const [mode, n] of Object.entries(r.modes)) seen[mode] = (seen[mode] ?? 0) + n;
      }
    }
    t.diagnostic(`socket modes seen over ${polls} polls: ${JSON.stringify(seen)}`);
    assert.deepEqual(Object.keys(seen), ['660']);
  });

  test('a symbolic link at the socket path is replaced, never followed; nor is one swapped in while it starts', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-sock-'));
    const target = join(dir, 'precious');
    writeFileSync(target, "not the daemon's\n", { mode: 0o600 });
    chmodSync(target, 0o600);
    const socket = join(dir, 'vpnsvc.sock');
    symlinkSync(target, socket);
    const d = spawnDaemon({}, dir, { keepDir: true });
    t.after(() => d.stop());
    await waitReady(d);
    const st = lstatSync(socket);
    assert.ok(st.isSocket(), 'the link was replaced by the socket');
    assert.equal(st.mode & 0o777, 0o660);
    assert.equal(statSync(target).mode & 0o777, 0o600, 'the target keeps its mode');
    assert.equal(readFileSync(target, 'utf8'), "not the daemon's\n");
    await d.stop();

    // An attacker swaps a link in the moment the socket appears: nothing chmods through it.
    for (let i = 0; i < 2; i++) {
      const again = spawnDaemon({}, mkdtempSync(join(tmpdir(), 'vpnsvc-sock-')));
      const watcher = watchPath(again.socket, join(again.dir, 'state', JOURNAL_FILE), target);
      try {
        assert.equal(await startOutcome(again), 'listening', again.output());
        await new Promise((r) => setTimeout(r, 300));
      } finally {
        const r = await watcher.stop();
        await again.stop();
        assert.ok(r.swapped, 'the race was run');
      }
      assert.equal(statSync(target).mode & 0o777, 0o600, `start ${i + 1}: the target keeps its mode`);
    }
    rmSync(dir, { recursive: true, force: true });
  });
});

// ---- starting and stopping as operators do ------------------------------------------------

/** Runs the built daemon's entry (dist/, as `npm start` does) with arguments. */
function daemonBin(args: string[]) {
  return run(process.execPath, ['--import', 'tsx', join(projectRoot(), 'src/server.ts'), ...args], { cwd: projectRoot() }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('vpnsvc-daemon --help and --version exit 0; an unknown argument is a one-line usage error', async () => {
  const help = await daemonBin(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: vpnsvc-daemon/);
  assert.match(help.stdout, /3 {2}cannot listen/);
  const version = await daemonBin(['--version']);
  assert.equal(version.code, 0);
  const { version: v } = JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string };
  assert.equal(version.stdout, `vpnsvc-daemon ${v}\n`);
  const bad = await daemonBin(['--port', '1']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`npm start, stopped by its pid with ${signal}, stops the daemon`, async (t) => {
    assert.ok(existsSync(join(projectRoot(), 'dist/src/server.js')), 'npm start runs the build: npm run build first');
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-npm-start-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const npm = spawnChild('npm', ['start', '--silent'], {
      cwd: projectRoot(),
      env: { ...process.env, VPNSVC_STATE_DIR: join(dir, 'state'), VPNSVC_LISTEN: `unix:${join(dir, 'vpnsvc.sock')}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    npm.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    npm.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const npmExited = new Promise<number | null>((r) => npm.on('exit', (code) => r(code)));
    t.after(() => npm.kill('SIGKILL'));
    await waitFor(() => /Server listening/.test(out), 15_000).catch(() => assert.fail(out));
    // The daemon's own pid, from its journal.
    const daemonPid = (JSON.parse(readFileSync(join(dir, 'state', JOURNAL_FILE), 'utf8')) as { pid: number }).pid;
    assert.notEqual(daemonPid, npm.pid);
    t.after(() => {
      if (alive(daemonPid)) process.kill(daemonPid, 'SIGKILL');
    });
    process.kill(npm.pid!, signal);
    await npmExited;
    await waitFor(() => !alive(daemonPid), 12_000).catch(() =>
      assert.fail(`daemon ${daemonPid} still runs after ${signal} to npm:\n${out}`),
    );
    assert.match(out, /"msg":"shutdown complete"/);
    assert.ok(!existsSync(join(dir, 'state', JOURNAL_FILE)), 'a clean shutdown removes the journal');
  });
}

test('port in use: one line naming the cause and the fix, exit 3, no token written', async (t) => {
  const holder = createNetServer();
  await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
  t.after(() => holder.close());
  const port = (holder.address() as { port: number }).port;
  const daemon = spawnDaemon({ VPNSVC_LISTEN: `127.0.0.1:${port}` });
  t.after(() => daemon.stop());
  assert.equal(await daemon.exited, 3);
  const lines = daemon.output().trim().split('\n');
  assert.deepEqual(lines.length, 1, daemon.output());
  assert.match(lines[0]!, new RegExp(`^vpnsvc-daemon: cannot listen on 127\\.0\\.0\\.1:${port} \\(EADDRINUSE\\): .*VPNSVC_LISTEN`));
  assert.ok(!existsSync(join(daemon.dir, 'state', 'admin.token')), 'nothing written for a start that fails');
});

test('a socket path that holds a file, or whose directory is missing: one line, exit 3, no token written', async (t) => {
  for (const [what, setup, message] of [
    ['a file', (dir: string) => writeFileSync(join(dir, 'vpnsvc.sock'), 'not a socket'), /exists and is not a socket: move it away/],
    ['no directory', () => undefined, /\(ENOENT\): the directory of the socket does not exist/],
  ] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-badsock-'));
    setup(dir);
    const path = what === 'a file' ? join(dir, 'vpnsvc.sock') : join(dir, 'missing', 'vpnsvc.sock');
    const daemon = spawnDaemon({ VPNSVC_LISTEN: `unix:${path}` }, dir);
    t.after(() => daemon.stop());
    assert.equal(await daemon.exited, 3, `${what}: ${daemon.output()}`);
    const lines = daemon.output().trim().split('\n');
    assert.equal(lines.length, 1, daemon.output());
    assert.match(lines[0]!, message);
    assert.ok(!existsSync(join(dir, 'state', 'admin.token')), `${what}: nothing written`);
  }
});

test('a state directory the user cannot write: one line, exit 4, how to fix it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-eacces-'));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // As nobody (or the non-root user running the tests), a state directory inside one root owns:
  // the temp dir when root made it, else /var/lib.
  const stateDir = process.getuid?.() === 0 ? join(dir, 'state') : join('/var/lib', `vpnsvc-eacces-${process.pid}`, 'state');
  const daemon = spawnDaemon(
    {
      VPNSVC_STATE_DIR: stateDir,
      VPNSVC_LISTEN: `unix:${join(tmpdir(), `vpnsvc-eacces-${process.pid}.sock`)}`,
      HOME: '/nonexistent',
    },
    dir,
    {
      prefix: process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [],
      keepDir: true,
    },
  );
  t.after(() => daemon.stop());
  assert.equal(await daemon.exited, 4, daemon.output());
  const lines = daemon.output().trim().split('\n');
  assert.equal(lines.length, 1, daemon.output());
  assert.match(lines[0]!, /^vpnsvc-daemon: cannot write the state directory .*\(EACCES\): run the daemon as root, or set VPNSVC_STATE_DIR/);
});

test('bad configuration: one line, exit 2', async (t) => {
  const daemon = spawnDaemon({ VPNSVC_SHUTDOWN_TIMEOUT_MS: 'soon' });
  t.after(() => daemon.stop());
  assert.equal(await daemon.exited, 2);
  const lines = daemon.output().trim().split('\n');
  assert.equal(lines.length, 1, daemon.output());
  assert.match(lines[0]!, /^vpnsvc-daemon: .*VPNSVC_SHUTDOWN_TIMEOUT_MS/);
});

test('sd_notify: READY=1 with the daemon pid reaches $NOTIFY_SOCKET once the API answers', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-notify-'));
  const socket = join(dir, 'notify.sock');
  // A datagram receiver, as systemd's notify socket is (Node has none).
  const receiver = spawnChild(
    'python3',
    [
      '-c',
      'import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint("bound",flush=True)\nwhile True:\n  d=s.recv(4096).decode()\n  print(repr(d),flush=True)\n  if "READY=1" in d: break',
      socket,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => receiver.kill('SIGKILL'));
  let got = '';
  receiver.stdout?.on('data', (d: Buffer) => (got += d.toString()));
  await waitFor(() => got.includes('bound'));
  const daemon = spawnDaemon({ NOTIFY_SOCKET: socket }, dir);
  t.after(() => daemon.stop());
  await waitFor(() => got.includes('READY=1'), 15_000).catch(() => assert.fail(daemon.output()));
  // Ready means ready: the API answers at once.
  assert.equal((await daemon.call('GET', '/health', undefined, '')).status, 200);
  assert.match(got, new RegExp(`MAINPID=${daemon.child.pid}\\\\n`));
  daemon.child.kill('SIGTERM');
  assert.equal(await daemon.exited, 0);
});
