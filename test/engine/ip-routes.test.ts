/**
 * changeRoutes / listRoutes / flushRoutes driven directly on a TUN the facade made, inside the
 * test namespace; the kernel's table is read back with `ip -j route`.
 */
import assert from 'node:assert/strict';
import { after, describe, type TestContext, test } from 'node:test';
import { changeRoutes, flushRoutes, listRoutes, MAX_ROUTES_PER_CALL, type RouteTarget } from '../../src/engine/ip-routes.js';
import { type ErrorName, VpnsvcError } from '../../src/errors/errors.js';
import { build } from '../helpers/app.js';
import { ip, ipJson, kernelTestOptions, link } from '../helpers/kernel.js';

const IFACE = 'vsur0';

interface IpRoute {
  dst: string;
  protocol?: string;
}

/** Routes through the interface that vpnsvc (protocol 86) or the user added, as `ip -j` shows them. */
function kernelRoutes(): string[] {
  const show = (...family: string[]) =>
    ipJson<IpRoute[]>(...family, 'route', 'show', 'dev', IFACE)
      .filter((r) => r.protocol !== 'kernel' && (r.dst.startsWith('10.180.') || r.dst.startsWith('fd00:180:')))
      .map((r) => `${r.dst} ${r.protocol ?? 'boot'}`);
  return [...show(), ...show('-6')].sort();
}

function isError(kind: ErrorName, message: RegExp, errno?: string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof VpnsvcError, `a VpnsvcError, got ${String(err)}`);
    assert.equal(err.kind, kind);
    assert.match(err.message, message);
    if (errno) assert.equal(err.errno, errno);
    return true;
  };
}

/** A TUN made by the facade, optionally addressed and up. */
async function tun(t: TestContext, up = true): Promise<RouteTarget> {
  const { vpnsvc } = await build(t);
  await vpnsvc.init(IFACE);
  if (up) {
    await vpnsvc.configure(IFACE, { localIp: '10.180.1.1', remoteIp: '10.180.1.2' });
    await vpnsvc.updateSettings(IFACE);
  }
  return { index: vpnsvc.getIfaceIndex(IFACE), name: IFACE };
}

