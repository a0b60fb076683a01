/**
 * The kill switch's test network: a "client" namespace where the daemon runs (veth `vc0` as the
 * original interface, the daemon's TUN as the VPN interface) and a "remote" namespace behind
 * the veth holding addresses inside and outside the allow lists. Both are made for one test
 * file with unique names and removed by destroy(), also when setup fails.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/config/project-root.js';
import { type Daemon, spawnDaemon } from './daemon.js';

const execFileAsync = promisify(execFile);
export const SCRIPTS = join(projectRoot(), 'test/helpers/fw');

export const ADDR = {
  allowed4: '198.51.100.1',
  blocked4: '203.0.113.1',
  allowed6: '2001:db8:a::1',
  blocked6: '2001:db8:b::1',
  peer4: '10.99.0.2',
  peer6: 'fd99::2',
  vpnAllowed4: '172.16.0.5',
  vpnBlocked4: '172.17.0.5',
  vpnAllowed6: 'fd00:200::5',
  vpnBlocked6: 'fd00:201::5',
} as const;

export const ALLOW_ORIGINAL = [
  { address: '198.51.100.0', prefix: 24 },
  { address: '2001:db8:a::', prefix: 48 },
];
export const ALLOW_VPN = [
  { address: '172.16.0.0', prefix: 16 },
  { address: 'fd00:200::', prefix: 64 },
];

export const VETH = 'vc0';

export async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await execFileAsync(argv[0]!, argv.slice(1), { timeout: 30_000, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

async function must(argv: string[]): Promise<string> {
  const r = await run(argv);
  if (r.code !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

export interface FirewallNet {
  client: string;
  remote: string;
  /** argv prefix that runs a command in the client namespace */
  inClient: string[];
  inRemote: string[];
  /** the remote's TCP/UDP echo server */
  server: ChildProcess;
  destroy(): Promise<void>;
}

export async function createFirewallNet(tag: string): Promise<FirewallNet> {
  const id = `${tag}-${process.pid}`;
  const client = `vsfw-c-${id}`;
  const remote = `vsfw-r-${id}`;
  const c = ['ip', '-n', client];
  const r = ['ip', '-n', remote];
  let server: ChildProcess | undefined;
  const net: FirewallNet = {
    client,
    remote,
    inClient: ['ip', 'netns', 'exec', client],
    inRemote: ['ip', 'netns', 'exec', remote],
    get server(): ChildProcess {
      if (!server) throw new Error('no server');
      return server;
    },
    async destroy() {
      server?.kill('SIGKILL');
      await run(['ip', 'netns', 'del', client]);
      await run(['ip', 'netns', 'del', remote]);
    },
  };
  try {
    for (const ns of [client, remote]) {
      await must(['ip', 'netns', 'add', ns]);
      // no duplicate address detection: IPv6 addresses are usable at once
      for (const k of ['net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']) {
        await must(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', k]);
      }
      await must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    await must([...c, 'link', 'add', VETH, 'type', 'veth', 'peer', 'name', 'vr0', 'netns', remote]);
    await must([...c, 'addr', 'add', '10.99.0.1/24', 'dev', VETH]);
    await must([...c, '-6', 'addr', 'add', 'fd99::1/64', 'dev', VETH, 'nodad']);
    await must([...r, 'addr', 'add', `${ADDR.peer4}/24`, 'dev', 'vr0']);
    await must([...r, '-6', 'addr', 'add', `${ADDR.peer6}/64`, 'dev', 'vr0', 'nodad']);
    for (const a of [ADDR.allowed4, ADDR.blocked4]) await must([...r, 'addr', 'add', `${a}/32`, 'dev', 'lo']);
    for (const a of [ADDR.allowed6, ADDR.blocked6]) await must([...r, '-6', 'addr', 'add', `${a}/128`, 'dev', 'lo']);
    await must([...c, 'link', 'set', VETH, 'up']);
    await must([...r, 'link', 'set', 'vr0', 'up']);
    // the original default routes, where the kill switch finds its original interface
    await must([...c, 'route', 'add', 'default', 'via', ADDR.peer4, 'dev', VETH, 'metric', '100']);
    await must([...c, '-6', 'route', 'add', 'default', 'via', ADDR.peer6, 'dev', VETH, 'metric', '100']);

    const addrs = [ADDR.allowed4, ADDR.blocked4, ADDR.allowed6, ADDR.blocked6, ADDR.peer4, ADDR.peer6];
    server = spawn(net.inRemote[0]!, [...net.inRemote.slice(1), process.execPath, join(SCRIPTS, 'remote-server.mjs'), ...addrs], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await firstLine(server);
    // settle: neighbour resolution done before probes with short timeouts
    for (let i = 0; ; i++) {
      const ok =
        (await run([...net.inClient, 'ping', '-c1', '-W1', ADDR.peer4])).code === 0 &&
        (await run([...net.inClient, 'ping', '-c1', '-W1', ADDR.peer6])).code === 0;
      if (ok) break;
      if (i >= 30) throw new Error('the test network did not settle');
      await sleep(100);
    }
    return net;
  } catch (err) {
    await net.destroy();
    throw err;
  }
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => resolve(l));
    child.once('exit', (code) => reject(new Error(`exited with ${code} before its first line`)));
  });
}

