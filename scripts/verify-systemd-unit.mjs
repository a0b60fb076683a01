#!/usr/bin/env node
/**
 * Runs `systemd-analyze verify` on deploy/systemd/vpnsvc.service, alone and with its drop-in.
 * verify exits 0 on unknown keys and unparsable values, so any output at all is a failure.
 * Exit 0 ok, 1 failed, 77 systemd-analyze is not installed (the reason is printed).
 * Also `systemd-analyze security --offline`: the unit's exposure must stay at or below
 * MAX_EXPOSURE (systemd's 0-10 scale), where systemd supports offline analysis.
 * --quiet: print nothing on success (CI runs it after the test runner's summary).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const quiet = process.argv.includes('--quiet');
const root = new URL('..', import.meta.url).pathname;
const unitDir = join(root, 'deploy/systemd');

try {
  execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
} catch {
  console.log('skip: systemd-analyze is not installed (Debian package "systemd"); the unit was not verified');
  process.exit(77);
}

function verify(withDropIn) {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-unit-'));
  try {
    // verify checks that ExecStart's program exists: point it at the node running this script.
    const unit = readFileSync(join(unitDir, 'vpnsvc.service'), 'utf8').replace(
      /^ExecStart=\/usr\/bin\/node /m,
      `ExecStart=${process.execPath} `,
    );
    writeFileSync(join(dir, 'vpnsvc.service'), unit);
    if (withDropIn) {
      mkdirSync(join(dir, 'vpnsvc.service.d'));
      copyFileSync(join(unitDir, 'dns-file-backend.conf'), join(dir, 'vpnsvc.service.d', 'dns-file-backend.conf'));
    }
    // SYSTEMD_UNIT_PATH makes verify read the drop-in; the trailing ':' keeps the system's own
    // unit path (sysinit.target, ...) after ours. Warnings go to stderr with exit status 0.
    const r = spawnSync('systemd-analyze', ['verify', join(dir, 'vpnsvc.service')], {
      env: { ...process.env, SYSTEMD_UNIT_PATH: `${dir}:` },
      encoding: 'utf8',
    });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}${r.status !== 0 && !r.stderr ? `exit status ${r.status}` : ''}`;
    return out.replaceAll(dir, 'deploy/systemd').trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The hardening budget: 2.9 today ("OK"); a change that loosens the sandbox fails here. */
const MAX_EXPOSURE = 3.5;

function exposure() {
  const unit = join(unitDir, 'vpnsvc.service');
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', unit], { encoding: 'utf8' });
  const m = /Overall exposure level for [^:]+: ([0-9.]+)/.exec(`${r.stdout}${r.stderr}`);
  return m ? Number(m[1]) : undefined;
}

let failed = false;
const level = exposure();
if (level === undefined) {
  if (!quiet) console.log('systemd-analyze security --offline: not supported by this systemd; exposure not checked');
} else if (level > MAX_EXPOSURE) {
  failed = true;
  console.error(`systemd-analyze security: exposure ${level} is above ${MAX_EXPOSURE}: the unit's sandbox got weaker`);
} else if (!quiet) {
  console.log(`systemd-analyze security: exposure ${level} (at most ${MAX_EXPOSURE})`);
}
for (const [label, withDropIn] of [
  ['vpnsvc.service', false],
  ['vpnsvc.service + dns-file-backend.conf', true],
]) {
  const out = verify(withDropIn);
  if (out) {
    failed = true;
    console.error(`systemd-analyze verify ${label}: FAILED\n${out}`);
  } else if (!quiet) {
    console.log(`systemd-analyze verify ${label}: ok`);
  }
}
process.exit(failed ? 1 : 0);
