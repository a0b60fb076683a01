/** The seed's feature http://tizen.org/feature/network.vpn from hand-made host probes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeFeatures, featureSupport, missingForVpn, VPN_FEATURE } from '../../src/engine/features.js';
import type { HostProbe } from '../../src/system/host.js';

const CGROUP2 = '/sys/fs/cgroup/unified';

const FULL: HostProbe = {
  tunDevice: true,
  tunDeviceError: undefined,
  netAdmin: true,
  nft: { available: true, version: 'nftables v1.0.6' },
};

test('a host with the TUN device and CAP_NET_ADMIN supports the feature', () => {
  assert.deepEqual(missingForVpn(FULL), []);
  assert.deepEqual(featureSupport(FULL).missing(), []);
  assert.deepEqual(describeFeatures(FULL, 'file', undefined, CGROUP2), {
    feature: VPN_FEATURE,
    supported: true,
    tunDevice: true,
    netAdmin: true,
    nft: { available: true, version: 'nftables v1.0.6' },
    dnsBackend: 'file',
    missing: [],
    splitByCgroup: { status: 'SUPPORTED', cgroup2Mount: CGROUP2 },
  });
  assert.equal(VPN_FEATURE, 'http://tizen.org/feature/network.vpn');
});

test('what is missing is said in words an operator can act on', () => {
  const noTun = missingForVpn({ ...FULL, tunDevice: false, tunDeviceError: 'ENOENT' });
  assert.equal(noTun.length, 1);
  assert.match(noTun[0] as string, /\/dev\/net\/tun cannot be opened \(ENOENT\): load the "tun" kernel module/);
  assert.match(missingForVpn({ ...FULL, tunDevice: false, tunDeviceError: undefined })[0] as string, /\(unknown\)/);
  const noCap = missingForVpn({ ...FULL, netAdmin: false });
  assert.equal(noCap.length, 1);
  assert.match(noCap[0] as string, /lacks CAP_NET_ADMIN: run it as root or grant AmbientCapabilities=CAP_NET_ADMIN/);
  const neither = missingForVpn({ ...FULL, tunDevice: false, tunDeviceError: 'EPERM', netAdmin: false });
  assert.equal(neither.length, 2, 'both, TUN first');
  assert.match(neither[0] as string, /EPERM/);
});

test('nft is not part of the VPN feature: its absence is listed, the feature stays supported', () => {
  const probe: HostProbe = { ...FULL, nft: { available: false } };
  assert.deepEqual(featureSupport(probe).missing(), []);
  const features = describeFeatures(probe, null, undefined, CGROUP2);
  assert.equal(features.supported, true);
  assert.equal(features.dnsBackend, null);
  assert.deepEqual(features.nft, { available: false });
  assert.equal(features.missing.length, 1);
  assert.match(
    features.missing[0] as string,
    /nft is not installed \(Debian package "nftables"\): the firewall \(block\/unblock\) is unavailable/,
  );

  const bare = describeFeatures(
    { tunDevice: false, tunDeviceError: 'ENODEV', netAdmin: false, nft: { available: false } },
    'resolved',
    undefined,
    CGROUP2,
  );
  assert.equal(bare.supported, false);
  assert.equal(bare.missing.length, 3);
  assert.match(bare.missing[2] as string, /nft is not installed/, 'the feature first, then the firewall');
});

test('featureSupport answers from the probe it was given at each call', () => {
  const probe: HostProbe = { ...FULL };
  const support = featureSupport(probe);
  assert.deepEqual(support.missing(), []);
  probe.netAdmin = false;
  assert.equal(support.missing().length, 1);
});

test('split tunnelling by program without a cgroup2 mount is NOT_SUPPORTED, with the reason, beside the supported VPN', () => {
  const features = describeFeatures(FULL, 'file', undefined, null);
  assert.equal(features.supported, true);
  assert.equal(features.splitByCgroup?.status, 'NOT_SUPPORTED');
  assert.equal(features.splitByCgroup?.cgroup2Mount, null);
  assert.match(features.splitByCgroup?.reason ?? '', /no cgroup2 mount in \/proc\/self\/mountinfo: split tunnelling by program/);
  assert.deepEqual(features.missing, [features.splitByCgroup?.reason]);
});
