/**
 * An always-on profile with lockdown against the real daemon (src/server.ts) in a network
 * namespace of its own (its block would cut off the tests beside it anywhere else): applied
 * before the API serves, applied again after SIGKILL (the block held meanwhile, the TUN gone
 * with the process), and when applying fails the block stays. Everything is read back with
 * `ip -n` and `nft` in that namespace.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { type Daemon, spawnDaemon, waitReady } from '../helpers/daemon.js';
import { kernelTestOptions } from '../helpers/kernel.js';

const NS = `vcfao-${process.pid}`;
const TUN = 'vcfao0';
const HELD = '10.192.99.0/24';
const PROFILE = {
  alwaysOn: true,
  lockdown: true,
  interface: { name: TUN, localIp: '10.192.0.1', remoteIp: '10.192.0.2' },
  routes: [{ address: '10.192.10.0', prefix: 24 }],
  dns: { servers: ['10.192.0.53'] },
  firewall: { allowVpn: [{ address: '10.192.0.0', prefix: 16 }], allowOriginal: [], originalInterface: 'lo', allowLan: false },
};

const inNs = (...args: string[]) =>
  execFileSync('ip', ['netns', 'exec', NS, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function blocked(): boolean {
  try {
    inNs('nft', 'list', 'table', 'inet', 'vpnsvc');
    return true;
  } catch {
    return false;
  }
}

function tun(): { up: boolean; routes: string[]; address: string | undefined } | undefined {
  const links = JSON.parse(inNs('ip', '-j', 'link')) as Array<{ ifname: string; flags: string[] }>;
  const l = links.find((x) => x.ifname === TUN);
  if (!l) return undefined;
  const routes = (JSON.parse(inNs('ip', '-j', 'route', 'show', 'dev', TUN, 'proto', '86')) as Array<{ dst: string }>).map((r) => r.dst);
  const addr = (
    JSON.parse(inNs('ip', '-j', 'addr', 'show', 'dev', TUN)) as Array<{ addr_info: Array<{ family: string; local: string }> }>
  )[0]?.addr_info.find((a) => a.family === 'inet');
  return { up: l.flags.includes('UP'), routes, address: addr?.local };
}

describe('always-on with lockdown, from the daemon start', kernelTestOptions(), () => {
  let dir: string;
  let daemon: Daemon | undefined;
  const profileFile = () => join(dir, 'state', 'profiles', 'office.yaml');

  const start = async () => {
    daemon = spawnDaemon({ VPNSVC_LOG_LEVEL: 'info', VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: join(dir, 'resolv.conf') }, dir, {
      prefix: ['ip', 'netns', 'exec', NS],
      keepDir: true,
    });
    await waitReady(daemon);
    return daemon;
  };

  before(() => {
    execFileSync('ip', ['netns', 'add', NS]);
    execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    // Another program's device holding a route, for the start that cannot apply the profile.
    execFileSync('ip', ['-n', NS, 'link', 'add', 'vcfaox', 'type', 'veth', 'peer', 'name', 'vcfaoy']);
    execFileSync('ip', ['-n', NS, 'link', 'set', 'vcfaox', 'up']);
    execFileSync('ip', ['-n', NS, 'link', 'set', 'vcfaoy', 'up']);
    execFileSync('ip', ['-n', NS, 'route', 'add', HELD, 'dev', 'vcfaox']);
    dir = mkdtempSync(join(tmpdir(), 'vpnsvc-always-on-'));
    writeFileSync(join(dir, 'resolv.conf'), 'nameserver 192.168.1.1\n');
    mkdirSync(join(dir, 'state', 'profiles'), { recursive: true, mode: 0o700 });
    writeFileSync(profileFile(), stringify(PROFILE), { mode: 0o600 });
  });
  after(async () => {
    if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGKILL');
    await daemon?.exited;
    execFileSync('ip', ['netns', 'delete', NS], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  });

  test('the profile is up when the API first answers, with its block', async () => {
    assert.equal(blocked(), false);
    const d = await start();
    assert.equal(blocked(), true, 'the lockdown block is in the kernel');
    assert.deepEqual(tun(), { up: true, routes: ['10.192.10.0/24'], address: '10.192.0.1' });
    assert.match(readFileSync(join(dir, 'resolv.conf'), 'utf8'), /nameserver 10\.192\.0\.53/);
    const config = await d.call('GET', '/config');
    assert.equal(config.status, 200);
    assert.equal(config.body.interface.name, TUN);
    assert.deepEqual(config.body.firewall, PROFILE.firewall);
    assert.match(d.output(), /always-on profile applied/);
    const types = ((await d.call('GET', '/events')).body.events as Array<{ type: string }>).map((e) => e.type);
    assert.ok(types.indexOf('firewall.blocked') < types.indexOf('interface.created'), `the block before the tunnel: ${types.join(', ')}`);
  });

  test('after SIGKILL the block holds; the restarted daemon applies the profile again', async () => {
    daemon!.child.kill('SIGKILL');
    await daemon!.exited;
    assert.equal(tun(), undefined, 'the TUN went with the process');
    assert.equal(blocked(), true, 'fail-closed: the block stayed');
    const d = await start();
    assert.deepEqual(tun(), { up: true, routes: ['10.192.10.0/24'], address: '10.192.0.1' });
    assert.equal(blocked(), true);
    const events = await d.call('GET', '/events');
    const types = ((events.body?.events ?? []) as Array<{ type: string; data: { ops?: string[] } }>).map((e) => e.type);
    assert.ok(types.includes('daemon.recovered'), `recovery ran: ${types.join(', ')}`);
    const planned = (events.body.events as Array<{ type: string; data: { ops?: string[] } }>).filter((e) => e.type === 'config.planned');
    // Reconciled with the kernel: the block it found is not set again.
    assert.deepEqual(
      planned.map((e) => e.data.ops),
      [[], ['interface.create', 'routes.add', 'dns.set']],
    );
  });

  test('when the profile cannot be applied, the daemon serves and the block stays', async () => {
    daemon!.child.kill('SIGKILL');
    await daemon!.exited;
    writeFileSync(profileFile(), stringify({ ...PROFILE, routes: [...PROFILE.routes, { address: '10.192.99.0', prefix: 24 }] }), {
      mode: 0o600,
    });
    const d = await start();
    assert.equal(tun(), undefined, 'rolled back: no TUN');
    assert.equal(blocked(), true, 'the lockdown block stays');
    const config = await d.call('GET', '/config');
    assert.equal(config.body.interface, null);
    assert.deepEqual(config.body.firewall, PROFILE.firewall);
    assert.match(d.output(), /always-on profile failed: the lockdown block stays in place/);
  });
});
