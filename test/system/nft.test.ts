/**
 * NftFirewall against the real nft, in a network namespace of its own (test/helpers/private-nft.ts),
 * so no block ever lands in the namespace other tests share; a missing or failing nft; and the
 * default routes the kill switch takes the original interface from.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { projectRoot } from '../../src/config/project-root.js';
import { VpnsvcError } from '../../src/errors/errors.js';
import { type DefaultRoute, NFT_PACKAGE, NftFirewall, originalInterfaceFromRoutes } from '../../src/system/nft.js';
import { parseTable } from '../../src/system/nft-ruleset.js';
import { kernelTestOptions } from '../helpers/kernel.js';
import { type PrivateNft, privateNft } from '../helpers/private-nft.js';

function isError(kind: VpnsvcError['kind'], message: RegExp): (err: unknown) => boolean {
  return (err) => err instanceof VpnsvcError && err.kind === kind && message.test(err.message);
}

test('the original interface: the best default route that is not the VPN, IPv4 first', () => {
  const routes = [
    { family: 6 as const, dev: 'wlan0', metric: 1 },
    { family: 4 as const, dev: 'tun0', metric: 0 },
    { family: 4 as const, dev: 'eth1', metric: 600 },
    { family: 4 as const, dev: 'eth0', metric: 100 },
  ];
  assert.equal(originalInterfaceFromRoutes('tun0', routes), 'eth0');
  assert.equal(
    originalInterfaceFromRoutes(
      'tun0',
      routes.filter((r) => r.family === 6),
    ),
    'wlan0',
  );
  assert.equal(originalInterfaceFromRoutes('tun0', [{ family: 4, dev: 'tun0', metric: 0 }]), undefined);
});

test('without nft every call is NOT_SUPPORTED, naming the Debian package', async () => {
  const nft = new NftFirewall('/nonexistent/nft');
  const missing = isError('VPNSVC_ERROR_NOT_SUPPORTED', new RegExp(`install the Debian package "${NFT_PACKAGE}"`));
  assert.equal(NFT_PACKAGE, 'nftables');
  await assert.rejects(nft.requireNft(), missing);
  await assert.rejects(nft.read(), missing);
  await assert.rejects(nft.unblock(), missing);
  await assert.rejects(nft.block({ vpnInterface: 'vst0', originalInterface: 'vst1', allowVpn: [], allowOriginal: [] }), missing);
});

test('an nft that runs and fails is an I/O error that says which call', async () => {
  const nft = new NftFirewall('/bin/false');
  await assert.rejects(nft.requireNft(), isError('VPNSVC_ERROR_IO_ERROR', /^nft --version failed/));
  await assert.rejects(nft.read(), isError('VPNSVC_ERROR_IO_ERROR', /^nft list tables/));
  await assert.rejects(nft.unblock(), isError('VPNSVC_ERROR_IO_ERROR', /^nft refused to lift the block: exit 1/));
});

describe('nft in a private namespace', kernelTestOptions(), () => {
  let nft: PrivateNft;
  before(() => {
    nft = privateNft('nft');
  });
  after(() => nft.destroy());

  test('found once: nft --version runs for the first requireNft only', async () => {
    const firewall = new NftFirewall(nft.program);
    await firewall.requireNft();
    await firewall.requireNft();
    assert.deepEqual(
      nft.calls().filter((c) => c === '--version'),
      ['--version'],
    );
  });

  test('read() of a namespace without the table: not blocked, from one listing of the tables', async () => {
    const firewall = new NftFirewall(nft.program);
    const before = nft.calls().length;
    assert.deepEqual(await firewall.read(), parseTable(null));
    assert.deepEqual(nft.calls().slice(before), ['-j list tables inet']);
    assert.deepEqual(nft.tables(), []);
  });

  test('block, read back from the kernel, unblock; a second unblock has nothing to do', async () => {
    const firewall = new NftFirewall(nft.program);
    const spec = {
      vpnInterface: 'vst0',
      originalInterface: 'vst1',
      allowVpn: [{ address: '0.0.0.0', prefix: 0 }],
      allowOriginal: [
        { address: '10.181.0.9', prefix: 16 },
        { address: 'fd00:181::', prefix: 32 },
      ],
    };
    await firewall.block(spec);
    assert.deepEqual(nft.tables(), ['inet vpnsvc']);
    assert.deepEqual(await firewall.read(), {
      blocked: true,
      vpnInterface: 'vst0',
      originalInterface: 'vst1',
      allowVpn: [{ address: '0.0.0.0', prefix: 0 }],
      allowOriginal: [
        { address: '10.181.0.0', prefix: 16 },
        { address: 'fd00:181::', prefix: 32 },
      ],
      allowLan: false,
    });
    await firewall.unblock();
    assert.deepEqual(nft.tables(), []);
    await firewall.unblock();
    assert.equal((await firewall.read()).blocked, false);
  });

  test("defaultRoutes() reads the namespace's main table: IPv4 and IPv6, with metrics, never lo", () => {
    const inNs = (...args: string[]) => execFileSync('ip', ['-n', nft.netns, ...args], { stdio: 'pipe' });
    inNs('link', 'add', 'vst0', 'type', 'veth', 'peer', 'name', 'vst1');
    for (const dev of ['vst0', 'vst1']) inNs('link', 'set', dev, 'up');
    inNs('route', 'add', 'default', 'dev', 'vst0', 'metric', '50');
    inNs('route', 'add', 'default', 'dev', 'vst1', 'metric', '10');
    inNs('-6', 'route', 'add', 'default', 'dev', 'vst1', 'metric', '300');
    inNs('route', 'add', '10.181.0.0/16', 'dev', 'vst0');
    // /proc/net/route is the reading process's namespace: read it from a process inside.
    const out = execFileSync(
      'ip',
      [
        'netns',
        'exec',
        nft.netns,
        process.execPath,
        '--import',
        'tsx',
        '-e',
        "import('./src/system/nft.ts').then((m) => process.stdout.write(JSON.stringify(m.defaultRoutes())))",
      ],
      { cwd: projectRoot(), encoding: 'utf8' },
    );
    const routes = JSON.parse(out) as DefaultRoute[];
    const key = (r: DefaultRoute) => `${r.family} ${r.dev} ${r.metric}`;
    assert.deepEqual(routes.map(key).sort(), ['4 vst0 50', '4 vst1 10', '6 vst1 300']);
    assert.equal(originalInterfaceFromRoutes('vst9', routes), 'vst1');
    assert.equal(originalInterfaceFromRoutes('vst1', routes), 'vst0');
  });
});
