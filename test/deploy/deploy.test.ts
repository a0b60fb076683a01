/**
 * deploy/: the DaemonSet has what a per-node daemon needs, the systemd unit passes
 * `systemd-analyze verify` with no warning, and the container build runs what the unit runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { COMMANDS } from '../../src/cli/commands.js';
import { DEFAULT_LISTEN } from '../../src/config/config.js';
import { projectRoot } from '../../src/config/project-root.js';
import { BACKEND_WRITABLE_PATHS } from '../../src/system/resolver/detect.js';

const deploy = (p: string) => join(projectRoot(), 'deploy', p);

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}
interface Mount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
}
interface Volume {
  name: string;
  hostPath?: { path: string; type?: string };
  secret?: { secretName: string };
}
interface Container {
  image: string;
  env: EnvVar[];
  volumeMounts: Mount[];
  securityContext: { privileged?: boolean; allowPrivilegeEscalation?: boolean; capabilities: { add?: string[]; drop?: string[] } };
  livenessProbe: { httpGet: { path: string; port: number | string; host?: string; scheme?: string } };
}
interface DaemonSet {
  apiVersion: string;
  kind: string;
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string> };
      spec: { hostNetwork?: boolean; terminationGracePeriodSeconds?: number; containers: Container[]; volumes: Volume[] };
    };
  };
}

function daemonSet(): DaemonSet {
  const docs = parseAllDocuments(readFileSync(deploy('kubernetes/vpnsvc-daemonset.yaml'), 'utf8'));
  for (const d of docs) assert.deepEqual(d.errors, [], 'the manifest parses');
  const ds = docs.map((d) => d.toJS() as DaemonSet).find((o) => o?.kind === 'DaemonSet');
  assert.ok(ds, 'a DaemonSet document');
  return ds;
}

test('DaemonSet: one daemon per node in the host network, NET_ADMIN and SYS_PTRACE only, /dev/net/tun', () => {
  const ds = daemonSet();
  assert.equal(ds.apiVersion, 'apps/v1');
  for (const [k, v] of Object.entries(ds.spec.selector.matchLabels))
    assert.equal(ds.spec.template.metadata.labels[k], v, 'the selector matches the pods');
  const pod = ds.spec.template.spec;
  assert.equal(pod.hostNetwork, true);
  assert.equal(pod.containers.length, 1);
  const c = pod.containers[0]!;

  // The systemd unit's set, which test/deploy/capabilities.test.ts runs the daemon with.
  assert.deepEqual(c.securityContext.capabilities.add, ['NET_ADMIN', 'SYS_PTRACE']);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  assert.notEqual(c.securityContext.privileged, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);

  const tun = pod.volumes.find((v) => v.hostPath?.path === '/dev/net/tun');
  assert.ok(tun, 'a hostPath volume for /dev/net/tun');
  assert.equal(tun.hostPath?.type, 'CharDevice');
  assert.ok(
    c.volumeMounts.some((m) => m.name === tun.name && m.mountPath === '/dev/net/tun'),
    '/dev/net/tun is mounted',
  );
});

test('DaemonSet: liveness probe on /health at the listen port; token from a Secret; state on the node', () => {
  const pod = daemonSet().spec.template.spec;
  const c = pod.containers[0]!;
  const env = (name: string) => c.env.find((e) => e.name === name);

  const probe = c.livenessProbe.httpGet;
  assert.equal(probe.path, '/health');
  const listen = env('VPNSVC_LISTEN')?.value ?? DEFAULT_LISTEN;
  const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), listen.slice(listen.lastIndexOf(':') + 1)];
  assert.equal(String(probe.port), port, 'the probe asks the port the daemon listens on');
  if (host === '127.0.0.1') assert.equal(probe.host, '127.0.0.1', 'a loopback listener is probed on loopback');
  assert.equal(probe.scheme ?? 'HTTP', env('VPNSVC_TLS_CERT') ? 'HTTPS' : 'HTTP');

  // The token: a Secret volume whose file VPNSVC_ADMIN_TOKEN_FILE names, or an env secretKeyRef.
  const secretVolumes = pod.volumes.filter((v) => v.secret?.secretName).map((v) => v.name);
  const mount = c.volumeMounts.find((m) => secretVolumes.includes(m.name));
  const fromFile = mount !== undefined && env('VPNSVC_ADMIN_TOKEN_FILE')?.value?.startsWith(`${mount.mountPath}/`);
  const fromEnv = c.env.some((e) => e.valueFrom?.secretKeyRef?.name);
  assert.ok(fromFile || fromEnv, 'the admin token comes from a Secret');
  assert.ok(!c.env.some((e) => /TOKEN/.test(e.name) && e.value !== undefined && !e.value.startsWith('/')), 'no literal token');

  const state = pod.volumes.find((v) => v.hostPath?.path === '/var/lib/vpnsvc');
  assert.ok(state, 'the state directory is on the node, so a restarted pod can recover');
  assert.ok(c.volumeMounts.some((m) => m.name === state.name && m.mountPath === (env('VPNSVC_STATE_DIR')?.value ?? '/var/lib/vpnsvc')));
  assert.ok((pod.terminationGracePeriodSeconds ?? 30) > 10, "the grace period covers the daemon's 10 s shutdown bound");
});

test('systemd unit: systemd-analyze verify passes with no warning', (t) => {
  const r = spawnSync(process.execPath, [join(projectRoot(), 'scripts/verify-systemd-unit.mjs')], { encoding: 'utf8' });
  if (r.status === 77) {
    t.skip(r.stdout.trim());
    return;
  }
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});

test('systemd unit: only CAP_NET_ADMIN and CAP_SYS_PTRACE, with the hardening options', () => {
  const unit = readFileSync(deploy('systemd/vpnsvc.service'), 'utf8');
  const values = (key: string) => [...unit.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]!.trim());
  assert.deepEqual(values('CapabilityBoundingSet'), ['CAP_NET_ADMIN CAP_SYS_PTRACE']);
  assert.deepEqual(values('AmbientCapabilities'), ['CAP_NET_ADMIN CAP_SYS_PTRACE']);
  const expected: [string, string][] = [
    ['NoNewPrivileges', 'yes'],
    ['ProtectSystem', 'strict'],
    ['ProtectHome', 'yes'],
    ['PrivateTmp', 'yes'],
    ['StateDirectory', 'vpnsvc'],
    ['SystemCallArchitectures', 'native'],
    ['DeviceAllow', '/dev/net/tun rw'],
    ['DevicePolicy', 'closed'],
    ['RestrictAddressFamilies', 'AF_UNIX AF_INET AF_INET6 AF_NETLINK'],
  ];
  for (const [k, v] of expected) assert.deepEqual(values(k), [v], k);
  assert.match(values('ExecStart')[0]!, /^\/usr\/bin\/node \/opt\/vpnsvc\/dist\/src\/server\.js$/);
});

/** The paths of a unit file's ReadWritePaths= lines, without the "-" (ignore if missing) and "+" prefixes. */
function readWritePaths(file: string): string[] {
  const text = readFileSync(deploy(file), 'utf8');
  return [...text.matchAll(/^ReadWritePaths=(.*)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/)).map((p) => p.replace(/^[-+]+/, ''));
}

