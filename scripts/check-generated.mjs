#!/usr/bin/env node
/** Fails when src/generated/api.ts is not what openapi-typescript makes of openapi.yaml now. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-gen-'));
try {
  const fresh = join(dir, 'api.ts');
  execFileSync(join(root, 'node_modules/.bin/openapi-typescript'), [join(root, 'openapi.yaml'), '-o', fresh], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const committed = readFileSync(join(root, 'src/generated/api.ts'), 'utf8');
  if (readFileSync(fresh, 'utf8') !== committed) {
    console.error('src/generated/api.ts is stale: run `npm run gen:types` and commit the result');
    process.exit(1);
  }
  console.log('src/generated/api.ts matches openapi.yaml');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
