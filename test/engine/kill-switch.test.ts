/**
 * The kill switch driven directly, with the real nft on a private network namespace (see
 * test/helpers/private-nft.ts: a block in the shared test namespace would cut off the tests
 * running beside this file). Refusals happen before nft runs; a real block is read back from the
 * kernel and always lifted. Traffic under the block is test/e2e/kill-switch-leak.test.ts's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { KillSwitch } from '../../src/engine/kill-switch.js';
import { type ErrorName, VpnsvcError } from '../../src/errors/errors.js';
import { type DefaultRoute, NftFirewall } from '../../src/system/nft.js';
import { ip, kernelTestOptions, link } from '../helpers/kernel.js';
import { type PrivateNft, privateNft } from '../helpers/private-nft.js';

/** The VPN interface's name: the kill switch only puts it in rules, so it need not exist. */
const VPN = 'vsukv0';
const ORIGINAL = 'vsuks0';
const ALLOW_VPN = [
  { address: '10.180.200.0', prefix: 24 },
  { address: 'fd00:180:200::', prefix: 48 },
];
const ALLOW_ORIGINAL = [{ address: '10.180.201.0', prefix: 24 }];

function isError(kind: ErrorName, message: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof VpnsvcError, `a VpnsvcError, got ${String(err)}`);
    assert.equal(err.kind, kind);
    assert.match(err.message, message);
    return true;
  };
}

test('without nft, the firewall is NOT_SUPPORTED naming the package', async () => {
  const ks = new KillSwitch(new NftFirewall('/nonexistent/nft'), () => []);
  await assert.rejects(ks.requireNft(), isError('VPNSVC_ERROR_NOT_SUPPORTED', /install the Debian package "nftables"/));
});

