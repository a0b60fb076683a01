/** The seed's error catalogue: names with Tizen's values, and what a kernel errno stands for. */
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { test } from 'node:test';
import { EBADFD } from '../../src/errors/errno.js';
import {
  ERROR_CODES,
  type ErrorName,
  errnoError,
  invalidParameter,
  ioError,
  noSuchFile,
  notSupported,
  permissionDenied,
  timeout,
  VpnsvcError,
} from '../../src/errors/errors.js';

const { errno } = constants;

test("the catalogue holds the seed's names with Tizen's values", () => {
  assert.deepEqual(ERROR_CODES, {
    VPNSVC_ERROR_INVALID_PARAMETER: -22,
    VPNSVC_ERROR_OUT_OF_MEMORY: -12,
    VPNSVC_ERROR_PERMISSION_DENIED: -13,
    VPNSVC_ERROR_NO_SUCH_FILE: -2,
    VPNSVC_ERROR_IO_ERROR: -5,
    VPNSVC_ERROR_TIMEOUT: -1073741823,
    VPNSVC_ERROR_NOT_SUPPORTED: -1073741822,
    VPNSVC_ERROR_IPC_FAILED: -30081022,
  });
});

test('a VpnsvcError carries its kind, its code and the errno name; the helpers make each kind', () => {
  for (const kind of Object.keys(ERROR_CODES) as ErrorName[]) {
    const err = new VpnsvcError(kind, 'what happened');
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'VpnsvcError');
    assert.equal(err.kind, kind);
    assert.equal(err.code, ERROR_CODES[kind]);
    assert.equal(err.message, 'what happened');
    assert.equal(err.errno, undefined);
  }
  assert.equal(new VpnsvcError('VPNSVC_ERROR_IO_ERROR', 'x', 'EBUSY').errno, 'EBUSY');
  const made: Array<[VpnsvcError, ErrorName]> = [
    [invalidParameter('a'), 'VPNSVC_ERROR_INVALID_PARAMETER'],
    [noSuchFile('b'), 'VPNSVC_ERROR_NO_SUCH_FILE'],
    [notSupported('c'), 'VPNSVC_ERROR_NOT_SUPPORTED'],
    [ioError('d'), 'VPNSVC_ERROR_IO_ERROR'],
    [permissionDenied('e'), 'VPNSVC_ERROR_PERMISSION_DENIED'],
    [timeout('f'), 'VPNSVC_ERROR_TIMEOUT'],
  ];
  for (const [err, kind] of made) assert.equal(err.kind, kind, err.message);
});

test('errnoError: each mapped errno gives its seed kind; anything else is an I/O error', () => {
  const mapped: Array<[number, ErrorName]> = [
    [errno.EINVAL, 'VPNSVC_ERROR_INVALID_PARAMETER'],
    [errno.ENOENT, 'VPNSVC_ERROR_NO_SUCH_FILE'],
    [errno.ENODEV, 'VPNSVC_ERROR_NO_SUCH_FILE'],
    [errno.ESRCH, 'VPNSVC_ERROR_NO_SUCH_FILE'],
    [errno.EPERM, 'VPNSVC_ERROR_PERMISSION_DENIED'],
    [errno.EACCES, 'VPNSVC_ERROR_PERMISSION_DENIED'],
    [errno.ENOMEM, 'VPNSVC_ERROR_OUT_OF_MEMORY'],
    [errno.ENOBUFS, 'VPNSVC_ERROR_OUT_OF_MEMORY'],
    [errno.ETIMEDOUT, 'VPNSVC_ERROR_TIMEOUT'],
    [errno.EOPNOTSUPP, 'VPNSVC_ERROR_NOT_SUPPORTED'],
    [errno.EBUSY, 'VPNSVC_ERROR_IO_ERROR'],
    [errno.EEXIST, 'VPNSVC_ERROR_IO_ERROR'],
    [EBADFD, 'VPNSVC_ERROR_IO_ERROR'],
    [4242, 'VPNSVC_ERROR_IO_ERROR'],
  ];
  for (const [n, kind] of mapped) {
    const err = errnoError(-n, 'set MTU on "vst0"');
    assert.equal(err.kind, kind, `errno ${n}`);
    assert.equal(err.message, `set MTU on "vst0": ${err.errno}`, 'the errno name stays in the message');
  }
  assert.equal(errnoError(-errno.ENODEV, 'x').errno, 'ENODEV');
  assert.equal(errnoError(-4242, 'x').errno, 'errno 4242');
});

test('errnoError: a caller that knows better names the kind; the errno name stays', () => {
  const err = errnoError(-errno.EINVAL, 'set MTU 10 on "vst0"', 'VPNSVC_ERROR_IO_ERROR');
  assert.equal(err.kind, 'VPNSVC_ERROR_IO_ERROR');
  assert.equal(err.errno, 'EINVAL');
  assert.equal(err.message, 'set MTU 10 on "vst0": EINVAL');
  assert.equal(err.code, -5);
});