describe('routes on the kernel', kernelTestOptions(), () => {
  after(() => {
    if (link(IFACE)) ip('link', 'delete', IFACE);
  });

  test('changeRoutes adds and removes IPv4 and IPv6 routes, answering them canonical; listRoutes reads the kernel', async (t) => {
    const target = await tun(t);
    const added = changeRoutes(
      target,
      [
        { address: '10.180.64.0', prefix: 18 },
        { address: 'FD00:180:1:0::', prefix: 48 },
      ],
      true,
      true,
    );
    assert.deepEqual(added, [
      { address: '10.180.64.0', prefix: 18 },
      { address: 'fd00:180:1::', prefix: 48 },
    ]);
    assert.deepEqual(kernelRoutes(), ['10.180.64.0/18 86', 'fd00:180:1::/48 86']);
    ip('route', 'add', '10.180.100.0/24', 'dev', IFACE);
    assert.deepEqual(listRoutes(target.index), added, "only vpnsvc's own routes, not the user's");

    assert.deepEqual(changeRoutes(target, [{ address: 'fd00:180:1::0', prefix: 48 }], false, false), [
      { address: 'fd00:180:1::', prefix: 48 },
    ]);
    assert.deepEqual(kernelRoutes(), ['10.180.100.0/24 boot', '10.180.64.0/18 86']);
    assert.deepEqual(changeRoutes(target, [], true, true), [], 'an empty call changes nothing');
    assert.deepEqual(listRoutes(target.index), [{ address: '10.180.64.0', prefix: 18 }]);
  });

  test('refusals before the kernel: a single route is named as itself, a bulk one by its index', async (t) => {
    const target = await tun(t);
    assert.throws(
      () => changeRoutes(target, [{ address: '10.180.65.1', prefix: 24 }], true, false),
      isError('VPNSVC_ERROR_INVALID_PARAMETER', /^(?!routes\[).*did you mean 10\.180\.65\.0\/24\?/),
    );
    assert.throws(
      () =>
        changeRoutes(
          target,
          [
            { address: '10.180.66.0', prefix: 24 },
            { address: '10.180.65.1', prefix: 24 },
          ],
          true,
          true,
        ),
      isError('VPNSVC_ERROR_INVALID_PARAMETER', /^routes\[1\] .*did you mean 10\.180\.65\.0\/24\?/),
    );
    assert.throws(
      () =>
        changeRoutes(
          target,
          [
            { address: 'fd00:180:1::', prefix: 64 },
            { address: 'FD00:180:1:0::', prefix: 64 },
          ],
          true,
          true,
        ),
      isError('VPNSVC_ERROR_INVALID_PARAMETER', /routes\[1\] fd00:180:1::\/64 repeats routes\[0\]/),
    );
    const tooMany = Array.from({ length: MAX_ROUTES_PER_CALL + 1 }, () => ({ address: '10.180.66.0', prefix: 24 }));
    assert.throws(
      () => changeRoutes(target, tooMany, true, true),
      isError(
        'VPNSVC_ERROR_INVALID_PARAMETER',
        new RegExp(`at most ${MAX_ROUTES_PER_CALL} routes per call, got ${MAX_ROUTES_PER_CALL + 1}`),
      ),
    );
    assert.deepEqual(kernelRoutes(), []);
  });

  test("the kernel's refusals: ours twice, someone else's prefix, an absent route, a down link", async (t) => {
    const target = await tun(t);
    changeRoutes(target, [{ address: '10.180.67.0', prefix: 24 }], true, false);
    assert.throws(
      () => changeRoutes(target, [{ address: '10.180.67.0', prefix: 24 }], true, false),
      isError('VPNSVC_ERROR_INVALID_PARAMETER', /^10\.180\.67\.0\/24 is already a route of "vsur0": EEXIST$/, 'EEXIST'),
    );
    ip('route', 'add', '10.180.68.0/24', 'dev', IFACE);
    assert.throws(
      () => changeRoutes(target, [{ address: '10.180.68.0', prefix: 24 }], true, false),
      isError('VPNSVC_ERROR_INVALID_PARAMETER', /the main table already has a route for this prefix that vpnsvc did not add/, 'EEXIST'),
    );
    assert.throws(
      () => changeRoutes(target, [{ address: '10.180.68.0', prefix: 24 }], false, false),
      isError('VPNSVC_ERROR_NO_SUCH_FILE', /10\.180\.68\.0\/24 is not a route of "vsur0": ESRCH/),
    );
    assert.throws(
      () => changeRoutes(target, [{ address: 'fd00:180:1:69::', prefix: 64 }], false, false),
      isError('VPNSVC_ERROR_NO_SUCH_FILE', /is not a route of "vsur0"/),
    );
    assert.deepEqual(kernelRoutes(), ['10.180.67.0/24 86', '10.180.68.0/24 boot'], "the user's route stays");

    ip('link', 'set', IFACE, 'down');
    assert.throws(
      () => changeRoutes(target, [{ address: '10.180.69.0', prefix: 24 }], true, false),
      isError('VPNSVC_ERROR_INVALID_PARAMETER', /"vsur0" is down/, 'ENETDOWN'),
    );
  });

  test('a bulk the kernel refuses half-way leaves nothing of the batch; flushRoutes takes only ours', async (t) => {
    const target = await tun(t);
    changeRoutes(target, [{ address: '10.180.70.0', prefix: 24 }], true, false);
    ip('route', 'add', '10.180.71.0/24', 'dev', IFACE);
    const before = kernelRoutes();
    const routes = Array.from({ length: 1000 }, (_, i) => ({ address: `10.180.${128 + (i >> 4)}.${(i & 15) << 4}`, prefix: 28 }));
    routes.splice(900, 0, { address: '10.180.70.0', prefix: 24 });
    assert.throws(
      () => changeRoutes(target, routes, true, true),
      isError(
        'VPNSVC_ERROR_INVALID_PARAMETER',
        /^routes\[900\] 10\.180\.70\.0\/24 is already a route of "vsur0"; no route of this call was changed/,
      ),
    );
    assert.deepEqual(kernelRoutes(), before);
    routes.splice(900, 1);
    routes.push({ address: 'fd00:180:1:72::', prefix: 64 });
    assert.equal(changeRoutes(target, routes, true, true).length, 1001);
    assert.equal(listRoutes(target.index).length, 1002);

    flushRoutes(target.index);
    assert.deepEqual(kernelRoutes(), ['10.180.71.0/24 boot'], 'every route of ours went, the user one stayed');
    assert.deepEqual(listRoutes(target.index), []);
    assert.doesNotThrow(() => flushRoutes(target.index), 'nothing left to flush is fine');
  });
});