describe('the kill switch on a private namespace', kernelTestOptions(), () => {
  let nft: PrivateNft;
  before(() => {
    nft = privateNft('ks');
    ip('link', 'add', ORIGINAL, 'type', 'veth', 'peer', 'name', 'vsuks1');
  });
  after(() => {
    nft?.destroy();
    if (link(ORIGINAL)) ip('link', 'delete', ORIGINAL);
  });

  const killSwitch = (routes: () => DefaultRoute[] = () => []) => new KillSwitch(new NftFirewall(nft.program), routes);

  test('a bad allow list is refused before nft runs', async () => {
    const ks = killSwitch();
    const refusals: Array<[Parameters<KillSwitch['block']>[0], RegExp]> = [
      [{ allowVpn: [{ address: 'not-an-address', prefix: 8 }], allowOriginal: [], originalInterface: ORIGINAL }, /allowVpn\[0\]/],
      [
        { allowVpn: ALLOW_VPN, allowOriginal: [{ address: '10.180.201.0', prefix: 33 }], originalInterface: ORIGINAL },
        /allowOriginal\[0\]/,
      ],
      [
        {
          allowVpn: Array.from({ length: 256 }, (_, i) => ({ address: `10.180.${i}.0`, prefix: 24 })),
          allowOriginal: [],
          originalInterface: ORIGINAL,
        },
        /allowVpn has 256 entries: at most 255/,
      ],
    ];
    for (const [request, message] of refusals) {
      await assert.rejects(ks.block(request, VPN), isError('VPNSVC_ERROR_INVALID_PARAMETER', message));
    }
    assert.deepEqual(nft.calls(), [], 'nft never ran');
    assert.deepEqual(nft.tables(), []);
  });

  test('an unknown, invalid or VPN original interface, or none to be found, is refused before nft runs', async () => {
    const request = { allowVpn: ALLOW_VPN, allowOriginal: ALLOW_ORIGINAL };
    const ks = killSwitch();
    await assert.rejects(
      ks.block({ ...request, originalInterface: 'vsunone0' }, VPN),
      isError('VPNSVC_ERROR_INVALID_PARAMETER', /original interface "vsunone0" does not exist/),
    );
    await assert.rejects(
      ks.block({ ...request, originalInterface: 'eth*' }, VPN),
      isError('VPNSVC_ERROR_INVALID_PARAMETER', /"eth\*" is not a valid interface name/),
    );
    await assert.rejects(
      ks.block({ ...request, originalInterface: VPN }, VPN),
      isError('VPNSVC_ERROR_INVALID_PARAMETER', /"vsukv0" is the VPN interface/),
    );
    await assert.rejects(ks.block(request, VPN), isError('VPNSVC_ERROR_INVALID_PARAMETER', /no default route outside the VPN interface/));
    const onlyTheVpn = killSwitch(() => [{ family: 4, dev: VPN, metric: 0 }]);
    await assert.rejects(
      onlyTheVpn.block(request, VPN),
      /no default route outside the VPN interface/,
      "the VPN's own default route does not count",
    );
    assert.deepEqual(nft.calls(), [], 'nft never ran');
    assert.deepEqual(nft.tables(), []);
  });

  test('a block lands in the kernel as inet vpnsvc, is replaced by the next, and unblock removes it', async (t) => {
    const ks = killSwitch();
    t.after(() => ks.unblock());
    const state = await ks.block({ allowVpn: ALLOW_VPN, allowOriginal: ALLOW_ORIGINAL, originalInterface: ORIGINAL }, VPN);
    const expected = {
      blocked: true,
      vpnInterface: VPN,
      originalInterface: ORIGINAL,
      allowVpn: ALLOW_VPN,
      allowOriginal: ALLOW_ORIGINAL,
      allowLan: false,
    };
    assert.deepEqual(state, expected);
    assert.deepEqual(await ks.state(), expected, 'state() reads the kernel');
    assert.deepEqual(nft.tables(), ['inet vpnsvc']);
    const chains = (nft.serviceTable() ?? []).flatMap((o) => (o.chain ? [o.chain as { name: string; hook: string; policy: string }] : []));
    assert.deepEqual(
      chains.map((c) => `${c.name} ${c.hook} ${c.policy}`).sort(),
      ['forward forward drop', 'input input drop', 'output output drop'],
      'both directions drop what is not allowed',
    );

    // Host bits are cleared and overlaps folded on the way in.
    const replaced = await ks.block(
      {
        allowVpn: [
          { address: '10.180.202.7', prefix: 24 },
          { address: '10.180.202.128', prefix: 25 },
        ],
        allowOriginal: [],
        originalInterface: ORIGINAL,
      },
      VPN,
    );
    assert.deepEqual(replaced.allowVpn, [{ address: '10.180.202.0', prefix: 24 }]);
    assert.deepEqual(replaced.allowOriginal, []);
    assert.deepEqual(nft.tables(), ['inet vpnsvc'], 'one table, replaced in place');

    await ks.unblock();
    assert.deepEqual(nft.tables(), []);
    assert.deepEqual(await ks.state(), {
      blocked: false,
      vpnInterface: null,
      originalInterface: null,
      allowVpn: [],
      allowOriginal: [],
      allowLan: false,
    });
    await ks.unblock();
    assert.deepEqual(nft.tables(), [], 'nothing to lift is fine');
  });

  test('without originalInterface, the best default route outside the VPN gives it', async (t) => {
    const ks = killSwitch(() => [
      { family: 6, dev: 'vsuks1', metric: 1 },
      { family: 4, dev: VPN, metric: 0 },
      { family: 4, dev: 'vsuks1', metric: 200 },
      { family: 4, dev: ORIGINAL, metric: 100 },
    ]);
    t.after(() => ks.unblock());
    const state = await ks.block({ allowVpn: ALLOW_VPN, allowOriginal: [] }, VPN);
    assert.equal(state.originalInterface, ORIGINAL, 'IPv4 first, lowest metric, never the VPN');
    await ks.unblock();
    assert.deepEqual(nft.tables(), []);
  });
});
