/**
 * Mount points from mountinfo, and what /features makes of a bind-mounted resolv.conf (as in a
 * container): DNS listed as unsupported, instead of failing later with EBUSY.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isMountPoint, mountPoints } from '../../src/system/mounts.js';
import { spawnDaemon, waitReady } from '../helpers/daemon.js';
import { kernelTestOptions } from '../helpers/kernel.js';

test('mount points are field 5 of mountinfo, octal escapes undone', () => {
  const info = [
    '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
    '1203 1189 8:1 /var/lib/kubelet/pods/x/etc-hosts /etc/hosts rw - ext4 /dev/sda1 rw',
    '1204 1189 8:1 /var/lib/containerd/x/resolv.conf /etc/resolv.conf rw - ext4 /dev/sda1 rw',
    '1205 1189 0:50 / /mnt/with\\040space rw - tmpfs tmpfs rw',
    '',
  ].join('\n');
  assert.deepEqual([...mountPoints(info)], ['/', '/etc/hosts', '/etc/resolv.conf', '/mnt/with space']);
  assert.equal(isMountPoint('/'), true);
  assert.equal(isMountPoint('/proc/self/mountinfo/none'), false);
});

test('a bind-mounted resolv.conf: /features lists DNS as unsupported here', kernelTestOptions(), async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-bind-features-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const resolvConf = join(dir, 'resolv.conf');
  writeFileSync(resolvConf, 'nameserver 192.168.1.1\n');
  writeFileSync(join(dir, 'runtime-resolv.conf'), 'nameserver 10.96.0.10\n');
  // The daemon in a private mount namespace where its resolv.conf is a bind mount, as a container runtime makes it.
  const daemon = spawnDaemon({ VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: resolvConf }, mkdtempSync(join(tmpdir(), 'vpnsvc-bind-')), {
    prefix: [
      'unshare',
      '-m',
      '--propagation',
      'private',
      'sh',
      '-c',
      'mount --bind "$0" "$1" && shift && exec "$@"',
      join(dir, 'runtime-resolv.conf'),
      resolvConf,
    ],
  });
  t.after(() => daemon.stop());
  await waitReady(daemon);
  const features = (await daemon.call('GET', '/features')).body as { dnsBackend: string; missing: string[] };
  assert.equal(features.dnsBackend, 'file');
  assert.ok(
    features.missing.some((m) => m.startsWith(`DNS is unsupported here: ${resolvConf} is a bind mount`)),
    JSON.stringify(features.missing),
  );
});
