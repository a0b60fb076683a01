/**
 * The console in a real browser (Debian's Chromium through playwright-core) against the real
 * daemon (src/server.ts) in a network namespace of its own, so the kill switch blocks nothing
 * the other test files use. The browser reaches the daemon's unix socket through a TCP
 * forwarder on 127.0.0.1, as through an SSH tunnel; the forwarder can also drop every
 * connection, a network break the console must ride out. Everything the console claims is
 * read back from the kernel (ip -j, nft -j) and the resolver file. Screenshots of each screen
 * go to test-artifacts/console/ (git-ignored).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Page } from 'playwright-core';
import WebSocket from 'ws';
import { projectRoot } from '../../src/config/project-root.js';
import { addToken, removeToken } from '../../src/tokens/token-store.js';
import { USER_RESOLV_CONF } from '../helpers/app.js';
import { type Daemon, spawnDaemon, waitReady } from '../helpers/daemon.js';
import { kernelTestOptions } from '../helpers/kernel.js';
import { ipv4Udp } from '../helpers/packets.js';
import { launchChromium } from './browser.js';

const NS = `vsui-${process.pid}`;
const TUN = 'vsui0';
const WAN = 'vsuiwan0';
const SHOTS = join(projectRoot(), 'test-artifacts', 'console');

const inNs = (...argv: string[]) =>
  execFileSync('ip', ['netns', 'exec', NS, ...argv], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const ipJson = <T>(...args: string[]): T => JSON.parse(execFileSync('ip', ['-n', NS, '-j', ...args], { encoding: 'utf8' }) || '[]') as T;

/** 127.0.0.1:port → the daemon's unix socket; `drop` cuts every connection and refuses new ones until `resume`. */
async function forwarder(socketPath: string): Promise<{ server: Server; port: number; drop(): void; resume(): void }> {
  const live = new Set<Socket>();
  let refusing = false;
  const server = createServer((client) => {
    if (refusing) return client.destroy();
    const upstream = connect(socketPath);
    for (const s of [client, upstream]) {
      live.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        live.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as { port: number }).port,
    drop: () => {
      refusing = true;
      for (const s of live) s.destroy();
    },
    resume: () => {
      refusing = false;
    },
  };
}

/** What a page elsewhere tries with the daemon's cookie: each attempt settles as "ok …", "refused …", "open" or "closed <code>". */
const EVIL_PAGE = `async function (daemon) {
  const settle = (p) => p.then((r) => 'ok ' + r.status).catch((e) => 'refused ' + e.name);
  const post = await settle(fetch(daemon + '/interfaces', { method: 'POST', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: '{"name":"evil0"}' }));
  const get = await settle(fetch(daemon + '/interfaces', { credentials: 'include' }));
  const sse = await new Promise((resolve) => {
    const es = new EventSource(daemon + '/events', { withCredentials: true });
    es.onopen = () => resolve('open');
    es.onerror = () => { es.close(); resolve('refused'); };
  });
  const ws = (path) => new Promise((resolve) => {
    const socket = new WebSocket(daemon.replace('http', 'ws') + path);
    socket.onopen = () => resolve('open');
    socket.onclose = (e) => resolve('closed ' + e.code);
  });
  return { post, get, sse, events: await ws('/events'), stream: await ws('/interfaces/vsui0/stream') };
}`;

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 8000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('the console in Chromium against the real daemon', kernelTestOptions(), () => {
  let dir: string;
  let daemon: Daemon;
  let fwd: Awaited<ReturnType<typeof forwarder>>;
  let origin: string;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  let evil: HttpServer;
  let readerToken = '';
  const cspViolations: string[] = [];

  const shot = async (name: string, p: Page = page) => {
    await p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };
  const screen = async (label: string) => {
    await page.getByRole('navigation', { name: 'Screens' }).getByRole('link', { name: label, exact: true }).click();
    await page.getByRole('heading', { level: 1, name: label, exact: true }).waitFor();
  };
  const interfaceCount = async () => (await daemon.call('GET', '/interfaces')).body.length as number;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    execFileSync('ip', ['netns', 'add', NS]);
    execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    // The "original interface" of the kill switch.
    execFileSync('ip', ['-n', NS, 'link', 'add', WAN, 'type', 'veth', 'peer', 'name', `${WAN}p`]);
    execFileSync('ip', ['-n', NS, 'link', 'set', WAN, 'up']);
    dir = mkdtempSync(join(tmpdir(), 'vpnsvc-ui-'));
    writeFileSync(join(dir, 'resolv.conf'), USER_RESOLV_CONF);
    daemon = spawnDaemon({ VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: join(dir, 'resolv.conf'), VPNSVC_LOG_LEVEL: 'info' }, dir, {
      prefix: ['ip', 'netns', 'exec', NS],
    });
    await waitReady(daemon);
    fwd = await forwarder(daemon.socket);
    origin = `http://127.0.0.1:${fwd.port}`;
    // A page on another origin of the same host: same-site, so Chromium does send the cookie to the daemon.
    evil = createHttpServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>elsewhere</title>'),
    );
    await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
    browser = await launchChromium();
    page = await browser.context.newPage();

    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy/i.test(m.text())) cspViolations.push(m.text());
    });
  });

  after(async () => {
    await browser?.close();
    await daemon?.stop();
    fwd?.server.close();
    evil?.close();
    execFileSync('ip', ['netns', 'delete', NS], { stdio: 'ignore' });
  });

  test('sign-in: a wrong token is refused with a clear message; the admin token signs in and is kept nowhere', async () => {
    await page.goto(`${origin}/`);
    assert.equal(new URL(page.url()).pathname, '/ui/', '/ leads to the console');
    const token = page.getByLabel('Token');
    assert.equal(await token.getAttribute('type'), 'password');
    await shot('login');
    await token.fill('not-the-token-at-all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const refused = page.getByRole('alert');
    await refused.waitFor();
    assert.match(await refused.innerText(), /Sign-in refused: the token is not known.*VPNSVC_ERROR_PERMISSION_DENIED/);
    await shot('login-refused');

    await token.fill(daemon.token());
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Status' }).waitFor();
    const cookie = (await browser.context.cookies(origin)).find((c) => c.name === 'vpnsvc_session');
    assert.ok(cookie, 'a session cookie');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    const kept = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie, location.href]));
    assert.ok(!kept.includes(daemon.token()), `the token is in no storage, script-visible cookie or URL: ${kept}`);
    assert.ok(!kept.includes('vpnsvc_session'), 'the cookie is HttpOnly');
  });

  test('create and apply from the console: the kernel has the address and MTU', async () => {
    await screen('Actions');
    await page.getByLabel('Interface name').fill(TUN);
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('heading', { name: `Settings of ${TUN}` }).waitFor();
    await page.getByLabel('MTU').fill('1400');
    await page.getByLabel('Local address (IPv4)').fill('10.77.0.1');
    await page.getByLabel('Remote address (IPv4)').fill('10.77.0.2');
    await page.getByRole('button', { name: 'Stage and apply' }).click();
    await page.getByRole('status').filter({ hasText: 'applied' }).waitFor();
    const [addr] = ipJson<Array<{ mtu: number; operstate: string; addr_info: Array<{ family: string; local: string; address?: string }> }>>(
      'addr',
      'show',
      'dev',
      TUN,
    );
    assert.equal(addr?.mtu, 1400);
    assert.deepEqual(
      addr?.addr_info.filter((a) => a.family === 'inet').map((a) => [a.local, a.address]),
      [['10.77.0.1', '10.77.0.2']],
    );
    await page.getByLabel('Session', { exact: true }).fill('office');
    await page.getByRole('button', { name: 'Set session' }).click();
    await page.getByRole('status').filter({ hasText: 'session named' }).waitFor();
    await shot('actions');
    // An IPv6 address set through the API shows on Status as the kernel has it.
    assert.equal((await daemon.call('PATCH', `/interfaces/${TUN}`, { localIp6: 'fd00:77::1/64' })).status, 200);
    assert.equal((await daemon.call('POST', `/interfaces/${TUN}/apply`)).status, 200);
    await screen('Status');
    await page.getByRole('definition').filter({ hasText: 'fd00:77::1/64' }).waitFor();
  });

  test('routes (one, and many pasted, all or nothing) and a DNS server reach the kernel and the resolver file', async () => {
    await screen('Routes');
    await page.getByLabel('Route (address/prefix)').fill('10.78.0.0/16');
    await page.getByRole('button', { name: 'Add route' }).click();
    await page.getByTestId('routes').locator('code', { hasText: '10.78.0.0/16' }).waitFor();
    const kernelRoutes = () => ipJson<Array<{ dst: string }>>('route', 'show', 'dev', TUN, 'proto', '86').map((r) => r.dst);
    assert.deepEqual(kernelRoutes(), ['10.78.0.0/16']);

    const bulk = page.getByLabel(/Routes, one address\/prefix per line/);
    const addAll = page.getByRole('button', { name: /Add all/ });
    await bulk.fill('10.79.0.0/24\nnot-a-route\n10.81.0.0/24');
    await addAll.click();
    const refused = page.getByRole('list', { name: 'Entries refused' });
    await refused.getByText('not-a-route').waitFor();
    // The kernel refuses the second entry (the interface has it already): none of the paste is added.
    await bulk.fill('10.79.0.0/24\n10.78.0.0/16');
    await addAll.click();
    await refused.getByText('10.78.0.0/16').waitFor();
    assert.match(await refused.innerText(), /routes\[1\]/);
    assert.deepEqual(kernelRoutes(), ['10.78.0.0/16'], 'all or nothing');
    await bulk.fill('10.79.0.0/24\n10.81.0.0/24');
    await addAll.click();
    await page.getByRole('status').filter({ hasText: 'added 2 routes' }).waitFor();
    assert.deepEqual(kernelRoutes().sort(), ['10.78.0.0/16', '10.79.0.0/24', '10.81.0.0/24']);
    await shot('routes');

    await screen('DNS');
    await page.getByLabel('DNS server', { exact: true }).fill('10.77.0.53');
    await page.getByRole('button', { name: 'Add server' }).click();
    await page.getByTestId('dns-servers').locator('code', { hasText: '10.77.0.53' }).waitFor();
    assert.match(readFileSync(join(dir, 'resolv.conf'), 'utf8'), /^nameserver 10\.77\.0\.53$/m);
    assert.match(await page.getByTestId('leak').innerText(), /Fallback|Exclusive/);
    await shot('dns');
  });

  test('packets into the TUN move the counters and the chart without a reload', async () => {
    await screen('Status');
    await page.evaluate(() => Object.assign(window, { stillTheSamePage: true }));
    const txPackets = async () => Number(/^(\d+) packets/.exec(await page.getByTestId('tx-packets').innerText())?.[1]);
    const before = await txPackets();
    // Routed into the TUN, where nobody reads them: each counts in the kernel's tx counters.
    // A bridge holds the packet stream: the kernel counts tx as the stream reads each packet
    // from the TUN, rx as it writes the client's into it.
    const bridge = new WebSocket(`ws+unix://${daemon.socket}:/interfaces/${TUN}/stream`, {
      headers: { authorization: `Bearer ${daemon.token()}` },
    });
    let toClient = 0;
    bridge.on('message', () => toClient++);
    await new Promise((resolve, reject) => bridge.once('open', resolve).once('error', reject));
    await page
      .getByTestId('interface-facts')
      .getByText(/attached \(token admin\)/)
      .waitFor();
    for (let i = 0; i < 30; i++) {
      bridge.send(ipv4Udp('10.77.0.2', '10.77.0.1', 4000, 9, Buffer.alloc(1000)));
      await sleep(100);
      // Nobody answers the ping: its exit status says so and does not matter.
      if (i % 2 === 0)
        spawnSync('ip', ['netns', 'exec', NS, 'ping', '-q', '-c', '1', '-W', '0.05', '-s', '1200', '10.78.0.9'], { stdio: 'ignore' });
    }
    const kernelTx = () =>
      ipJson<Array<{ stats64?: { tx?: { packets: number } } }>>('-s', 'link', 'show', 'dev', TUN)[0]?.stats64?.tx?.packets;
    await until('the counters to move', async () => ((await txPackets()) >= before + 15 ? true : undefined)).catch(async (err: Error) => {
      throw new Error(`${err.message}: console ${before} → ${await txPackets()}, kernel tx ${kernelTx()}, stream got ${toClient}`);
    });
    const caption = await until('rx and tx rates in the chart', async () => {
      const text = await page.getByTestId('throughput-now').innerText();
      const m = /rx ([\d.]+ [kMG]?b\/s) \((\d+) pkt\/s\), tx ([\d.]+ [kMG]?b\/s) \((\d+) pkt\/s\)/.exec(text);
      return m && Number(m[2]) > 0 && Number(m[4]) > 0 ? text : undefined;
    });
    assert.ok(Number(await page.getByTestId('throughput-chart').getAttribute('data-samples')) >= 2, caption);
    assert.match(await page.getByTestId('rx-packets').innerText(), /^[1-9]\d* packets/);
    assert.equal(await page.evaluate(() => (window as unknown as { stillTheSamePage?: boolean }).stillTheSamePage), true, 'no reload');
    await shot('status');
    bridge.close();
    await page.getByTestId('interface-facts').getByText('not attached').waitFor();
  });

  test('an event made with curl appears in the log, also one made while the console was cut off', async () => {
    await screen('Events');
    const curl = (name: string, requestId: string) =>
      execFileSync('curl', [
        '-sS',
        '--fail',
        '--unix-socket',
        daemon.socket,
        '-X',
        'PUT',
        '-H',
        `Authorization: Bearer ${daemon.token()}`,
        '-H',
        'Content-Type: application/json',
        '-H',
        `X-Request-Id: ${requestId}`,
        '--data',
        JSON.stringify({ name }),
        'http://localhost/session',
      ]);
    curl('from-curl', 'curl-ui-1');
    const events = page.getByTestId('events');
    const row = events.getByRole('row').filter({ hasText: 'curl-ui-1' });
    await row.waitFor();
    assert.match(await row.innerText(), /session\.changed[\s\S]*api, token admin[\s\S]*from-curl/);

    fwd.drop();
    await page.getByTestId('link-state').filter({ hasText: 'reconnecting' }).waitFor();
    curl('while-away', 'curl-ui-2');
    fwd.resume();
    await events.getByRole('row').filter({ hasText: 'curl-ui-2' }).waitFor({ timeout: 10_000 });
    await page.getByTestId('link-state').filter({ hasText: 'live' }).waitFor();
    assert.equal(await page.evaluate(() => (window as unknown as { stillTheSamePage?: boolean }).stillTheSamePage), true, 'no reload');
    await shot('events');
  });

  test('block: the banner shows on every screen and the nft table is in the kernel; unblock removes both', async () => {
    await screen('Kill switch');
    await page.getByLabel('Networks allowed through the original interface').fill('192.168.77.0/24');
    await page.getByLabel(/Original interface/).fill(WAN);
    await page.getByLabel(/Allow the LAN/).check();
    await page.getByRole('button', { name: 'Block', exact: true }).click();
    const banner = page.getByTestId('block-banner');
    await banner.waitFor();
    await page.getByTestId('firewall').getByText('allowed: its own prefixes').waitFor();
    assert.equal((await daemon.call('GET', '/firewall')).body.allowLan, true, 'allowLan read back from the ruleset');
    assert.match(await banner.innerText(), new RegExp(`Kill switch on.*${TUN}.*${WAN}`));
    const table = JSON.parse(inNs('nft', '-j', 'list', 'table', 'inet', 'vpnsvc')) as { nftables: Array<Record<string, unknown>> };
    assert.ok(
      table.nftables.some((o) => o.table),
      'the service table is in the kernel',
    );
    await shot('kill-switch');
    for (const label of ['Status', 'Actions', 'Routes', 'DNS', 'Config', 'Events', 'Host']) {
      await screen(label);
      assert.ok(await banner.isVisible(), `banner on ${label}`);
      await shot(`blocked-${label.toLowerCase()}`);
    }
    await page.setViewportSize({ width: 390, height: 844 });
    for (const label of ['Status', 'Routes', 'Kill switch']) {
      await screen(label);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${label} fits 390 px (overflow ${overflow} px)`);
      await shot(`phone-${label.toLowerCase().replace(' ', '-')}`);
    }
    await page.setViewportSize({ width: 1280, height: 800 });
    await screen('Kill switch');
    await page.getByRole('button', { name: 'Unblock' }).click();
    await banner.waitFor({ state: 'detached' });
    assert.throws(() => inNs('nft', '-j', 'list', 'table', 'inet', 'vpnsvc'), 'the table is gone');
  });

  test('the console is keyboard-usable: every control has a label, Tab reaches the navigation', async () => {
    await screen('Actions');
    const unlabelled = await page.evaluate(() =>
      [...document.querySelectorAll('input, textarea, select, button')]
        .filter((el) => {
          const e = el as HTMLInputElement;
          const text =
            (e.labels?.[0]?.innerText ?? '') + (e.getAttribute('aria-label') ?? '') + (el.tagName === 'BUTTON' ? e.innerText : '');
          return text.trim() === '';
        })
        .map((el) => el.outerHTML),
    );
    assert.deepEqual(unlabelled, []);
    // Tab walks the navigation in order, Enter follows a link.
    await page.getByRole('link', { name: 'Status', exact: true }).focus();
    const walked: string[] = [];
    for (let i = 0; i < 2; i++) {
      await page.keyboard.press('Tab');
      walked.push(await page.evaluate(() => document.activeElement?.textContent ?? ''));
    }
    assert.deepEqual(walked, ['Actions', 'Routes'], 'Tab walks the navigation');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Routes' }).waitFor();
  });

  test('a page on another origin cannot call the API, open /events or the packet stream with the cookie', async () => {
    const other = await browser.context.newPage();
    const evilOrigin = `http://127.0.0.1:${(evil.address() as { port: number }).port}`;
    await other.goto(`${evilOrigin}/`);
    const sent: string[] = [];
    other.on('request', (r) => {
      if (r.url().startsWith(origin)) sent.push(r.url());
    });
    const attachedSoFar = async () =>
      ((await daemon.call('GET', '/events?since=0')).body.events as Array<{ type: string }>).filter((e) => e.type === 'stream.attached')
        .length;
    const attachedBefore = await attachedSoFar();
    const logBefore = daemon.output().length;
    // A string, not a function: tsx names the functions it compiles with a helper the page lacks.
    const outcome = (await other.evaluate(`(${EVIL_PAGE})(${JSON.stringify(origin)})`)) as Record<string, string>;
    assert.match(outcome.post ?? '', /^refused/);
    assert.match(outcome.get ?? '', /^refused/);
    assert.equal(outcome.sse, 'refused');
    assert.equal(outcome.events, 'closed 1006', 'the WebSocket to /events never opened');
    assert.equal(outcome.stream, 'closed 1006', 'the packet stream never opened');
    await until('the requests', () => (sent.length >= 3 ? true : undefined));
    // The daemon's verdicts on what came through the forwarder (its own calls here come over the socket, Host localhost).
    await sleep(200);
    const lines = daemon
      .output()
      .slice(logBefore)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { reqId?: string; req?: { host?: string; url: string }; res?: { statusCode: number } });
    const fromPage = new Set(lines.filter((l) => l.req?.host === `127.0.0.1:${fwd.port}`).map((l) => l.reqId));
    const answered = lines.filter((l) => l.res && fromPage.has(l.reqId));
    const statuses = answered.map((l) => l.res?.statusCode);
    assert.ok(statuses.length >= 5, `the daemon answered each attempt: ${JSON.stringify(lines)}`);
    // 403, not 401: Chromium did send the cookie (the page is same-site), and the daemon refused its Origin.
    assert.deepEqual([...new Set(statuses)], [403], JSON.stringify(answered));
    assert.equal(await interfaceCount(), 1, 'no interface evil0');
    assert.equal(await attachedSoFar(), attachedBefore, 'no stream was attached');
    // The same cookie from the daemon's own origin still works: the refusals were about the origin.
    await other.close();
    // Chromium throttles a page it thinks hidden.
    await page.bringToFront();
    await screen('Host');
  });

  test('logout ends the session: the cookie no longer works, and its open WebSocket is closed', async () => {
    await page.evaluate(
      (url) =>
        new Promise<void>((resolve) => {
          const probe = { closed: false };
          Object.assign(window, { probe });
          const ws = new WebSocket(url);
          ws.onopen = () => resolve();
          ws.onclose = () => {
            probe.closed = true;
          };
        }),
      `${origin.replace('http', 'ws')}/events`,
    );
    const cookie = (await browser.context.cookies(origin)).find((c) => c.name === 'vpnsvc_session')!;
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Token').waitFor();
    await until('the open WebSocket to close', () =>
      page.evaluate(() => (window as unknown as { probe: { closed: boolean } }).probe.closed || undefined),
    );
    const header = `vpnsvc_session=${cookie.value}`;
    const rest = await fetch(`${origin}/interfaces`, { headers: { cookie: header } });
    assert.equal(rest.status, 401);
    assert.match(((await rest.json()) as { message: string }).message, /session has ended/);
    const upgrade = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${origin.replace('http', 'ws')}/events`, { headers: { cookie: header, origin } });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => reject(new Error('the WebSocket opened with an ended session')));
      ws.on('error', () => undefined);
    });
    assert.equal(upgrade, 401);
  });

  test('a read-only token sees every screen with its actions disabled; removing the token ends its session', async () => {
    readerToken = addToken(join(dir, 'state'), 'reader', []);
    await until('the daemon to know the new token', async () => {
      const res = await fetch(`${origin}/auth/me`, { headers: { authorization: `Bearer ${readerToken}` } });
      return res.status === 200 ? true : undefined;
    });
    await page.getByLabel('Token').fill(readerToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await screen('Actions');
    const create = page.getByRole('button', { name: 'Create', exact: true });
    assert.equal(await create.isDisabled(), true);
    assert.match(
      await page.locator('.why').first().innerText(),
      /token "reader" is read-only here: it lacks the vpnservice and internet privileges/,
    );
    await shot('actions-read-only');
    for (const [label, button] of [
      ['Routes', 'Add route'],
      ['DNS', 'Add server'],
      ['Kill switch', 'Block'],
    ] as const) {
      await screen(label);
      assert.equal(await page.getByRole('button', { name: button, exact: true }).isDisabled(), true, `${label}: ${button}`);
    }
    const direct = await page.evaluate(async () => {
      const res = await fetch('../interfaces', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"ro0"}' });
      return { status: res.status, body: (await res.json()) as { error: string } };
    });
    assert.equal(direct.status, 403);
    assert.equal(direct.body.error, 'VPNSVC_ERROR_PERMISSION_DENIED');

    removeToken(join(dir, 'state'), 'reader');
    await page.getByText('Your session has ended: sign in again.').waitFor({ timeout: 10_000 });
    await shot('session-ended');
  });

  test('deinit with confirmation removes the interface from the kernel and restores the resolver file', async () => {
    await page.getByLabel('Token').fill(daemon.token());
    await page.getByRole('button', { name: 'Sign in' }).click();
    await screen('Actions');
    await page.getByRole('button', { name: 'Deinit…' }).click();
    await page.getByRole('group', { name: 'Confirm removal' }).waitFor();
    await page.getByRole('button', { name: `Yes, remove ${TUN}` }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `removed ${TUN}` })
      .waitFor();
    assert.deepEqual(
      ipJson<unknown[]>('link', 'show').filter((l) => (l as { ifname: string }).ifname === TUN),
      [],
    );
    assert.equal(readFileSync(join(dir, 'resolv.conf'), 'utf8'), USER_RESOLV_CONF);
    await screen('Status');
    await page.getByText('No VPN interface is active').waitFor();
  });

  test('the whole VPN as one document: a dry run touches nothing, apply then confirm or watch it revert, save a profile', async () => {
    const CFG = 'vsui1';
    const linkOf = () => ipJson<Array<{ ifname: string; mtu: number }>>('link', 'show').find((l) => l.ifname === CFG);
    await screen('Config');
    const doc = page.getByLabel('Document (YAML or JSON)');
    await until('the document read back', async () => /interface: null/.test(await doc.inputValue()));
    await doc.fill(
      [
        'interface:',
        `  name: ${CFG}`,
        '  localIp: 10.88.0.1',
        '  remoteIp: 10.88.0.2',
        '  mtu: 1380',
        'routes:',
        '  - { address: 10.88.10.0, prefix: 24 }',
        'dns:',
        '  servers: [10.88.0.53]',
      ].join('\n'),
    );
    await page.getByRole('button', { name: 'Plan (dry run)' }).click();
    await page.getByRole('status').filter({ hasText: 'planned: nothing was changed' }).waitFor();
    assert.match(await page.getByTestId('plan').innerText(), /interface\.create[\s\S]*routes\.add[\s\S]*dns\.set/);
    assert.equal(linkOf(), undefined, 'the dry run created nothing');

    await page.getByLabel(/Revert unless confirmed within/).fill('60');
    await page.getByRole('button', { name: 'Apply', exact: true }).click();
    await page.getByTestId('pending-confirm').waitFor();
    assert.equal(linkOf()?.mtu, 1380);
    assert.deepEqual(
      ipJson<Array<{ dst: string }>>('route', 'show', 'dev', CFG, 'proto', '86').map((r) => r.dst),
      ['10.88.10.0/24'],
    );
    assert.match(readFileSync(join(dir, 'resolv.conf'), 'utf8'), /^nameserver 10\.88\.0\.53$/m);
    await shot('config-pending');
    await page.getByTestId('pending-confirm').getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('status').filter({ hasText: 'confirmed: the change stays' }).waitFor();
    assert.equal(await page.getByTestId('pending-confirm').count(), 0);
    assert.equal((await daemon.call('POST', '/config/confirm')).status >= 400, true, 'nothing is left to confirm');

    await page.getByLabel('Save the document above as profile').fill('office');
    await page.getByLabel(/Always on/).check();
    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.getByTestId('profiles').locator('code', { hasText: 'office' }).waitFor();
    assert.match(await page.getByTestId('profiles').innerText(), /office always-on/);
    const saved = (await daemon.call('GET', '/profiles/office')).body;
    assert.equal(saved.alwaysOn, true);
    assert.equal(saved.interface.name, CFG);

    // Removing the interface with a 1 s deadline and no confirmation: the daemon puts it back.
    await doc.fill('interface: null');
    await page.getByLabel(/Revert unless confirmed within/).fill('1');
    await page.getByRole('button', { name: 'Apply', exact: true }).click();
    await page.getByTestId('pending-confirm').waitFor();
    assert.equal(linkOf(), undefined, 'removed until the deadline');
    await page.getByTestId('pending-confirm').waitFor({ state: 'detached', timeout: 10_000 });
    await until('the interface back after the revert', () => linkOf());
    assert.equal(linkOf()?.mtu, 1380);
    await shot('config');

    await page.getByRole('button', { name: 'Remove office' }).click();
    await page.getByRole('status').filter({ hasText: 'removed profile office' }).waitFor();
    assert.deepEqual((await daemon.call('GET', '/profiles')).body, []);
    assert.equal((await daemon.call('PUT', '/config', { interface: null })).status, 200);
    assert.equal(linkOf(), undefined);
  });

  test('/docs renders under its CSP and "Try it out" is signed in with the console\'s cookie', async () => {
    await page.goto(`${origin}/docs`);
    const op = page.locator('#operations-auth-getAuth');
    await op.locator('.opblock-summary').click();
    await op.getByRole('button', { name: 'Try it out' }).click();
    await op.getByRole('button', { name: 'Execute' }).click();
    const status = op.locator('.live-responses-table tr.response td.response-col_status').first();
    await status.waitFor();
    assert.equal((await status.innerText()).trim(), '200');
    assert.match(await op.locator('.live-responses-table .microlight').first().innerText(), /"via": "cookie"/);
    await op.screenshot({ path: join(SHOTS, 'docs-try-it-out.png') });
  });

  test('nothing broke the CSP, and no token reached the daemon log', () => {
    assert.deepEqual(cspViolations, []);
    const log = daemon.output();
    assert.ok(!log.includes(daemon.token()), 'the admin token is not in the log');
    assert.ok(readerToken && !log.includes(readerToken), 'the reader token is not in the log');
    assert.match(log, /browser session ended/);
  });
});
