/** The interface-name rule, and the two messages that refuse a name with it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as validate from '../../src/engine/validate.js';
import { VpnsvcError } from '../../src/errors/errors.js';
import { checkInterfaceName, IFNAME_MAX, IFNAME_PATTERN, isInterfaceName } from '../../src/system/interface-name.js';
import { checkFirewallInterface } from '../../src/system/nft-ruleset.js';

const GOOD = ['tun0', 'a', '_x', 'wg_corp.1', 'vpn-1', 'x'.repeat(IFNAME_MAX)];
const BAD = ['', '-tun', '.', '..', '.hidden', 'x'.repeat(IFNAME_MAX + 1), 'eth*', 'tun 0', 'tun0\n', 'a/b', 'é', '$(reboot)'];

test('the rule: 1-15 of A-Z a-z 0-9 _ . -, not starting with - or .', () => {
  assert.equal(IFNAME_MAX, 15);
  for (const name of GOOD) assert.ok(isInterfaceName(name) && IFNAME_PATTERN.test(name), name);
  for (const name of BAD) assert.ok(!isInterfaceName(name), JSON.stringify(name));
  assert.equal(isInterfaceName(7), false);
  assert.equal(isInterfaceName(undefined), false);
});

test("the engine's check is this one, with its message", () => {
  assert.equal(validate.checkInterfaceName, checkInterfaceName);
  for (const name of GOOD) assert.equal(checkInterfaceName(name), name);
  assert.throws(
    () => checkInterfaceName('-tun'),
    (err: unknown) =>
      err instanceof VpnsvcError &&
      err.kind === 'VPNSVC_ERROR_INVALID_PARAMETER' &&
      err.message === 'interface name "-tun" is invalid: use 1-15 characters of A-Z a-z 0-9 _ . -, not starting with - or .',
  );
});

test("the firewall's check uses the same rule, with its own message", () => {
  for (const name of GOOD) assert.equal(checkFirewallInterface(name, 'vpnInterface'), name);
  for (const name of BAD) assert.throws(() => checkFirewallInterface(name, 'vpnInterface'), VpnsvcError);
  assert.throws(() => checkFirewallInterface('eth*', 'originalInterface'), {
    message: 'originalInterface "eth*" is not a valid interface name: use 1-15 characters of A-Z a-z 0-9 _ . - (not starting with . or -)',
  });
});
