/**
 * The CLI's document and profile commands against the real app (build(t), listening on
 * loopback) over the real engine in the test namespace: a YAML file planned as a readable diff,
 * applied, confirmed; profiles saved, listed, shown, brought up and removed. Outcomes are read
 * back from the kernel.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { renderPlan } from '../../src/cli/commands/profiles.js';
import { build, TOKENS } from '../helpers/app.js';
import { cli } from '../helpers/cli.js';
import { ip, kernelTestOptions, link } from '../helpers/kernel.js';

const IFACE = 'vcfc0';
const OFFICE = {
  alwaysOn: false,
  interface: { name: IFACE, localIp: '10.193.0.1', remoteIp: '10.193.0.2', mtu: 1400 },
  routes: [{ address: '10.193.10.0', prefix: 24 }],
  dns: { servers: ['10.193.0.53'] },
};

test('the plan prints as a diff: + added, - removed, ~ changed, and what happens next', () => {
  const text = renderPlan({
    dryRun: false,
    applied: true,
    confirm: { deadline: '2030-01-01T00:00:00.000Z', withinS: 60 },
    steps: [
      {
        op: 'interface.settings',
        summary: 'change the settings of vpn0',
        changes: [{ what: 'interface vpn0 mtu', from: '1500', to: '1400' }],
      },
      {
        op: 'routes.add',
        summary: 'add 1 route through vpn0',
        changes: [{ what: 'route 10.1.0.0/16', from: null, to: '10.1.0.0/16' }],
      },
      {
        op: 'routes.remove',
        summary: 'remove 1 route through vpn0',
        changes: [{ what: 'route 10.2.0.0/16', from: '10.2.0.0/16', to: null }],
      },
    ],
  });
  assert.equal(
    text,
    [
      'interface.settings: change the settings of vpn0',
      '  ~ interface vpn0 mtu: 1500 -> 1400',
      'routes.add: add 1 route through vpn0',
      '  + route 10.1.0.0/16',
      'routes.remove: remove 1 route through vpn0',
      '  - route 10.2.0.0/16',
      '',
      'applied; reverts at 2030-01-01T00:00:00.000Z unless confirmed: vpnsvc config confirm',
    ].join('\n'),
  );
  assert.equal(renderPlan({ dryRun: true, applied: false, confirm: null, steps: [] }), 'no changes: the host already matches the document');
});

describe('the commands against the daemon', kernelTestOptions(), () => {
  after(() => {
    if (link(IFACE)) ip('link', 'delete', IFACE);
  });

  test('apply -f FILE --dry-run, apply, --confirm-within and config confirm, up -f, profile save/list/show/up/rm', async (t) => {
    const { app } = await build(t);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const env = { VPNSVC_URL: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, VPNSVC_TOKEN: TOKENS.admin };
    const dir = mkdtempSync(join(tmpdir(), 'vpnsvc-cli-profiles-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'office.yaml');
    writeFileSync(file, stringify(OFFICE));

    const dry = await cli(['apply', '-f', file, '--dry-run'], env);
    assert.equal(dry.code, 0, dry.err);
    assert.match(dry.out, /^interface\.create: create the VPN interface vcfc0 and bring it up\n {2}\+ interface vcfc0\n/);
    assert.match(dry.out, / {2}\+ interface vcfc0 mtu 1400\n/);
    assert.match(dry.out, /routes\.add: add 1 route through vcfc0\n {2}\+ route 10\.193\.10\.0\/24\n/);
    assert.match(dry.out, /dry run: nothing was changed/);
    assert.equal(link(IFACE), undefined);

    const applied = await cli(['apply', '-f', file, '--confirm-within', '30'], env);
    assert.equal(applied.code, 0, applied.err);
    assert.match(applied.out, /unless confirmed: vpnsvc config confirm/);
    assert.equal(link(IFACE)?.mtu, 1400);
    const confirmed = await cli(['config', 'confirm'], env);
    assert.equal(confirmed.code, 0, confirmed.err);
    assert.match(confirmed.out, /confirmed/);
    const none = await cli(['config', 'confirm'], env);
    assert.equal(none.code, 12, 'NO_SUCH_FILE: nothing awaits confirmation');

    const shown = await cli(['config', 'show'], env);
    assert.equal(parse(shown.out).interface.mtu, 1400);
    const same = await cli(['up', '-f', file], env);
    assert.equal(same.code, 0, same.err);
    assert.match(same.out, /no changes: the host already matches/);

    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, stringify({ ...OFFICE, routs: [] }));
    const refused = await cli(['apply', '-f', bad], env);
    assert.equal(refused.code, 10, 'INVALID_PARAMETER');
    assert.match(refused.err, /routs/);

    assert.equal((await cli(['profile', 'save', 'office', '-f', file, '--always-on'], env)).code, 0);
    assert.match((await cli(['profile', 'list'], env)).out, /^office {2}always-on$/m);
    assert.equal(parse((await cli(['profile', 'show', 'office'], env)).out).alwaysOn, true);
    assert.equal((await cli(['config', 'show'], env)).code, 0);
    await cli(['apply', '-f', file], env);
    writeFileSync(file, stringify({ interface: null }));
    assert.equal((await cli(['apply', '-f', file], env)).code, 0);
    assert.equal(link(IFACE), undefined);
    const up = await cli(['profile', 'up', 'office'], env);
    assert.equal(up.code, 0, up.err);
    assert.ok(link(IFACE), 'profile up applied it');
    assert.equal((await cli(['profile', 'rm', 'office'], env)).code, 0);
    assert.equal((await cli(['profile', 'show', 'office'], env)).code, 12);
  });
});
