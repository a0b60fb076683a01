/**
 * The systemd unit grants only CAP_NET_ADMIN and CAP_SYS_PTRACE (and no new privileges). Run
 * the daemon with exactly the unit's capability set (setpriv) and check it still does its work.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { projectRoot } from '../../src/config/project-root.js';
import { kernelTestOptions, link } from '../helpers/kernel.js';

/** CAP_NET_ADMIN → net_admin, as setpriv spells them. */
function unitCapabilities(): string[] {
  const unit = readFileSync(join(projectRoot(), 'deploy/systemd/vpnsvc.service'), 'utf8');
  const line = /^CapabilityBoundingSet=(.*)$/m.exec(unit)![1]!;
  return line
    .trim()
    .split(/\s+/)
    .map((c) => c.replace(/^CAP_/, '').toLowerCase());
}

const CAP_BITS: Record<string, number> = { net_admin: 12, sys_ptrace: 19 };

function hasSetpriv(): boolean {
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe("the unit's capabilities are enough", {
  ...kernelTestOptions(),
  ...(!hasSetpriv() && { skip: 'setpriv (util-linux) is not installed' }),
}, () => {
  test('with only CAP_NET_ADMIN + CAP_SYS_PTRACE and no_new_privs the daemon creates and configures a TUN', async (t) => {
    const caps = unitCapabilities();
    assert.deepEqual(caps, ['net_admin', 'sys_ptrace']);
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-caps-'));
    const socket = join(dir, 'vpnsvc.sock');
    const set = `-all,${caps.map((c) => `+${c}`).join(',')}`;
    const child = spawn(
      'setpriv',
      [
        `--bounding-set=${set}`,
        `--inh-caps=${set}`,
        `--ambient-caps=${set}`,
        '--no-new-privs',
        process.execPath,
        '--import',
        'tsx',
        join(projectRoot(), 'src/server.ts'),
      ],
      {
        cwd: projectRoot(),
        env: { ...process.env, VPNSVC_STATE_DIR: join(dir, 'state'), VPNSVC_LISTEN: `unix:${socket}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    t.after(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    });
    const deadline = Date.now() + 15_000;
    while (!/Server listening/.test(out)) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`daemon did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    const eff = BigInt(`0x${/^CapEff:\s+([0-9a-f]+)/m.exec(status)![1]}`);
    assert.equal(
      eff,
      caps.reduce((m, c) => m | (1n << BigInt(CAP_BITS[c]!)), 0n),
      "exactly the unit's capabilities",
    );
    assert.match(status, /^NoNewPrivs:\s+1$/m);

    const token = readFileSync(join(dir, 'state', 'admin.token'), 'utf8').trim();
    const call = (method: string, path: string, body?: unknown) =>
      new Promise<number>((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const req = request(
          {
            socketPath: socket,
            method,
            path,
            headers: { authorization: `Bearer ${token}`, ...(payload && { 'content-type': 'application/json' }) },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    assert.equal(await call('POST', '/interfaces', { name: 'vscap0' }), 201);
    assert.equal(await call('PATCH', '/interfaces/vscap0', { localIp: '10.75.0.1', remoteIp: '10.75.0.2', mtu: 1380 }), 200);
    assert.equal(await call('POST', '/interfaces/vscap0/apply'), 200);
    assert.equal(link('vscap0')?.mtu, 1380);
    assert.ok(link('vscap0')?.flags.includes('UP'));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.equal(link('vscap0'), undefined);
    assert.ok(!existsSync(join(dir, 'state', 'runtime.json')));
  });
});
