/**
 * Guards for tests that touch the kernel: they run only inside the namespace the test runner
 * made, never in the host's own network namespace.
 */
import { execFileSync } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import type { TestContext } from 'node:test';

/** Why kernel tests cannot run here, or undefined when they can. */
export function kernelSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'kernel tests need root (TUN devices, addresses, namespaces)';
  // The runner records its own (the host's) namespace before it enters the test one.
  const host = process.env.VPNSVC_HOST_NETNS_ID;
  if (!process.env.VPNSVC_TEST_NETNS || !host || readlinkSync('/proc/self/ns/net') === host) {
    return 'not inside the test network namespace: run the suite with `npm test`, which makes one';
  }
  return undefined;
}

/**
 * Options for node:test that skip a kernel test or suite with its reason. Under CI=true a skip is
 * a failure instead: CI must never pass by skipping the tests that matter. node:test leaves a
 * skipped suite out of its own "skipped" count; the runner's summary counts it (and says why).
 */
export function kernelTestOptions(): { skip?: string } {
  const reason = kernelSkipReason();
  if (reason === undefined) return {};
  if (process.env.CI === 'true') throw new Error(`CI=true but kernel tests cannot run: ${reason}`);
  return { skip: reason };
}

export function ipJson<T = unknown>(...args: string[]): T {
  const out = execFileSync('ip', ['-j', ...args], { encoding: 'utf8' });
  return (out.trim() === '' ? [] : JSON.parse(out)) as T;
}

export interface IpLink {
  ifname: string;
  ifindex: number;
  mtu: number;
  flags: string[];
  link_type?: string;
}

export interface IpAddrInfo {
  family: string;
  local: string;
  address?: string;
  prefixlen: number;
}

export function link(name: string): IpLink | undefined {
  return ipJson<IpLink[]>('link').find((l) => l.ifname === name);
}

export function addresses(name: string): IpAddrInfo[] {
  const entry = ipJson<Array<{ ifname: string; addr_info: IpAddrInfo[] }>>('addr', 'show').find((a) => a.ifname === name);
  return entry?.addr_info ?? [];
}

/** The file status flags of one of this process's fds, as the kernel reports them (octal). */
export function fdFlags(fd: number): number {
  const info = execFileSync('cat', [`/proc/${process.pid}/fdinfo/${fd}`], { encoding: 'utf8' });
  const m = /^flags:\s+([0-7]+)/m.exec(info);
  if (!m?.[1]) throw new Error(`no flags in fdinfo of fd ${fd}`);
  return parseInt(m[1], 8);
}

export function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

export function skipUnlessKernel(t: TestContext): boolean {
  const reason = kernelSkipReason();
  if (reason === undefined) return false;
  if (process.env.CI === 'true') throw new Error(`CI=true but kernel tests cannot run: ${reason}`);
  t.skip(reason);
  return true;
}
