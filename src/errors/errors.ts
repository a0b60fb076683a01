import { errnoName } from './errno.js';

export { errnoName } from './errno.js';

/**
 * The seed's error catalogue. Values are Tizen's (see shared REFERENCE): the engine and the
 * system layer throw these by name; only the HTTP error handler turns them into a status.
 */
export const ERROR_CODES = {
  VPNSVC_ERROR_INVALID_PARAMETER: -22,
  VPNSVC_ERROR_OUT_OF_MEMORY: -12,
  VPNSVC_ERROR_PERMISSION_DENIED: -13,
  VPNSVC_ERROR_NO_SUCH_FILE: -2,
  VPNSVC_ERROR_IO_ERROR: -5,
  VPNSVC_ERROR_TIMEOUT: -1073741823,
  VPNSVC_ERROR_NOT_SUPPORTED: -1073741822,
  VPNSVC_ERROR_IPC_FAILED: -30081022,
} as const;

export type ErrorName = keyof typeof ERROR_CODES;

export class VpnsvcError extends Error {
  readonly kind: ErrorName;
  /** errno name when the failure came from the kernel, e.g. "EBUSY". */
  readonly errno: string | undefined;

  constructor(kind: ErrorName, message: string, errno?: string) {
    super(message);
    this.name = 'VpnsvcError';
    this.kind = kind;
    this.errno = errno;
  }

  get code(): number {
    return ERROR_CODES[this.kind];
  }
}

export const invalidParameter = (message: string): VpnsvcError => new VpnsvcError('VPNSVC_ERROR_INVALID_PARAMETER', message);
export const noSuchFile = (message: string): VpnsvcError => new VpnsvcError('VPNSVC_ERROR_NO_SUCH_FILE', message);
export const notSupported = (message: string): VpnsvcError => new VpnsvcError('VPNSVC_ERROR_NOT_SUPPORTED', message);
export const ioError = (message: string): VpnsvcError => new VpnsvcError('VPNSVC_ERROR_IO_ERROR', message);
export const permissionDenied = (message: string): VpnsvcError => new VpnsvcError('VPNSVC_ERROR_PERMISSION_DENIED', message);
export const timeout = (message: string): VpnsvcError => new VpnsvcError('VPNSVC_ERROR_TIMEOUT', message);

/** Which seed error a kernel errno stands for; anything unlisted is an I/O error. */
const ERRNO_KIND: Record<string, ErrorName> = {
  EINVAL: 'VPNSVC_ERROR_INVALID_PARAMETER',
  ENOENT: 'VPNSVC_ERROR_NO_SUCH_FILE',
  ENODEV: 'VPNSVC_ERROR_NO_SUCH_FILE',
  ESRCH: 'VPNSVC_ERROR_NO_SUCH_FILE',
  EPERM: 'VPNSVC_ERROR_PERMISSION_DENIED',
  EACCES: 'VPNSVC_ERROR_PERMISSION_DENIED',
  ENOMEM: 'VPNSVC_ERROR_OUT_OF_MEMORY',
  ENOBUFS: 'VPNSVC_ERROR_OUT_OF_MEMORY',
  ETIMEDOUT: 'VPNSVC_ERROR_TIMEOUT',
  EOPNOTSUPP: 'VPNSVC_ERROR_NOT_SUPPORTED',
};

/**
 * Turns a -errno returned by the native shim into a typed error. The errno name stays in the
 * message so an operator can tell EBUSY from EPERM without reading the source.
 */
export function errnoError(errno: number, what: string, kind?: ErrorName): VpnsvcError {
  const name = errnoName(errno);
  return new VpnsvcError(kind ?? ERRNO_KIND[name] ?? 'VPNSVC_ERROR_IO_ERROR', `${what}: ${name}`, name);
}
