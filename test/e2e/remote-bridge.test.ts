/**
 * The README's remote bridge, step by step: the daemon (its own process) listens with TLS on a
 * routable address (a veth into namespace B) with a certificate made by the README's openssl
 * line; the CLI brings the VPN up and makes the bridge's token; `vpnsvc bridge --ca` in B
 * connects over wss:// and ping crosses the tunnel. Without --ca the bridge refuses the daemon.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../../src/config/project-root.js';
import { spawnDaemon } from '../helpers/daemon.js';
import { ip, kernelTestOptions } from '../helpers/kernel.js';
import { freePort } from '../helpers/net.js';

const NS_B = `vsrb-${process.pid}`;
const LINK_A = '10.78.0.1';
const LINK_B = '10.78.0.2';
const run = promisify(execFile);
const cli = [process.execPath, '--import', 'tsx', join(projectRoot(), 'src/cli/main.ts')];

describe('README: a remote bridge over TLS with --ca', kernelTestOptions(), () => {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-remote-'));
  before(() => {
    ip('netns', 'add', NS_B);
    ip('-n', NS_B, 'link', 'set', 'lo', 'up');
    ip('link', 'add', 'vsrb0', 'type', 'veth', 'peer', 'name', 'vsrb1', 'netns', NS_B);
    ip('addr', 'add', `${LINK_A}/24`, 'dev', 'vsrb0');
    ip('-n', NS_B, 'addr', 'add', `${LINK_B}/24`, 'dev', 'vsrb1');
    ip('link', 'set', 'vsrb0', 'up');
    ip('-n', NS_B, 'link', 'set', 'vsrb1', 'up');
  });
  after(() => {
    try {
      ip('netns', 'delete', NS_B);
    } catch {
      // never made
    }
    rmSync(dir, { recursive: true, force: true });
  });

  test('daemon on the routable address with TLS; vpnsvc up; token add; bridge --ca; ping through', async (t) => {
    // The README's certificate line, for the daemon's address.
    const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
    await run('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '365',
      '-subj',
      '/CN=vpnsvc',
      '-addext',
      `subjectAltName=IP:${LINK_A}`,
      '-keyout',
      key,
      '-out',
      cert,
    ]);
    const port = await freePort();
    const daemon = spawnDaemon({ VPNSVC_LISTEN: `${LINK_A}:${port}`, VPNSVC_TLS_CERT: cert, VPNSVC_TLS_KEY: key }, join(dir, 'daemon'));
    t.after(() => daemon.stop());
    const env = {
      ...process.env,
      VPNSVC_URL: `https://${LINK_A}:${port}`,
      VPNSVC_CA: cert,
      VPNSVC_STATE_DIR: join(dir, 'daemon', 'state'),
    };
    // Ready once the CLI gets an answer over TLS.
    const deadline = Date.now() + 15_000;
    while (
      (await run(cli[0]!, [...cli.slice(1), 'health'], { env }).then(
        () => true,
        () => false,
      )) === false
    ) {
      assert.ok(Date.now() < deadline, daemon.output());
      await new Promise((r) => setTimeout(r, 200));
    }
    await run(cli[0]!, [...cli.slice(1), 'up', 'vsrb9', '--local', '10.77.0.1', '--remote', '10.77.0.2'], { env });
    const added = await run(cli[0]!, [...cli.slice(1), 'token', 'add', 'remote-bridge', '--privileges', 'vpnservice,internet'], { env });
    const tokenFile = join(dir, 'bridge.token');
    writeFileSync(tokenFile, added.stdout, { mode: 0o600 });

    const bridgeArgs = [
      ...cli.slice(1),
      'bridge',
      '--url',
      `wss://${LINK_A}:${port}/interfaces/vsrb9/stream`,
      '--token-file',
      tokenFile,
      '--name',
      'vsrb8',
      '--local',
      '10.77.0.2',
      '--peer',
      '10.77.0.1',
    ];
    // Without the CA: refused, one line, exit 5.
    const refused = await run('ip', ['netns', 'exec', NS_B, cli[0]!, ...bridgeArgs], {
      cwd: projectRoot(),
      env: { ...process.env, VPNSVC_CA: '' },
    }).then(
      () => assert.fail('the bridge trusted a self-signed certificate'),
      (e: { code: number; stderr: string }) => e,
    );
    assert.equal(refused.code, 5);
    assert.match(refused.stderr, /^vpnsvc bridge: self[- ]signed certificate\n$/m);

    // With --ca, the token added (the daemon loads it within a second).
    await new Promise((r) => setTimeout(r, 1200));
    const bridge = spawn('ip', ['netns', 'exec', NS_B, cli[0]!, ...bridgeArgs, '--ca', cert], {
      cwd: projectRoot(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    bridge.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => bridge.on('exit', (c) => r(c)));
    t.after(async () => {
      bridge.kill('SIGTERM');
      await exited;
    });
    const up = Date.now() + 15_000;
    while (!/vpnsvc bridge: up vsrb8/.test(out)) {
      assert.ok(Date.now() < up && bridge.exitCode === null, out);
      await new Promise((r) => setTimeout(r, 100));
    }
    await run('ip', ['netns', 'exec', NS_B, 'ping', '-c', '3', '-i', '0.2', '-W', '3', '10.77.0.1'], { timeout: 20_000 });
    bridge.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    assert.ok(readFileSync(tokenFile, 'utf8').trim().length >= 16);
  });
});
