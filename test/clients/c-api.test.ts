/**
 * libcapi-vpnsvc (clients/c) as an application uses it: a C program linked with the library,
 * run as nobody (uid 65534) against the real daemon running as root, both in a namespace of
 * this test (the kill switch's test network: veth vc0 as the original interface). The program
 * (test/clients/c/api-driver.c) takes one command per line, so every step is read back from the
 * kernel before the next: the link, its addresses and MTU, routes, the resolver file, the nft
 * table; what only the application can see (its fd is a TUN, a packet read from it, the option
 * on a protected socket) the program reads in its own process. One more run under
 * AddressSanitizer and UBSan checks the library for leaks and invalid accesses.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/config/project-root.js';
import { addToken } from '../../src/tokens/token-store.js';
import { type Daemon, spawnDaemon, waitReady } from '../helpers/daemon.js';
import { createFirewallNet, type FirewallNet, run, VETH } from '../helpers/firewall-net.js';
import { kernelTestOptions } from '../helpers/kernel.js';

const execFileAsync = promisify(execFile);
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
const LIB_DIR = join(projectRoot(), 'clients/c');
const DRIVER_SRC = join(projectRoot(), 'test/clients/c/api-driver.c');
const E = {
  NONE: 0,
  INVALID_PARAMETER: -22,
  PERMISSION_DENIED: -13,
  NO_SUCH_FILE: -2,
  IO_ERROR: -5,
  TIMEOUT: -1073741823,
  IPC_FAILED: -30081022,
  NOT_SUPPORTED: -1073741822,
} as const;
const NAME = 'vsca0';
const TAKEN = 'vscb0';
const LOCAL = '10.77.0.1';
const PEER = '10.77.0.2';

interface Driver {
  child: ChildProcess;
  /** One command, its one JSON line. */
  send(line: string): Promise<any>;
  /** stdin closed; resolves with the exit code and stderr. */
  finish(): Promise<{ code: number | null; stderr: string }>;
}

const drivers = new Set<ChildProcess>();