const covers = (writable: readonly string[], path: string) => writable.some((w) => path === w || path.startsWith(`${w}/`));

test('systemd unit: the DNS backends can write where they write (ProtectSystem=strict leaves the rest read-only)', () => {
  const unit = readWritePaths('systemd/vpnsvc.service');
  const withDropIn = [...unit, ...readWritePaths('systemd/dns-file-backend.conf')];
  assert.ok(BACKEND_WRITABLE_PATHS.resolvconf.length > 0, 'the resolvconf backend names its paths');
  for (const path of [...BACKEND_WRITABLE_PATHS.resolved, ...BACKEND_WRITABLE_PATHS.resolvconf]) {
    assert.ok(covers(unit, path), `the unit's ReadWritePaths (${unit.join(' ')}) do not cover ${path}`);
  }
  for (const path of BACKEND_WRITABLE_PATHS.file) {
    assert.ok(covers(withDropIn, path), `the unit with dns-file-backend.conf does not cover ${path}`);
  }
  assert.ok(!covers(unit, '/etc/passwd'), 'the unit alone keeps /etc read-only');
  assert.match(readFileSync(deploy('systemd/dns-file-backend.conf'), 'utf8'), /^Environment=VPNSVC_DNS_BACKEND=file$/m);
});

test('container build: builds the shim and the TypeScript, runs the daemon, ships nft and the CLI', () => {
  const file = readFileSync(deploy('Containerfile'), 'utf8');
  assert.match(file, /^FROM node:20[^\s]* AS build$/m);
  assert.match(file, /make -C native-shim/);
  assert.match(file, /npm run build/);
  assert.match(file, /nftables/);
  assert.match(file, /dist\/src\/server\.js/);
  assert.match(file, /dist\/src\/cli\/main\.js/);
  assert.match(file, /^STOPSIGNAL SIGTERM$/m);
});