/**
 * The real daemon (src/server.ts) inside the client namespace, on a unix socket (a path, so
 * reachable from the test's namespace). `ip netns exec` execs node in place: the child's pid is
 * the daemon's. Start it again on the same `dir` to restart it with the same state and token.
 */
export function spawnDaemonIn(net: FirewallNet, dir = mkdtempSync(join(tmpdir(), 'vsfw-daemon-'))): Daemon {
  return spawnDaemon({ VPNSVC_LOG_LEVEL: 'warn' }, dir, { prefix: net.inClient, keepDir: true });
}

/** Runs probes from the client namespace: "tcp:addr", "udp:addr", "icmp:addr" -> reached or not. */
export async function probe(net: FirewallNet, specs: string[]): Promise<Record<string, boolean>> {
  const out = await must([...net.inClient, process.execPath, join(SCRIPTS, 'probe.mjs'), ...specs]);
  return JSON.parse(out) as Record<string, boolean>;
}

export const PROTOCOLS = ['tcp', 'udp', 'icmp'] as const;
export const specsFor = (...addrs: string[]): string[] => PROTOCOLS.flatMap((p) => addrs.map((a) => `${p}:${a}`));

/**
 * Sends UDP (and TCP SYNs) to `addrs` from the client namespace while reading the daemon's TUN
 * fd; returns the destinations that reached the fd.
 */
export async function tunDestinations(net: FirewallNet, daemonPid: number, tunFd: number, addrs: string[]): Promise<Set<string>> {
  const reader = spawn(
    net.inClient[0]!,
    [...net.inClient.slice(1), 'python3', join(SCRIPTS, 'tun-reader.py'), String(daemonPid), String(tunFd), '5'],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  const lines: string[] = [];
  const rl = createInterface({ input: reader.stdout! });
  rl.on('line', (l) => lines.push(l));
  const exited = new Promise((resolve) => reader.on('exit', resolve));
  const deadline = Date.now() + 5000;
  while (lines.length === 0 && Date.now() < deadline) await sleep(20);
  if (lines[0] !== 'ready') throw new Error(`TUN reader: ${lines[0] ?? 'no answer'}`);
  await probe(
    net,
    addrs.flatMap((a) => [`udp:${a}`, `tcp:${a}`]),
  );
  await sleep(100);
  reader.stdin!.end();
  await exited;
  return new Set(lines.slice(1).map((l) => l.split(' ')[0]!));
}

/** The tables in the client namespace, as nft lists them. */
export async function tables(net: FirewallNet): Promise<Array<{ family: string; name: string }>> {
  const out = await must([...net.inClient, 'nft', '-j', 'list', 'tables']);
  return (JSON.parse(out).nftables as Array<{ table?: { family: string; name: string } }>).flatMap((o) => (o.table ? [o.table] : []));
}

export async function ruleset(net: FirewallNet): Promise<string> {
  return must([...net.inClient, 'nft', '-j', 'list', 'ruleset']);
}
