/**
 * Routes and DNS for a test app. The DNS backend is always the file backend on a resolv.conf in
 * a temp directory: tests never touch the host's /etc/resolv.conf (the test namespace shares
 * the host's file system).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { VpnEngine } from '../../src/engine/engine.js';
import { startRoutesAndDns, type RoutesAndDns } from '../../src/routes-dns-setup.js';

/** What a user's resolv.conf looks like before the VPN comes. */
export const USER_RESOLV_CONF = '# written by the user\nnameserver 192.168.1.1\nsearch home.lan\noptions edns0\n';

export interface TestRoutesAndDns extends RoutesAndDns {
  /** The resolv.conf the file backend manages in this test. */
  resolvConf: string;
  stateDir: string;
}

export async function testRoutesAndDns(t: TestContext, engine: VpnEngine): Promise<TestRoutesAndDns> {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-dns-'));
  t.after(async () => {
    await engine.close(); // deinit restores the file first
    rmSync(dir, { recursive: true, force: true });
  });
  const resolvConf = join(dir, 'resolv.conf');
  const stateDir = join(dir, 'state');
  writeFileSync(resolvConf, USER_RESOLV_CONF);
  const env = { VPNSVC_DNS_BACKEND: 'file', VPNSVC_RESOLV_CONF: resolvConf };
  return { ...(await startRoutesAndDns(engine, { env, stateDir })), resolvConf, stateDir };
}