test('systemd unit: Type=notify, which the daemon answers with READY=1 once it listens', () => {
  const unit = readFileSync(deploy('systemd/vpnsvc.service'), 'utf8');
  assert.match(unit, /^Type=notify$/m);
  assert.match(unit, /^NotifyAccess=main$/m);
  // The notification itself is tested against a datagram socket in test/daemon/lifecycle.test.ts.
  assert.match(readFileSync(join(projectRoot(), 'src/daemon/lifecycle.ts'), 'utf8'), /sdNotify\(socket, `READY=1/);
});

// ---- the manifests against the Kubernetes API schema ---------------------------------------

const kubernetesFiles = () =>
  readdirSync(deploy('kubernetes'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join('kubernetes', f));

/** The validators kubernetes-models generates from the Kubernetes OpenAPI schema, by apiVersion and kind. */
async function modelFor(apiVersion: string, kind: string): Promise<new (o: unknown) => { validate(): void }> {
  const group = apiVersion.includes('/') ? apiVersion : `core/${apiVersion}`;
  const [g, v] = group.split('/') as [string, string];
  const path = g === 'core' ? `kubernetes-models/${v}/${kind}` : `kubernetes-models/${g}/${v}/${kind}`;
  const mod = (await import(path)) as Record<string, new (o: unknown) => { validate(): void }>;
  const model = mod[kind];
  assert.ok(model, `no Kubernetes schema for ${apiVersion} ${kind}`);
  return model;
}

test('every manifest in deploy/kubernetes is valid against the Kubernetes API schema', async () => {
  const kinds: string[] = [];
  for (const file of kubernetesFiles()) {
    for (const doc of parseAllDocuments(readFileSync(deploy(file), 'utf8'))) {
      assert.deepEqual(doc.errors, [], `${file} parses`);
      const obj = doc.toJS() as { apiVersion: string; kind: string } | null;
      if (!obj) continue;
      const Model = await modelFor(obj.apiVersion, obj.kind);
      assert.doesNotThrow(() => new Model(obj).validate(), `${file}: ${obj.kind}`);
      kinds.push(obj.kind);
    }
  }
  assert.deepEqual(kinds.sort(), ['DaemonSet', 'Namespace']);
});

test('the schema check can fail: wrong types and a missing field are refused', async () => {
  const Model = await modelFor('apps/v1', 'DaemonSet');
  const good = daemonSet() as unknown as { spec: { template: { spec: Record<string, any> } } };
  const broken = (change: (pod: Record<string, any>) => void) => {
    const copy = structuredClone(good);
    change(copy.spec.template.spec);
    return () => new Model(copy).validate();
  };
  assert.throws(
    broken((pod) => (pod.containers[0].ports[0].containerPort = 'http')),
    /containerPort must be integer/,
  );
  assert.throws(
    broken((pod) => delete pod.containers[0].name),
    /containers\/0 must have required property name/,
  );
  assert.throws(
    broken((pod) => (pod.hostPID = 'yes')),
    /hostPID must be boolean/,
  );
  assert.throws(
    broken((pod) => (pod.terminationGracePeriodSeconds = 'long')),
    /terminationGracePeriodSeconds must be integer/,
  );
});

test('DaemonSet: readiness is `vpnsvc ready` (the VPN feature here), liveness is /health; protect can reach node processes', () => {
  const pod = daemonSet().spec.template.spec as unknown as {
    hostPID?: boolean;
    containers: { readinessProbe: { exec?: { command: string[] }; httpGet?: unknown }; livenessProbe: { httpGet: { path: string } } }[];
  };
  const c = pod.containers[0]!;
  assert.deepEqual(c.readinessProbe.exec?.command, ['vpnsvc', 'ready']);
  assert.equal(c.livenessProbe.httpGet.path, '/health');
  assert.equal(pod.hostPID, true, 'pidfd_open needs the node pid of the app whose socket is protected');
  assert.ok(
    COMMANDS.some((cmd) => cmd.words.join(' ') === 'ready'),
    'the readiness probe runs a command the CLI has',
  );
});

test('DaemonSet: memory request covers the measured footprint, and the limit the request', () => {
  const c = daemonSet().spec.template.spec.containers[0] as unknown as {
    resources: { requests: { memory: string }; limits: { memory: string } };
  };
  const mib = (q: string) => {
    const m = /^(\d+)(Mi|Gi)$/.exec(q);
    assert.ok(m, `${q} in Mi or Gi`);
    return Number(m[1]) * (m[2] === 'Gi' ? 1024 : 1);
  };
  // 133 MB peak RSS after 10,000 routes (the comment in the manifest says how it was measured).
  assert.ok(mib(c.resources.requests.memory) >= 133_000_000 / 2 ** 20, c.resources.requests.memory);
  assert.ok(mib(c.resources.limits.memory) > mib(c.resources.requests.memory));
});

test('namespace: Pod Security "privileged" enforced, with the reasons; the DaemonSet lives there', () => {
  const text = readFileSync(deploy('kubernetes/namespace.yaml'), 'utf8');
  const ns = parseAllDocuments(text)[0]!.toJS() as { metadata: { name: string; labels: Record<string, string> } };
  assert.equal(ns.metadata.labels['pod-security.kubernetes.io/enforce'], 'privileged');
  for (const why of ['hostNetwork', 'hostPID', 'hostPath', 'NET_ADMIN, SYS_PTRACE']) assert.ok(text.includes(why), why);
  assert.equal((daemonSet() as unknown as { metadata: { namespace: string } }).metadata.namespace, ns.metadata.name);
});

test('deploy README: the kill switch warning lists what a node must allow', () => {
  const readme = readFileSync(deploy('README.md'), 'utf8');
  assert.match(readme, /kill switch/i);
  for (const what of ['API server', 'pod CIDR', 'service CIDR', 'node subnet', '--allow-original']) assert.ok(readme.includes(what), what);
  assert.match(readFileSync(deploy('kubernetes/vpnsvc-daemonset.yaml'), 'utf8'), /WARNING, the kill switch/);
});
