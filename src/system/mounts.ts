/** Mount points, from /proc/self/mountinfo: a file that is a mount point cannot be replaced by rename (EBUSY). */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** mountinfo escapes space, tab, newline and backslash as octal (\040). */
const unescapeOctal = (field: string) => field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));

/** The mount points listed in a mountinfo text (field 5 of each line). */
export function mountPoints(mountinfo: string): Set<string> {
  const points = new Set<string>();
  for (const line of mountinfo.split('\n')) {
    const field = line.split(' ')[4];
    if (field) points.add(unescapeOctal(field));
  }
  return points;
}

/** Whether `path` itself is a mount point in this process's mount namespace (false when unknown). */
export function isMountPoint(path: string, mountinfo = '/proc/self/mountinfo'): boolean {
  try {
    return mountPoints(readFileSync(mountinfo, 'utf8')).has(resolve(path));
  } catch {
    return false;
  }
}
