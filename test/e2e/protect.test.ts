/**
 * vpnsvc_protect with a real client process: a full-tunnel default route points into the
 * daemon's TUN, so an ordinary socket's traffic goes into the tunnel; after POST /protect the
 * client's socket reaches the remote namespace over the veth. Who may protect what is tested
 * with two uids (root and nobody, through setpriv) over the unix socket, and with tokens over
 * TCP (a second daemon in the same namespace).
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { nativeLibraryPath } from '../../src/system/native.js';
import { cli } from '../helpers/cli.js';
import { assertContract } from '../helpers/contract.js';
import { type Daemon, spawnDaemon, waitReady } from '../helpers/daemon.js';
import { ADDR, createFirewallNet, type FirewallNet, run, SCRIPTS, spawnDaemonIn, VETH } from '../helpers/firewall-net.js';
import { kernelTestOptions } from '../helpers/kernel.js';

const TUN = 'vsfwtun1';
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
/** The system's python, which any user can run (root's PATH may name a private one first). */
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
/** Where the second daemon listens, on the client namespace's own loopback. */
const TCP_LISTEN = '127.0.0.1:8761';
const execFileAsync = promisify(execFile);

/**
 * A minimal HTTP client (the system's python, so it runs as any user whatever the checkout's
 * permissions): one request to a unix socket path or host:port, the token from $TOKEN; prints
 * the status and the body.
 */
const HTTP_CLIENT = `
import os, socket, sys
where, method, path, body = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4].encode()
if where.startswith('/'):
    s = socket.socket(socket.AF_UNIX); s.connect(where)
else:
    host, port = where.rsplit(':', 1); s = socket.create_connection((host, int(port)))
head = f'{method} {path} HTTP/1.1\\r\\nHost: vpnsvc\\r\\nAuthorization: Bearer {os.environ["TOKEN"]}\\r\\nConnection: close\\r\\n'
if body: head += f'Content-Type: application/json\\r\\nContent-Length: {len(body)}\\r\\n'
s.sendall(head.encode() + b'\\r\\n' + body)
data = b''
while True:
    chunk = s.recv(65536)
    if not chunk: break
    data += chunk
status, _, rest = data.partition(b'\\r\\n\\r\\n')
print(status.split(b' ')[1].decode(), rest.decode())
`;

/** One request from a process of its own in `prefix` (a namespace, a uid): what the daemon sees as the caller. */
async function callAs(
  prefix: string[],
  where: string,
  token: string,
  method: string,
  path: string,
  body?: object,
): Promise<{ status: number; body: any }> {
  const argv = [...prefix, PYTHON, '-c', HTTP_CLIENT, where, method, path, body ? JSON.stringify(body) : ''];
  const { stdout } = await execFileAsync(argv[0]!, argv.slice(1), { env: { ...process.env, TOKEN: token }, timeout: 30_000 });
  const [status, ...rest] = stdout.trim().split(' ');
  const text = rest.join(' ');
  return { status: Number(status), body: text ? JSON.parse(text) : undefined };
}

/** The fd by which process `pid` holds its listening unix socket at `path` (from /proc). */
function listenerFd(pid: number, path: string): number {
  // columns: Num RefCount Protocol Flags Type St Inode Path; flags 00010000 = listening
  const inode = readFileSync(`/proc/${pid}/net/unix`, 'utf8')
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .find((c) => c[3] === '00010000' && c[7] === path)?.[6];
  assert.ok(inode, `no unix socket at ${path}`);
  const fd = readdirSync(`/proc/${pid}/fd`).find((n) => readlinkSync(`/proc/${pid}/fd/${n}`) === `socket:[${inode}]`);
  assert.ok(fd, `pid ${pid} holds no fd of socket ${inode}`);
  return Number(fd);
}

interface ClientApp {
  pid: number;
  fd: number;
  /** a regular file the app holds open */
  fileFd: number;
  /** lets the app talk; resolves to "reply …" or "fail …" */
  go(): Promise<string>;
}

const apps = new Set<ChildProcess>();

/**
 * A client app holding one unconnected socket: in the client namespace (or `prefix`'s), run
 * by root (or under `as`, e.g. NOBODY; the script goes by -c, readable whoever runs it).
 */
async function clientApp(
  net: FirewallNet,
  kind: 'udp' | 'tcp',
  addr: string,
  { prefix = net.inClient, as = [] }: { prefix?: string[]; as?: string[] } = {},
): Promise<ClientApp> {
  const script = readFileSync(join(SCRIPTS, 'socket-child.py'), 'utf8');
  const argv = [...prefix, ...as, PYTHON, '-c', script, kind, addr];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
  apps.add(child);
  child.on('exit', () => apps.delete(child));
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = (await lines.next()).value as string;
  const [pid, fd, fileFd] = first.split(' ').map(Number) as [number, number, number];
  return {
    pid,
    fd,
    fileFd,
    go: async () => {
      child.stdin!.end('go\n');
      const line = (await lines.next()).value as string;
      await new Promise((resolve) => (child.exitCode === null ? child.on('exit', resolve) : resolve(null)));
      return line;
    },
  };
}

