#!/usr/bin/env node
/**
 * Runs the test suite inside a network namespace made for this run, so nothing a test does to
 * the kernel (TUN devices, addresses, routes, nftables) can touch the host's own network. The
 * namespace is removed afterwards, also on failure and on Ctrl-C.
 *
 * Without root there is no namespace: the kernel tests skip and say why (with CI=true such a
 * skip fails the run; see test/helpers/kernel.ts). The summary counts skipped suites as well as
 * skipped tests, with each reason (scripts/lib/honest-summary-reporter.mjs).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2);

function findTests(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'helpers' ? [] : findTests(p);
    return e.name.endsWith('.test.ts') ? [relative(root, p)] : [];
  });
}

const files = (only.length > 0 ? only : findTests(join(root, 'test'))).sort();
// The spec reporter, with a summary that counts skipped suites (scripts/lib/honest-summary-reporter.mjs).
const reporter = join(root, 'scripts/lib/honest-summary-reporter.mjs');
const nodeArgs = ['--import', 'tsx', '--test', `--test-reporter=${reporter}`, '--test-reporter-destination=stdout', ...files];
const isRoot = process.getuid?.() === 0;
const netns = `vpnsvc-test-${process.pid}`;
// The test namespace shares the host's file system: a daemon a test starts without saying
// otherwise must manage a scratch resolv.conf, never the host's /etc/resolv.conf.
const scratch = mkdtempSync(join(tmpdir(), 'vpnsvc-test-run-'));
writeFileSync(join(scratch, 'resolv.conf'), '# scratch resolv.conf of a vpnsvc test run\nnameserver 127.0.0.53\n');
const safeEnv = {
  ...process.env,
  VPNSVC_DNS_BACKEND: process.env.VPNSVC_DNS_BACKEND ?? 'file',
  VPNSVC_RESOLV_CONF: join(scratch, 'resolv.conf'),
};
let created = false;

function removeNetns() {
  if (!created) return;
  created = false;
  try {
    execFileSync('ip', ['netns', 'delete', netns], { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

function run(cmd, args, env) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: 'inherit', env });
    const forward = (sig) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

let code;
try {
  if (isRoot) {
    execFileSync('ip', ['netns', 'add', netns]);
    created = true;
    execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    console.log(`# tests run in network namespace ${netns}`);
    code = await run('ip', ['netns', 'exec', netns, process.execPath, ...nodeArgs], {
      ...safeEnv,
      VPNSVC_TEST_NETNS: netns,
      VPNSVC_HOST_NETNS_ID: readlinkSync('/proc/self/ns/net'),
    });
  } else {
    console.log('# not root: tests that touch the kernel will skip');
    code = await run(process.execPath, nodeArgs, safeEnv);
  }
} finally {
  removeNetns();
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(code);
