#!/usr/bin/env node
/**
 * npm run demo:c: an unprivileged C application builds its own VPN. The daemon runs as root in a
 * network namespace made for the demo; clients/c/examples/icmp_echo.c, linked with
 * libcapi-vpnsvc and run as nobody, brings up a TUN through it, receives the TUN fd over the fd
 * channel and answers the pings that the kernel routes into the tunnel. Everything is torn down
 * at the end, also on failure and on Ctrl-C. Needs root; touches no host interface.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';

const root = new URL('..', import.meta.url).pathname;
if (process.getuid?.() !== 0) {
  console.error('npm run demo:c needs root (it creates a network namespace; the daemon creates the TUN)');
  process.exit(1);
}
const ns = `vpnsvc-democ-${process.pid}`;
const IFACE = 'vsecho0';
const LOCAL = '10.66.0.1';
const PEER = '10.66.0.2';
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];
const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-democ-'));
const children = [];
let nsMade = false;
const say = (s) => console.log(`\n== ${s}`);

function start(argv, env) {
  const child = spawn(argv[0], argv.slice(1), { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  children.push(child);
  return { child, log: () => log };
}

function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (nsMade) execFileSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
  nsMade = false;
  rmSync(dir, { recursive: true, force: true });
}
process.on('SIGINT', () => {
  cleanup();
  process.exit(130);
});

try {
  say(`building clients/c and the example`);
  execFileSync('make', ['-s', '-C', join(root, 'clients/c'), 'all', 'examples'], { stdio: 'inherit' });
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  copyFileSync(join(root, 'clients/c/build/libcapi-vpnsvc.so.1'), join(bin, 'libcapi-vpnsvc.so.1'));
  copyFileSync(join(root, 'clients/c/build/vpnsvc-echo'), join(bin, 'vpnsvc-echo'));
  for (const p of [dir, bin]) chmodSync(p, 0o711);
  chmodSync(join(bin, 'vpnsvc-echo'), 0o755);
  chmodSync(join(bin, 'libcapi-vpnsvc.so.1'), 0o755);

  say(`namespace ${ns}, the daemon in it as root`);
  execFileSync('ip', ['netns', 'add', ns]);
  nsMade = true;
  execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  const socket = join(dir, 'vpnsvc.sock');
  writeFileSync(join(dir, 'resolv.conf'), 'nameserver 192.0.2.53\n');
  const daemon = start(['ip', 'netns', 'exec', ns, process.execPath, '--import', 'tsx', join(root, 'src/server.ts')], {
    ...process.env,
    VPNSVC_LISTEN: `unix:${socket}`,
    VPNSVC_STATE_DIR: join(dir, 'state'),
    VPNSVC_DNS_BACKEND: 'file',
    VPNSVC_RESOLV_CONF: join(dir, 'resolv.conf'),
    VPNSVC_LOG_LEVEL: 'warn',
  });
  for (let i = 0; !existsSync(join(dir, 'state/admin.token')) || !existsSync(socket) || !existsSync(join(dir, 'vpnsvc-fd.sock')); i++) {
    if (i >= 150 || daemon.child.exitCode !== null) throw new Error(`the daemon did not start:\n${daemon.log()}`);
    await sleep(100);
  }
  // the operator's part: nobody may reach the API socket, and gets a token of its own
  chmodSync(socket, 0o666);
  const token = join(dir, 'app.token');
  writeFileSync(token, readFileSync(join(dir, 'state/admin.token')), { mode: 0o600 });
  chownSync(token, 65534, 65534);

  say(`vpnsvc-echo as nobody: ${IFACE} ${LOCAL} peer ${PEER}, answering echo requests from the TUN`);
  const app = start(['ip', 'netns', 'exec', ns, ...NOBODY, join(bin, 'vpnsvc-echo'), IFACE, LOCAL, PEER, '6'], {
    PATH: process.env.PATH,
    VPNSVC_URL: `unix:${socket}`,
    VPNSVC_TOKEN_FILE: token,
  });
  const lines = createInterface({ input: app.child.stdout })[Symbol.asyncIterator]();
  const first = await Promise.race([lines.next(), sleep(10_000).then(() => ({ value: undefined }))]);
  if (!first.value?.startsWith('ready')) throw new Error(`vpnsvc-echo did not come up:\n${app.log()}`);
  console.log(first.value);

  say(`ping ${PEER} through the tunnel (the application is the other end)`);
  console.log(execFileSync('ip', ['netns', 'exec', ns, 'ping', '-c', '3', '-i', '0.2', '-W', '2', PEER], { encoding: 'utf8' }).trim());
  const exited = new Promise((resolve) => app.child.on('exit', resolve));
  await Promise.race([exited, sleep(15_000)]);
  console.log(app.log().trim().split('\n').slice(-1)[0]);
  say('done: tearing down the namespace');
} catch (err) {
  console.error(`demo failed: ${err.message}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