function startDriver(prefix: string[], binary: string, env: Record<string, string>): Driver {
  const child = spawn(prefix[0]!, [...prefix.slice(1), binary], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  drivers.add(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  exited.then(() => drivers.delete(child));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return {
    child,
    send: async (line) => {
      child.stdin!.write(`${line}\n`);
      const next = await Promise.race([lines.next(), sleep(20_000).then(() => undefined)]);
      if (!next || next.done) throw new Error(`driver gave no answer to "${line}"; stderr:\n${stderr}`);
      return JSON.parse(next.value as string);
    },
    finish: async () => {
      child.stdin!.end('quit\n');
      const code = await Promise.race([exited, sleep(20_000).then(() => 'late' as const)]);
      if (code === 'late') {
        child.kill('SIGKILL');
        throw new Error(`driver did not exit; stderr:\n${stderr}`);
      }
      return { code, stderr };
    },
  };
}

async function must(argv: string[]): Promise<string> {
  const r = await run(argv);
  assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** One UDP datagram from the client namespace (the kernel routes it by its tables). */
async function sendUdp(net: FirewallNet, host: string, port: number, text: string): Promise<void> {
  const code = `const s=require('node:dgram').createSocket('udp4');s.send(${JSON.stringify(text)},${port},'${host}',()=>s.close())`;
  await must([...net.inClient, process.execPath, '-e', code]);
}

/** Waits (bounded) for one UDP datagram on host:port in the client namespace. */
function receiveUdp(net: FirewallNet, host: string, port: number): { ready: Promise<void>; message: Promise<string> } {
  const code = `const s=require('node:dgram').createSocket('udp4');s.on('message',(m)=>{console.log(m.toString());process.exit(0)});s.bind(${port},'${host}',()=>console.log('ready'));setTimeout(()=>process.exit(3),10000)`;
  const child = spawn(net.inClient[0]!, [...net.inClient.slice(1), process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const ready = lines.next().then(() => undefined);
  const message = ready.then(async () => {
    const next = await lines.next();
    return next.done ? '' : (next.value as string);
  });
  return { ready, message };
}

function ipJsonIn<T>(net: FirewallNet, ...args: string[]): Promise<T> {
  return must(['ip', '-n', net.client, '-j', ...args]).then((out) => (out.trim() ? JSON.parse(out) : []) as T);
}

describe('libcapi-vpnsvc: the 21 functions of vpn_service.h, unprivileged, against the root daemon', kernelTestOptions(), () => {
  let net: FirewallNet;
  let dir: string;
  let daemon: Daemon;
  let driverBin: string;
  let asanBin: string;
  let tokenFile: string;
  let driver: Driver;
  const resolvConf = () => join(dir, 'resolv.conf');
  const appEnv = (): Record<string, string> => ({ VPNSVC_URL: `unix:${daemon.socket}`, VPNSVC_TOKEN_FILE: tokenFile });

  before(async () => {
    net = await createFirewallNet('ca');
    dir = mkdtempSync(join(tmpdir(), 'vsca-'));
    writeFileSync(join(dir, 'resolv.conf'), 'nameserver 192.0.2.53\n');
    daemon = spawnDaemon({ VPNSVC_LOG_LEVEL: 'warn', VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: resolvConf() }, dir, {
      prefix: net.inClient,
      keepDir: true,
    });
    // the library and the program where nobody can read them, whatever the checkout's permissions
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    copyFileSync(join(LIB_DIR, 'build/libcapi-vpnsvc.so.1.1.0'), join(bin, 'libcapi-vpnsvc.so.1'));
    driverBin = join(bin, 'api-driver');
    asanBin = join(bin, 'api-driver-asan');
    const cflags = ['-std=gnu11', '-Wall', '-Wextra', '-Werror', `-I${join(LIB_DIR, 'include')}`];
    await execFileAsync('cc', [
      ...cflags,
      '-O1',
      '-o',
      driverBin,
      DRIVER_SRC,
      `-L${join(LIB_DIR, 'build')}`,
      '-lcapi-vpnsvc',
      `-Wl,-rpath,${bin}`,
    ]);
    const deps = (await execFileAsync('pkg-config', ['--cflags', '--libs', 'libcurl', 'json-c'])).stdout.trim().split(/\s+/);
    await execFileAsync('cc', [
      ...cflags,
      '-g',
      '-O1',
      '-fno-omit-frame-pointer',
      '-fsanitize=address,undefined',
      `-I${join(LIB_DIR, 'src')}`,
      '-o',
      asanBin,
      DRIVER_SRC,
      join(LIB_DIR, 'src/vpn_service.c'),
      join(LIB_DIR, 'src/daemon.c'),
      ...deps,
    ]);
    for (const p of [dir, bin]) chmodSync(p, 0o711);
    for (const p of [driverBin, asanBin, join(bin, 'libcapi-vpnsvc.so.1')]) chmodSync(p, 0o755);
    await waitReady(daemon);
    chmodSync(daemon.socket, 0o666);
    tokenFile = join(dir, 'app.token');
    writeFileSync(tokenFile, `${daemon.token()}\n`, { mode: 0o600 });
    chownSync(tokenFile, 65534, 65534);
    // someone else's (persistent) TUN holds the name
    await must([...net.inClient, 'ip', 'tuntap', 'add', 'dev', TAKEN, 'mode', 'tun']);
    driver = startDriver([...net.inClient, ...NOBODY], driverBin, appEnv());
  });

  after(async () => {
    for (const child of drivers) child.kill('SIGKILL');
    await daemon?.stop();
    await net?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('the library exports the 21 functions at CAPI_VPNSVC_1.0, its one extension at 1.1, and nothing else', async () => {
    const { stdout } = await execFileAsync('nm', ['-D', '--defined-only', join(LIB_DIR, 'build/libcapi-vpnsvc.so')]);
    const names = stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((c) => c[1] === 'T')
      .map((c) => c[2]);
    const seed = names.filter((n) => /^vpnsvc_[a-z_]+@@CAPI_VPNSVC_1\.0$/.test(n ?? ''));
    assert.equal(seed.length, 21, names.join(' '));
    assert.deepEqual(
      names.filter((n) => !seed.includes(n)),
      ['vpnsvc_set_local_ip6_address@@CAPI_VPNSVC_1.1'],
    );
  });

  test('a NULL handle is INVALID_PARAMETER for every function', async () => {
    const rcs = await driver.send('null');
    assert.equal(Object.keys(rcs).length, 22, 'the 21 and the extension');
    for (const [fn, rc] of Object.entries(rcs)) assert.equal(rc, E.INVALID_PARAMETER, fn);
  });

  test('vpnsvc_init: a NULL name is refused and the handle left untouched; the fd is a TUN in the caller; name and index match the kernel', async () => {
    assert.deepEqual(await driver.send('init 0 -'), { rc: E.INVALID_PARAMETER, untouched: true });
    assert.deepEqual(await driver.send(`init 0 ${NAME}`), { rc: E.NONE, untouched: false });
    const [link] = await ipJsonIn<{ ifname: string; ifindex: number }[]>(net, 'link', 'show', NAME);
    assert.ok(link, 'the TUN is in the kernel');
    assert.deepEqual(await driver.send('name 0'), { rc: E.NONE, value: NAME });
    assert.deepEqual(await driver.send('index 0'), { rc: E.NONE, value: link.ifindex });
    const fd = await driver.send('fd 0');
    assert.equal(fd.rc, E.NONE);
    assert.equal(fd.tun, NAME, 'TUNGETIFF on the fd, in the application, names the interface');
    assert.equal(fd.tunFlag, true);
    assert.equal(fd.noPi, true);
    assert.deepEqual(await driver.send('session 0'), { rc: E.NONE, value: 'VPN_Session' });
  });

  test('a second init succeeds, deactivates the first (its link is deleted) and a taken name yields another', async () => {
    const second = await driver.send(`init 1 ${TAKEN}`);
    assert.equal(second.rc, E.NONE);
    const name = (await driver.send('name 1')).value as string;
    assert.notEqual(name, TAKEN, 'the name was taken by another TUN');
    assert.match(name, /^vscb\d+$/);
    const links = await ipJsonIn<{ ifname: string }[]>(net, 'link', 'show');
    assert.ok(!links.some((l) => l.ifname === NAME), 'the first VPN is deactivated even though the app still holds its fd');
    assert.ok(links.some((l) => l.ifname === name));
    assert.notEqual((await driver.send('fd 0')).tun, NAME, 'the old fd is detached');
    assert.deepEqual(await driver.send('deinit 0'), { rc: E.NONE }, 'deinit of the replaced handle is not an error');
    assert.ok(
      (await ipJsonIn<{ ifname: string }[]>(net, 'link', 'show')).some((l) => l.ifname === name),
      'and leaves the new one alone',
    );
    assert.equal((await driver.send('fd 1')).tun, name);
  });

  test('setters store; update_settings: INVALID_PARAMETER unset, IO_ERROR for a multicast address, then address, peer, MTU 9000, up', async () => {
    const name = (await driver.send('name 1')).value as string;
    assert.deepEqual(await driver.send('update 1'), { rc: E.INVALID_PARAMETER });
    assert.deepEqual(await driver.send('mtu 1 9000'), { rc: E.NONE });
    assert.deepEqual(await driver.send('local 1 224.0.0.0'), { rc: E.NONE }, 'the setter accepts any IPv4 text, as Tizen');
    assert.deepEqual(await driver.send(`remote 1 ${PEER}`), { rc: E.NONE });
    assert.deepEqual(await driver.send('update 1'), { rc: E.IO_ERROR });
    assert.deepEqual(await driver.send(`local 1 ${LOCAL}`), { rc: E.NONE });
    assert.deepEqual(await driver.send('setsession 1 app-session'), { rc: E.NONE });
    assert.deepEqual(await driver.send('session 1'), { rc: E.NONE, value: 'app-session' });
    const [before] = await ipJsonIn<{ mtu: number; addr_info: unknown[] }[]>(net, 'addr', 'show', name);
    assert.equal(before?.addr_info.length, 0, 'nothing applied before update_settings');
    assert.deepEqual(await driver.send('update 1'), { rc: E.NONE });
    const [link] = await ipJsonIn<{ mtu: number; flags: string[]; addr_info: { family: string; local: string; address?: string }[] }[]>(
      net,
      'addr',
      'show',
      name,
    );
    assert.equal(link?.mtu, 9000);
    assert.ok(link?.flags.includes('UP'));
    const v4 = link?.addr_info.find((a) => a.family === 'inet');
    assert.equal(v4?.local, LOCAL);
    assert.equal(v4?.address, PEER);
    const iface = await daemon.call('GET', `/interfaces/${name}`);
    assert.equal(iface.body.session, 'app-session');
    assert.equal(
      link?.addr_info.some((a) => a.family === 'inet6' && a.local.startsWith('fd00')),
      false,
      'no IPv6 address unless the extension asks',
    );
  });

  test('the extension vpnsvc_set_local_ip6_address: refused text, then the address in the kernel at update_settings, then removed', async () => {
    const name = (await driver.send('name 1')).value as string;
    for (const bad of ['fd00:77::1', 'fd00:77::1/129', '10.77.0.9/24', 'fd00:77::1/6x', 'nonsense/64']) {
      assert.deepEqual(await driver.send(`local6 1 ${bad}`), { rc: E.INVALID_PARAMETER }, bad);
    }
    const global6 = async () => {
      const [l] = await ipJsonIn<{ addr_info: { family: string; local: string; prefixlen: number; scope: string }[] }[]>(
        net,
        'addr',
        'show',
        name,
      );
      return (l?.addr_info ?? []).filter((a) => a.family === 'inet6' && a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
    };
    assert.deepEqual(await driver.send('local6 1 FD00:77::2/64'), { rc: E.NONE });
    assert.deepEqual(await global6(), [], 'the setter only stores');
    assert.deepEqual(await driver.send('update 1'), { rc: E.NONE });
    assert.deepEqual(await global6(), ['fd00:77::2/64']);
    assert.equal((await daemon.call('GET', `/interfaces/${name}`)).body.localIp6, 'fd00:77::2/64');
    assert.deepEqual(await driver.send('local6 1 none'), { rc: E.NONE });
    assert.deepEqual(await driver.send('update 1'), { rc: E.NONE });
    assert.deepEqual(await global6(), []);
  });

  test("set_blocking toggles O_NONBLOCK on the caller's fd (the daemon sees the same open file)", async () => {
    const name = (await driver.send('name 1')).value as string;
    assert.deepEqual(await driver.send('blocking 1 0'), { rc: E.NONE, nonblock: true });
    assert.equal((await daemon.call('GET', `/interfaces/${name}`)).body.blocking, false);
    assert.deepEqual(await driver.send('blocking 1 1'), { rc: E.NONE, nonblock: false });
    assert.equal((await daemon.call('GET', `/interfaces/${name}`)).body.blocking, true);
  });

  test('vpnsvc_read: TIMEOUT after the timeout; NONE when a packet routed to the peer arrives, read from the fd', async () => {
    // what the kernel sent on its own since the link came up (IPv6 solicitations) goes first
    for (let i = 0; i < 20 && (await driver.send('read 1 0')).rc === E.NONE; i++);
    const t = await driver.send('read 1 300');
    assert.equal(t.rc, E.TIMEOUT);
    assert.ok(t.elapsedMs >= 250 && t.elapsedMs < 3000, `waited ${t.elapsedMs} ms`);
    let got: any;
    for (let i = 0; i < 5 && got?.dport !== 5555; i++) {
      const reading = driver.send('read 1 3000');
      await sleep(50);
      await sendUdp(net, PEER, 5555, 'to-the-peer');
      got = await reading;
      assert.equal(got.rc, E.NONE);
    }
    assert.equal(got.dst, PEER);
    assert.equal(got.payload, 'to-the-peer');
  });

  test('vpnsvc_write: a packet written to the fd reaches a local socket', async () => {
    const rx = receiveUdp(net, LOCAL, 5556);
    await rx.ready;
    const w = await driver.send(`writeudp 1 ${PEER} ${LOCAL} 5556 from-the-app`);
    assert.equal(w.rc, w.size, 'the bytes written');
    assert.equal(await rx.message, 'from-the-app');
  });

  test('vpnsvc_protect passes the socket itself: SO_BINDTODEVICE on a UDP and an AF_UNIX socket; errors', async () => {
    assert.deepEqual(await driver.send(`protect 1 udp ${VETH}`), { rc: E.NONE, bound: VETH });
    assert.deepEqual(await driver.send(`protect 1 unix ${VETH}`), { rc: E.NONE, bound: VETH });
    assert.deepEqual(await driver.send(`protect 1 file ${VETH}`), { rc: E.INVALID_PARAMETER, bound: '' }, 'not a socket');
    assert.deepEqual(await driver.send(`protect 1 closed ${VETH}`), { rc: E.INVALID_PARAMETER, bound: '' }, 'not an open fd');
    assert.deepEqual(await driver.send('protect 1 udp nosuch0'), { rc: E.INVALID_PARAMETER, bound: '' }, 'no such interface');
  });

  test('add_route / remove_route: the route in the kernel, then gone; removing it again is NO_SUCH_FILE', async () => {
    const name = (await driver.send('name 1')).value as string;
    assert.deepEqual(await driver.send('route 1 add 10.78.0.0 16'), { rc: E.NONE });
    const routes = await ipJsonIn<{ dst: string; dev: string }[]>(net, 'route', 'show', 'proto', '86');
    assert.ok(
      routes.some((r) => r.dst === '10.78.0.0/16' && r.dev === name),
      JSON.stringify(routes),
    );
    assert.deepEqual(await driver.send('route 1 del 10.78.0.0 16'), { rc: E.NONE });
    assert.deepEqual(await ipJsonIn(net, 'route', 'show', 'proto', '86'), []);
    assert.deepEqual(await driver.send('route 1 del 10.78.0.0 16'), { rc: E.NO_SUCH_FILE });
  });

  test('add_dns_server / remove_dns_server: the server in the resolver file, then the original back', async () => {
    const original = readFileSync(resolvConf(), 'utf8');
    assert.deepEqual(await driver.send('dns 1 add 10.77.0.53'), { rc: E.NONE });
    assert.match(readFileSync(resolvConf(), 'utf8'), /^nameserver 10\.77\.0\.53$/m);
    assert.deepEqual(await driver.send('dns 1 del 10.77.0.53'), { rc: E.NONE });
    assert.equal(readFileSync(resolvConf(), 'utf8'), original);
  });

  test('block_networks / unblock_networks: the nft table with the allowed networks, then none; unblock again is NONE', async () => {
    assert.deepEqual(await driver.send('block 1 10.77.0.0/24 198.51.100.0/24'), { rc: E.NONE });
    const table = await must([...net.inClient, 'nft', '-j', 'list', 'table', 'inet', 'vpnsvc']);
    assert.match(table, /10\.77\.0\.0/);
    assert.match(table, /198\.51\.100\.0/);
    assert.deepEqual(await driver.send('unblock 1'), { rc: E.NONE });
    const gone = await run([...net.inClient, 'nft', 'list', 'table', 'inet', 'vpnsvc']);
    assert.notEqual(gone.code, 0, 'the table is gone');
    assert.deepEqual(await driver.send('unblock 1'), { rc: E.NONE }, 'nothing blocked is fine');
  });

  test('bad arguments with a valid handle are INVALID_PARAMETER', async () => {
    const rcs = await driver.send('bad 1');
    for (const [what, rc] of Object.entries(rcs)) assert.equal(rc, E.INVALID_PARAMETER, what);
  });

  test('vpnsvc_deinit removes the link', async () => {
    const name = (await driver.send('name 1')).value as string;
    assert.deepEqual(await driver.send('deinit 1'), { rc: E.NONE });
    assert.ok(!(await ipJsonIn<{ ifname: string }[]>(net, 'link', 'show')).some((l) => l.ifname === name));
    const { code, stderr } = await driver.finish();
    assert.equal(code, 0, stderr);
  });

  test('IPC_FAILED when the daemon cannot be reached; PERMISSION_DENIED without a token or a privilege', async () => {
    const noDaemon = startDriver([...net.inClient, ...NOBODY], driverBin, { VPNSVC_URL: `unix:${join(dir, 'nothing.sock')}` });
    assert.deepEqual(await noDaemon.send(`init 0 ${NAME}`), { rc: E.IPC_FAILED, untouched: true });
    await noDaemon.finish();
    const noToken = startDriver([...net.inClient, ...NOBODY], driverBin, { VPNSVC_URL: `unix:${daemon.socket}` });
    assert.deepEqual(await noToken.send(`init 0 ${NAME}`), { rc: E.PERMISSION_DENIED, untouched: true });
    await noToken.finish();
    const readOnly = addToken(join(dir, 'state'), 'c-read-only', []);
    await sleep(1500); // the daemon reloads tokens.json within a second
    const weak = startDriver([...net.inClient, ...NOBODY], driverBin, { VPNSVC_URL: `unix:${daemon.socket}`, VPNSVC_TOKEN: readOnly });
    assert.deepEqual(await weak.send(`init 0 ${NAME}`), { rc: E.PERMISSION_DENIED, untouched: true });
    await weak.finish();
  });

  test('a ticket is bound to the process that asked for it: another process gets PERMISSION_DENIED on the channel', async () => {
    const res = await daemon.call('POST', '/tickets', { purpose: 'protect', interface: VETH });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(typeof res.body.pid, 'number');
    const script = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.connect(sys.argv[1])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
socket.send_fds(s, [sys.argv[2].encode()], [u.fileno()])
print(s.recv(1024).decode())`;
    const out = await must([...net.inClient, ...NOBODY, '/usr/bin/python3', '-c', script, res.body.channel, res.body.ticket]);
    const answer = JSON.parse(out);
    assert.equal(answer.error, 'VPNSVC_ERROR_PERMISSION_DENIED', out);
    assert.match(answer.message, /belongs to pid/);
  });

  test('NOT_SUPPORTED for every call when the daemon reports the feature missing (no CAP_NET_ADMIN)', async () => {
    const other = mkdtempSync(join(tmpdir(), 'vsca-ns-'));
    const weak = spawnDaemon({ VPNSVC_LOG_LEVEL: 'warn', VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: resolvConf() }, other, {
      prefix: [...net.inClient, 'setpriv', '--bounding-set', '-net_admin'],
    });
    try {
      await waitReady(weak);
      chmodSync(other, 0o711);
      chmodSync(weak.socket, 0o666);
      const token = join(other, 'app.token');
      writeFileSync(token, weak.token(), { mode: 0o644 });
      const app = startDriver([...net.inClient, ...NOBODY], driverBin, { VPNSVC_URL: `unix:${weak.socket}`, VPNSVC_TOKEN_FILE: token });
      assert.deepEqual(await app.send(`init 0 ${NAME}`), { rc: E.NOT_SUPPORTED, untouched: true });
      const rcs = await app.send('null');
      for (const [fn, rc] of Object.entries(rcs)) assert.equal(rc, E.NOT_SUPPORTED, fn);
      await app.finish();
    } finally {
      await weak.stop();
    }
  });

  test('the example (clients/c/examples/icmp_echo.c) answers ping through the tunnel, as nobody', async () => {
    await execFileAsync('make', ['-s', '-C', LIB_DIR, 'examples']);
    const echo = join(dir, 'bin', 'vpnsvc-echo');
    copyFileSync(join(LIB_DIR, 'build/vpnsvc-echo'), echo);
    chmodSync(echo, 0o755);
    const argv = [...net.inClient, ...NOBODY, echo, 'vsecho0', '10.66.0.1', '10.66.0.2', '4'];
    const app = spawn(argv[0]!, argv.slice(1), {
      env: { PATH: process.env.PATH ?? '', ...appEnv() },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    drivers.add(app);
    const lines = createInterface({ input: app.stdout! })[Symbol.asyncIterator]();
    const first = await Promise.race([lines.next(), sleep(10_000).then(() => undefined)]);
    assert.match(String(first?.value), /^ready vsecho0 .* \(uid 65534\)$/);
    const ping = await run([...net.inClient, 'ping', '-c', '2', '-i', '0.2', '-W', '2', '10.66.0.2']);
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);
    assert.match(ping.stdout, /2 received/);
    const code = await new Promise((resolve) => (app.exitCode === null ? app.on('exit', resolve) : resolve(app.exitCode)));
    assert.equal(code, 0);
  });

  test('under AddressSanitizer and UBSan a whole session has no leak and no invalid access', async () => {
    const app = startDriver([...net.inClient, ...NOBODY], asanBin, {
      ...appEnv(),
      ASAN_OPTIONS: 'detect_leaks=1:exitcode=23',
      UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1:exitcode=24',
    });
    const script = [
      'null',
      `init 0 ${NAME}`,
      'fd 0',
      'name 0',
      'session 0',
      'index 0',
      'mtu 0 1400',
      'setsession 0 asan',
      `local 0 ${LOCAL}`,
      `remote 0 ${PEER}`,
      'update 0',
      'blocking 0 0',
      'read 0 20',
      `writeudp 0 ${PEER} ${LOCAL} 5557 x`,
      `protect 0 unix ${VETH}`,
      'route 0 add 10.79.0.0 16',
      'route 0 del 10.79.0.0 16',
      'dns 0 add 10.77.0.54',
      'dns 0 del 10.77.0.54',
      'block 0 10.77.0.0/24 -',
      'unblock 0',
      'bad 0',
      `init 1 ${NAME}`,
      'deinit 0',
      'deinit 1',
    ];
    for (const line of script) {
      const out = await app.send(line);
      assert.ok(typeof out === 'object' && out !== null, line);
    }
    const { code, stderr } = await app.finish();
    assert.doesNotMatch(stderr, /AddressSanitizer|LeakSanitizer|runtime error/, stderr);
    assert.equal(code, 0, stderr);
  });
});
