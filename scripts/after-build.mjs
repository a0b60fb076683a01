#!/usr/bin/env node
/**
 * After tsc: the two programs become executable (tsc writes 0644), and the man page vpnsvc(1)
 * is written from the built CLI's command table into dist/man/ (package.json "man", so
 * `npm link` installs it where man finds it).
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
for (const bin of ['dist/src/cli/main.js', 'dist/src/server.js']) chmodSync(join(root, bin), 0o755);

const { COMMANDS } = await import(join(root, 'dist/src/cli/commands.js'));
const { EXIT_CODES } = await import(join(root, 'dist/src/cli/main.js'));
const { manPage } = await import(join(root, 'dist/src/cli/man.js'));
const { packageVersion } = await import(join(root, 'dist/src/config/version.js'));
// The date of the source, not of the build, so two builds of one commit are the same.
const date = new Date(Number(process.env.SOURCE_DATE_EPOCH ?? 0) * 1000 || Date.now()).toISOString().slice(0, 10);
mkdirSync(join(root, 'dist/man'), { recursive: true });
writeFileSync(join(root, 'dist/man/vpnsvc.1'), manPage(COMMANDS, packageVersion(), EXIT_CODES, date));
