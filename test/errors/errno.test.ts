/** One errno table: the names the code compares with, and the names errors carry. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as errno from '../../src/errors/errno.js';
import { errnoError, errnoName } from '../../src/errors/errors.js';

test('the named errnos have their Linux values', () => {
  const linux = {
    EPERM: 1,
    ESRCH: 3,
    EBADF: 9,
    EACCES: 13,
    EBUSY: 16,
    EEXIST: 17,
    ENODEV: 19,
    EINVAL: 22,
    EBADFD: 77,
    ERESTART: 85,
    ENOTSOCK: 88,
    EADDRNOTAVAIL: 99,
    ENETDOWN: 100,
  };
  // biome-ignore lint/performance/noDynamicNamespaceImportAccess: the test walks the module's table
  for (const [name, value] of Object.entries(linux)) assert.equal(errno[name as keyof typeof linux], value, name);
});

test('names for -errno and errno, Linux-only ones included; errors.ts re-exports the same function', () => {
  assert.equal(errnoName(-errno.EBUSY), 'EBUSY');
  assert.equal(errnoName(errno.ENODEV), 'ENODEV');
  assert.equal(errno.errnoName(-77), 'EBADFD');
  assert.equal(errno.errnoName(-85), 'ERESTART');
  assert.equal(errno.errnoName(-4242), 'errno 4242');
  assert.equal(errnoName, errno.errnoName);
});

test('a kernel error keeps its errno name and maps to the seed kind', () => {
  const err = errnoError(-errno.EBADFD, 'read from "tun0"');
  assert.equal(err.message, 'read from "tun0": EBADFD');
  assert.equal(err.errno, 'EBADFD');
  assert.equal(err.kind, 'VPNSVC_ERROR_IO_ERROR');
  assert.equal(errnoError(-errno.EPERM, 'x').kind, 'VPNSVC_ERROR_PERMISSION_DENIED');
  assert.equal(errnoError(-errno.ENODEV, 'x').kind, 'VPNSVC_ERROR_NO_SUCH_FILE');
});