describe('POST /protect (vpnsvc_protect)', kernelTestOptions(), () => {
  let net: FirewallNet;
  let dir: string;
  let daemon: Daemon;

  before(async () => {
    net = await createFirewallNet('pr');
    dir = mkdtempSync(join(tmpdir(), 'vsfw-daemon-'));
    daemon = spawnDaemonIn(net, dir);
    await waitReady(daemon);
    assert.equal((await daemon.call('POST', '/interfaces', { name: TUN })).status, 201);
    assert.equal((await daemon.call('PATCH', `/interfaces/${TUN}`, { localIp: '10.201.0.1', remoteIp: '10.201.0.2' })).status, 200);
    assert.equal((await daemon.call('POST', `/interfaces/${TUN}/apply`)).status, 200);
    // full tunnel: default routes into the TUN win over the original ones (metric 100)
    for (const fam of ['-4', '-6']) {
      const r = await run(['ip', '-n', net.client, fam, 'route', 'add', 'default', 'dev', TUN, 'metric', '10']);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  after(async () => {
    for (const child of apps) child.kill('SIGKILL');
    await daemon?.stop();
    await net?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const kind of ['udp', 'tcp'] as const) {
    for (const addr of [ADDR.blocked4, ADDR.blocked6]) {
      test(`a protected ${kind} socket reaches ${addr} over the veth; an unprotected one goes into the tunnel`, async () => {
        const plain = await clientApp(net, kind, addr);
        assert.match(await plain.go(), /^fail/, 'without protect the default route takes it into the TUN');

        const app = await clientApp(net, kind, addr);
        const res = await daemon.call('POST', '/protect', { pid: app.pid, fd: app.fd, interface: VETH });
        assertContract('protectSocket', res);
        assert.equal(res.status, 204, JSON.stringify(res.body));
        assert.match(await app.go(), kind === 'udp' ? /^reply ping/ : /^reply ok/);
      });
    }
  }

  test('errors: no such process 404; no such fd, not a socket, no such interface 400', async () => {
    const app = await clientApp(net, 'udp', ADDR.blocked4);
    const cases: Array<[string, object, number, string, RegExp]> = [
      ['no such process', { pid: 4194304, fd: 3, interface: VETH }, 404, 'VPNSVC_ERROR_NO_SUCH_FILE', /ESRCH/],
      ['no such fd', { pid: app.pid, fd: 999, interface: VETH }, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /EBADF/],
      [
        'not a socket (a regular file)',
        { pid: app.pid, fd: app.fileFd, interface: VETH },
        400,
        'VPNSVC_ERROR_INVALID_PARAMETER',
        /ENOTSOCK/,
      ],
      ['no such interface', { pid: app.pid, fd: app.fd, interface: 'nosuch0' }, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /ENODEV/],
      ['a bad interface name', { pid: app.pid, fd: app.fd, interface: 'vc0;reboot' }, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /interface/],
      ['pid 0', { pid: 0, fd: app.fd, interface: VETH }, 400, 'VPNSVC_ERROR_INVALID_PARAMETER', /pid/],
    ];
    for (const [what, body, status, error, message] of cases) {
      const res = await daemon.call('POST', '/protect', body);
      assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
      assertContract('protectSocket', res);
      assert.equal(res.body.error, error, what);
      assert.match(res.body.message, message, what);
    }
    await app.go();
  });

  test('a caller without ptrace rights over the process gets -EPERM from the shim (PERMISSION_DENIED, 403)', async () => {
    // the shim as an unprivileged user against a root-owned socket: the system's python and a
    // copy of the library in a world-readable place, whatever the checkout's permissions
    const app = await clientApp(net, 'udp', ADDR.blocked4);
    const libDir = mkdtempSync(join(tmpdir(), 'vsfw-lib-'));
    try {
      chmodSync(libDir, 0o755);
      const lib = join(libDir, 'libvpnsvc.so');
      copyFileSync(nativeLibraryPath(), lib);
      chmodSync(lib, 0o755);
      const code = `import ctypes; so = ctypes.CDLL(${JSON.stringify(lib)}); print(so.vs_protect_pidfd(so.vs_pidfd_open(${app.pid}), ${app.fd}, b"${VETH}"))`;
      const r = await run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', PYTHON, '-c', code]);
      assert.equal(r.stdout.trim(), '-1', `EPERM expected: ${r.stdout}${r.stderr}`);
    } finally {
      rmSync(libDir, { recursive: true, force: true });
      await app.go();
    }
  });

  describe('who may protect what', () => {
    let tcp: Daemon;
    let tcpDir: string;
    const other = 'lo';

    before(async () => {
      // nobody reaches the unix socket: the path is traversable, the socket writable (test only)
      chmodSync(dir, 0o711);
      chmodSync(daemon.socket, 0o666);
      tcpDir = mkdtempSync(join(tmpdir(), 'vsfw-tcp-daemon-'));
      tcp = spawnDaemon({ VPNSVC_LOG_LEVEL: 'warn', VPNSVC_LISTEN: TCP_LISTEN }, tcpDir, { prefix: net.inClient });
      for (let i = 0; ; i++) {
        const health = await callAs(net.inClient, TCP_LISTEN, '', 'GET', '/health').catch(() => undefined);
        if (health?.status === 200) break;
        if (i > 150 || tcp.child.exitCode !== null) throw new Error(`the TCP daemon did not start:\n${tcp.output()}`);
        await sleep(100);
      }
    });

    after(async () => {
      await tcp?.stop();
    });

    test("over the unix socket nobody cannot protect root's socket (403), and it stays in the tunnel", async () => {
      const app = await clientApp(net, 'udp', ADDR.blocked4);
      const res = await callAs([...net.inClient, ...NOBODY], daemon.socket, daemon.token(), 'POST', '/protect', {
        pid: app.pid,
        fd: app.fd,
        interface: VETH,
      });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assertContract('protectSocket', res);
      assert.equal(res.body.error, 'VPNSVC_ERROR_PERMISSION_DENIED');
      assert.match(res.body.message, new RegExp(`uid 65534 may not protect the sockets of pid ${app.pid}`));
      assert.match(await app.go(), /^fail/, 'not protected');
    });

    test('over the unix socket nobody protects its own socket with the admin token (no protect privilege needed)', async () => {
      const app = await clientApp(net, 'udp', ADDR.blocked4, { as: NOBODY });
      const res = await callAs([...net.inClient, ...NOBODY], daemon.socket, daemon.token(), 'POST', '/protect', {
        pid: app.pid,
        fd: app.fd,
        interface: VETH,
      });
      assert.equal(res.status, 204, JSON.stringify(res.body));
      assert.match(await app.go(), /^reply ping/);
    });

    test('a process in another network namespace is refused, even for root', async () => {
      const app = await clientApp(net, 'udp', ADDR.blocked4, { prefix: net.inRemote });
      // `lo` exists there too: without the check the kernel would take it
      const res = await daemon.call('POST', '/protect', { pid: app.pid, fd: app.fd, interface: other });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assertContract('protectSocket', res);
      assert.match(res.body.message, /in another network namespace \(net:\[\d+\]\) than the daemon/);
      await app.go();
    });

    test("the daemon's own pid is refused: its listening socket stays as it was and the API answers", async () => {
      const pid = daemon.child.pid!;
      const fd = listenerFd(pid, daemon.socket);
      const res = await daemon.call('POST', '/protect', { pid, fd, interface: VETH });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assertContract('protectSocket', res);
      assert.match(res.body.message, /the vpnsvc daemon itself/);
      assert.equal((await daemon.call('GET', '/health')).status, 200);
    });

    test('over TCP the admin token gets 403: protect needs a privilege of its own there', async () => {
      const app = await clientApp(net, 'udp', ADDR.blocked4);
      const res = await callAs(net.inClient, TCP_LISTEN, tcp.token(), 'POST', '/protect', { pid: app.pid, fd: app.fd, interface: VETH });
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assertContract('protectSocket', res);
      assert.match(res.body.message, /token "admin" lacks the privilege protect/);
      assert.match(await app.go(), /^fail/, 'not protected');
    });

    test('over TCP a token made with `vpnsvc token add … --privileges vpnservice,internet,protect` protects', async () => {
      const added = await cli(['token', 'add', 'protector', '--privileges', 'vpnservice,internet,protect', '--json'], {
        VPNSVC_STATE_DIR: join(tcpDir, 'state'),
      });
      assert.equal(added.code, 0, added.err);
      const { token, privileges } = JSON.parse(added.out) as { token: string; privileges: string[] };
      assert.deepEqual(privileges, ['vpnservice', 'internet', 'protect']);
      const app = await clientApp(net, 'udp', ADDR.blocked4);
      const body = { pid: app.pid, fd: app.fd, interface: VETH };
      let res = await callAs(net.inClient, TCP_LISTEN, token, 'POST', '/protect', body);
      // the daemon loads a new token within a second
      for (let i = 0; res.status === 401 && i < 50; i++) {
        await sleep(100);
        res = await callAs(net.inClient, TCP_LISTEN, token, 'POST', '/protect', body);
      }
      assert.equal(res.status, 204, JSON.stringify(res.body));
      assert.match(await app.go(), /^reply ping/);
    });
  });
});
