/**
 * Token changes without a restart: a change to tokens.json (vpnsvc token add/del) or to the admin
 * token file (a Kubernetes Secret swapped in place) reloads the daemon's store within a few
 * polls. A short poll interval keeps these tests fast.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { installAdminToken } from '../../src/tokens/admin-token.js';
import { addToken, removeToken, TOKENS_FILE, TokenStore } from '../../src/tokens/token-store.js';
import { TOKEN_POLL_MS, watchTokens } from '../../src/tokens/token-watch.js';

const POLL_MS = 20;
/** Far below the default poll, far above one short poll on a loaded machine. */
const WITHIN_MS = 600;

interface Logged {
  level: 'info' | 'error';
  obj: Record<string, unknown>;
  msg: string;
}

function watched(t: TestContext, adminSecret?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-token-watch-'));
  const stateDir = join(dir, 'state');
  const adminFile = join(dir, 'admin-secret');
  if (adminSecret !== undefined) {
    writeFileSync(adminFile, adminSecret);
    installAdminToken(stateDir, adminFile);
  }
  const { store } = TokenStore.openStateDir(stateDir);
  const logged: Logged[] = [];
  const log = {
    info: (obj: object, msg: string) => void logged.push({ level: 'info', obj: obj as Logged['obj'], msg }),
    error: (obj: object, msg: string) => void logged.push({ level: 'error', obj: obj as Logged['obj'], msg }),
  };
  const stop = watchTokens(stateDir, store, log, adminSecret === undefined ? undefined : adminFile, POLL_MS);
  t.after(() => {
    stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return { stateDir, adminFile, store, logged, stop };
}

async function within(what: string, ms: number, pred: () => boolean): Promise<number> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > ms) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(5);
  }
  return Date.now() - start;
}

test('a token added to tokens.json works within a few polls, and a removed one stops working', async (t) => {
  assert.ok(TOKEN_POLL_MS > WITHIN_MS, 'the test would not show that the interval is honoured');
  const w = watched(t);
  // watchFile compares stat results: give the first poll its baseline before the change.
  await sleep(2 * POLL_MS);
  const ui = addToken(w.stateDir, 'ui', ['vpnservice']);
  assert.equal(w.store.verify(ui), undefined, 'not before a reload');
  await within('the added token', WITHIN_MS, () => w.store.verify(ui)?.id === 'ui');
  assert.deepEqual(w.logged.at(-1), { level: 'info', obj: { tokens: 2, why: TOKENS_FILE }, msg: 'tokens reloaded' });
  removeToken(w.stateDir, 'ui');
  await within('the removed token', WITHIN_MS, () => w.store.verify(ui) === undefined);
});

test('a tokens.json that does not parse is logged, and the tokens in force stay', async (t) => {
  const w = watched(t);
  await sleep(2 * POLL_MS);
  const ui = addToken(w.stateDir, 'ui', ['vpnservice']);
  await within('the added token', WITHIN_MS, () => w.store.verify(ui) !== undefined);
  writeFileSync(join(w.stateDir, TOKENS_FILE), '{"tokens": [');
  await within('the error', WITHIN_MS, () => w.logged.some((l) => l.level === 'error'));
  assert.equal(w.logged.at(-1)?.msg, 'tokens.json does not parse: the tokens in force stay');
  assert.equal(w.store.verify(ui)?.id, 'ui');
});

test('a new secret in the admin token file is installed and in force within a few polls', async (t) => {
  const first = 'first-admin-secret-0123456789';
  const w = watched(t, first);
  assert.equal(w.store.verify(first)?.id, 'admin');
  await sleep(2 * POLL_MS);
  const rotated = 'rotated-admin-secret-0123456789';
  writeFileSync(w.adminFile, `${rotated}\n`);
  await within('the rotated secret', WITHIN_MS, () => w.store.verify(rotated)?.id === 'admin');
  assert.equal(w.store.verify(first), undefined);
  assert.ok(w.logged.some((l) => l.obj.why === 'VPNSVC_ADMIN_TOKEN_FILE'));

  writeFileSync(w.adminFile, 'short');
  await within('the refusal', WITHIN_MS, () => w.logged.some((l) => l.level === 'error'));
  // The rotation also rewrote tokens.json, whose own reload may be logged after the refusal.
  assert.equal(
    w.logged.find((l) => l.level === 'error')?.msg,
    'the admin token file changed but cannot be installed: the tokens in force stay',
  );
  assert.ok(!JSON.stringify(w.logged).includes(rotated), 'no secret in the log');
  assert.equal(w.store.verify(rotated)?.id, 'admin');
});

test('after stop() no change reaches the store', async (t) => {
  const w = watched(t);
  await sleep(2 * POLL_MS);
  w.stop();
  const ui = addToken(w.stateDir, 'ui', ['vpnservice']);
  await sleep(10 * POLL_MS);
  assert.equal(w.store.verify(ui), undefined);
  assert.deepEqual(w.logged, []);
});
