/** Profiles on disk: YAML files in the state directory, written atomically, read back through the shape check. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { ProfileStore } from '../../src/engine/profile-store.js';
import { VpnsvcError } from '../../src/errors/errors.js';

const fails = (kind: string, message: RegExp) => (err: unknown) =>
  err instanceof VpnsvcError && err.kind === kind && message.test(err.message);

test('save, get, list, remove; one always-on at a time; a bad file names itself', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-profiles-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new ProfileStore(join(dir, 'profiles'));
  assert.deepEqual(store.list(), []);
  const office = {
    alwaysOn: true,
    interface: { name: 'vpn0', localIp: '10.0.0.1', remoteIp: '10.0.0.2' },
    routes: [{ address: '10.1.0.0', prefix: 16 }],
  };
  assert.equal(store.save('office', office), true);
  assert.equal(store.save('office', office), false, 'replaced');
  assert.deepEqual(store.get('office'), office);
  const file = join(dir, 'profiles', 'office.yaml');
  assert.deepEqual(parse(readFileSync(file, 'utf8')), office);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'profiles')).mode & 0o777, 0o700);
  assert.deepEqual(readdirSync(join(dir, 'profiles')), ['office.yaml'], 'no temporary file left');

  assert.throws(() => store.save('home', { alwaysOn: true }), fails('VPNSVC_ERROR_INVALID_PARAMETER', /"office" is already always-on/));
  assert.equal(store.save('home', { interface: null }), true);
  assert.deepEqual(store.list(), [
    { name: 'home', alwaysOn: false, lockdown: false },
    { name: 'office', alwaysOn: true, lockdown: false },
  ]);
  assert.equal(store.alwaysOn()?.name, 'office');
  assert.throws(() => store.get('../x'), fails('VPNSVC_ERROR_INVALID_PARAMETER', /profile name/));
  assert.throws(() => store.get('nope'), fails('VPNSVC_ERROR_NO_SUCH_FILE', /no profile "nope"/));

  writeFileSync(join(dir, 'profiles', 'broken.yaml'), 'interface: {name: vpn0, colour: red}\n');
  assert.throws(
    () => store.get('broken'),
    fails('VPNSVC_ERROR_IO_ERROR', /broken\.yaml is not a valid profile: interface has an unknown field "colour"/),
  );
  store.remove('home');
  assert.throws(() => store.remove('home'), fails('VPNSVC_ERROR_NO_SUCH_FILE', /no profile "home"/));
});
