/**
 * Errno numbers and names from one table: Node's (Linux values on Linux) plus the few Linux
 * errnos it lacks. The native shim returns -errno; compare with the negated constant.
 */
import { constants } from 'node:os';

/** Linux errnos Node's table lacks (the TUN driver returns EBADFD when the device is gone). */
export const LINUX_ONLY_ERRNOS = { EBADFD: 77, ERESTART: 85 } as const;

export const { EBADFD, ERESTART } = LINUX_ONLY_ERRNOS;

export const { EPERM, ESRCH, EBADF, EACCES, EBUSY, EEXIST, ENODEV, EINVAL, ENOTSOCK, EADDRNOTAVAIL, ENETDOWN } = constants.errno;

const ERRNO_NAMES = new Map<number, string>(
  [...Object.entries(LINUX_ONLY_ERRNOS), ...Object.entries(constants.errno)].map(([name, value]) => [value, name]),
);

/** "EBUSY" for 16 or -16; "errno N" for a number no table knows. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(Math.abs(errno)) ?? `errno ${Math.abs(errno)}`;
}
