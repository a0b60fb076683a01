#!/usr/bin/env node
/**
 * npm run bench:routes: 10,000 routes added then removed through the REST bulk form, and the
 * same with `ip -batch`, back to back in the same run, inside a network namespace this script
 * makes and removes; plus the median round trip of a single-route REST call. A benchmark, not
 * a test: it prints a table and fails only when something does not work.
 *
 *   npm run bench:routes [-- --routes 10000 --rounds 3 --singles 200]
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    routes: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '3' },
    singles: { type: 'string', default: '200' },
  },
});
const N = Math.min(Number(opts.routes), 20_000);
const ROUNDS = Math.min(Number(opts.rounds), 10);
const SINGLES = Math.min(Number(opts.singles), 2000);
const IFACE = 'vsbench0';
const root = new URL('..', import.meta.url).pathname;

if (process.getuid?.() !== 0) {
  console.error('bench:routes needs root (it makes a network namespace and a TUN device)');
  process.exit(1);
}

const netns = `vpnsvc-bench-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-bench-'));
const socket = join(dir, 'vpnsvc.sock');
let daemon;

function cleanup() {
  if (daemon && daemon.exitCode === null) daemon.kill('SIGKILL');
  try {
    execFileSync('ip', ['netns', 'delete', netns], { stdio: 'ignore' });
  } catch {
    // not made, or already gone
  }
  rmSync(dir, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
let token = '';

function call(method, path, body) {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: socket,
        agent,
        method,
        path,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : undefined }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function expectStatus(status, promise, what) {
  const res = await promise;
  if (res.status !== status) throw new Error(`${what}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
  return res;
}

function ipCount(family) {
  const out = execFileSync('ip', ['-n', netns, '-j', ...(family === 6 ? ['-6'] : []), 'route', 'show', 'dev', IFACE, 'proto', '86'], {
    encoding: 'utf8',
  });
  return out.trim() ? JSON.parse(out).length : 0;
}

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function routeSet(family) {
  return Array.from({ length: N }, (_, i) =>
    family === 4
      ? { address: `10.${100 + (i >> 8)}.${i & 255}.0`, prefix: 24 }
      : { address: `fd00:${(i >> 8).toString(16)}:${(i & 255).toString(16)}::`, prefix: 64 },
  );
}

try {
  execFileSync('ip', ['netns', 'add', netns]);
  execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  const resolvConf = join(dir, 'resolv.conf');
  writeFileSync(resolvConf, '');
  // `ip netns exec` execs node in the namespace: daemon.pid is the daemon itself.
  daemon = spawn('ip', ['netns', 'exec', netns, process.execPath, '--import', 'tsx', join(root, 'src/server.ts')], {
    cwd: root,
    env: {
      ...process.env,
      VPNSVC_LISTEN: `unix:${socket}`,
      VPNSVC_STATE_DIR: join(dir, 'state'),
      VPNSVC_LOG_LEVEL: 'warn',
      // Never the host's resolver, even though the bench adds no DNS server.
      VPNSVC_DNS_BACKEND: 'file',
      VPNSVC_RESOLV_CONF: resolvConf,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 150 && !(existsSync(socket) && existsSync(join(dir, 'state', 'admin.token'))); i++) await sleep(100);
  token = readFileSync(join(dir, 'state', 'admin.token'), 'utf8').trim();
  await expectStatus(201, call('POST', '/interfaces', { name: IFACE }), 'create interface');
  await expectStatus(200, call('PATCH', `/interfaces/${IFACE}`, { localIp: '10.255.0.1', remoteIp: '10.255.0.2' }), 'settings');
  await expectStatus(200, call('POST', `/interfaces/${IFACE}/apply`), 'apply');

  const rows = [];
  for (const family of [4, 6]) {
    const routes = routeSet(family);
    const body = JSON.stringify(routes);
    const batchAdd = join(dir, `add${family}`);
    const batchDel = join(dir, `del${family}`);
    writeFileSync(batchAdd, routes.map((r) => `route add ${r.address}/${r.prefix} dev ${IFACE} proto 86\n`).join(''));
    writeFileSync(batchDel, routes.map((r) => `route del ${r.address}/${r.prefix} dev ${IFACE} proto 86\n`).join(''));
    const t = { restAdd: [], restDel: [], ipAdd: [], ipDel: [] };
    // One warm-up round (JIT, first allocation of the kernel's fib tables), then the measured ones.
    for (let round = 0; round <= ROUNDS; round++) {
      let t0 = process.hrtime.bigint();
      await expectStatus(201, call('POST', '/routes', body), 'REST bulk add');
      const restAdd = ms(t0);
      if (ipCount(family) !== N) throw new Error(`REST bulk add: the kernel does not have ${N} routes`);
      t0 = process.hrtime.bigint();
      await expectStatus(204, call('DELETE', '/routes', body), 'REST bulk remove');
      const restDel = ms(t0);
      if (ipCount(family) !== 0) throw new Error('REST bulk remove left routes behind');

      t0 = process.hrtime.bigint();
      execFileSync('ip', ['-n', netns, '-batch', batchAdd]);
      const ipAdd = ms(t0);
      if (ipCount(family) !== N) throw new Error(`ip -batch add: the kernel does not have ${N} routes`);
      t0 = process.hrtime.bigint();
      execFileSync('ip', ['-n', netns, '-batch', batchDel]);
      const ipDel = ms(t0);
      if (round === 0) continue;
      t.restAdd.push(restAdd);
      t.restDel.push(restDel);
      t.ipAdd.push(ipAdd);
      t.ipDel.push(ipDel);
    }
    rows.push({ family, restAdd: median(t.restAdd), ipAdd: median(t.ipAdd), restDel: median(t.restDel), ipDel: median(t.ipDel) });
  }

  const singleAdd = [];
  const singleDel = [];
  for (let i = 0; i < SINGLES; i++) {
    const r = { address: `10.${200 + (i >> 8)}.${i & 255}.0`, prefix: 24 };
    let t0 = process.hrtime.bigint();
    await expectStatus(201, call('POST', '/routes', r), 'single add');
    singleAdd.push(ms(t0));
    t0 = process.hrtime.bigint();
    await expectStatus(204, call('DELETE', `/routes/${r.address}/${r.prefix}`), 'single remove');
    singleDel.push(ms(t0));
  }
  await expectStatus(204, call('DELETE', `/interfaces/${IFACE}`), 'deinit');

  const f = (x) => x.toFixed(1).padStart(8);
  const ratio = (a, b) => `${(a / b).toFixed(2)}x`.padStart(6);
  console.log(`\n${N} routes per run, median of ${ROUNDS} rounds after one warm-up, REST and ip -batch back to back (${netns})\n`);
  console.log('| family | REST bulk add ms | ip -batch add ms | ratio | REST bulk remove ms | ip -batch remove ms | ratio |');
  console.log('|--------|------------------|------------------|-------|---------------------|---------------------|-------|');
  for (const r of rows) {
    console.log(
      `| IPv${r.family}   | ${f(r.restAdd)}         | ${f(r.ipAdd)}         | ${ratio(r.restAdd, r.ipAdd)}| ${f(r.restDel)}            | ${f(r.ipDel)}            | ${ratio(r.restDel, r.ipDel)}|`,
    );
  }
  console.log(
    `\nsingle-route REST round trip, median of ${SINGLES}: POST /routes ${median(singleAdd).toFixed(2)} ms, DELETE /routes/{address}/{prefix} ${median(singleDel).toFixed(2)} ms`,
  );
  console.log('target: ratio <= 1.5x (REST includes JSON, validation, checks and the HTTP round trip)\n');
} catch (err) {
  console.error(`bench:routes failed: ${err.message}`);
  process.exitCode = 1;
} finally {
  agent.destroy();
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await Promise.race([new Promise((r) => daemon.once('exit', r)), sleep(5000)]);
  }
  cleanup();
}
