/**
 * vpnsvc_protect with a real client process: a full-tunnel default route points into the
 * daemon's TUN, so an ordinary socket's traffic goes into the tunnel; after POST /protect the
 * client's socket reaches the remote namespace over the veth.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { nativeLibraryPath } from '../../src/system/native.js';
import { assertContract } from '../helpers/contract.js';
import { type Daemon, waitReady } from '../helpers/daemon.js';
import { ADDR, createFirewallNet, type FirewallNet, run, SCRIPTS, spawnDaemonIn, VETH } from '../helpers/firewall-net.js';
import { kernelTestOptions } from '../helpers/kernel.js';

const TUN = 'vsfwtun1';

interface ClientApp {
  pid: number;
  fd: number;
  /** a regular file the app holds open */
  fileFd: number;
  /** lets the app talk; resolves to "reply …" or "fail …" */
  go(): Promise<string>;
}

const apps = new Set<ChildProcess>();

/** A client app in the client namespace holding one unconnected socket. */
async function clientApp(net: FirewallNet, kind: 'udp' | 'tcp', addr: string): Promise<ClientApp> {
  const child = spawn(net.inClient[0]!, [...net.inClient.slice(1), 'python3', join(SCRIPTS, 'socket-child.py'), kind, addr], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
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
      const code = `import ctypes; print(ctypes.CDLL(${JSON.stringify(lib)}).vs_protect(${app.pid}, ${app.fd}, b"${VETH}"))`;
      const r = await run([
        'setpriv',
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3',
        '-c',
        code,
      ]);
      assert.equal(r.stdout.trim(), '-1', `EPERM expected: ${r.stdout}${r.stderr}`);
    } finally {
      rmSync(libDir, { recursive: true, force: true });
      await app.go();
    }
  });
});
