# Reads the daemon's own TUN fd: takes a copy with pidfd_open + pidfd_getfd (argv[1] pid,
# argv[2] fd), prints "ready", then one "<destination> <protocol>" line per packet until stdin
# closes or argv[3] seconds pass.
import ctypes, os, select, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
pidfd = libc.syscall(434, int(sys.argv[1]), 0)
fd = libc.syscall(438, pidfd, int(sys.argv[2]), 0) if pidfd >= 0 else -1
if fd < 0:
    print('error', os.strerror(ctypes.get_errno()), flush=True)
    sys.exit(1)
print('ready', flush=True)
end = time.time() + float(sys.argv[3])
while time.time() < end:
    r, _, _ = select.select([fd, 0], [], [], 0.05)
    if 0 in r:
        break
    if fd not in r:
        continue
    try:
        p = os.read(fd, 65536)
    except BlockingIOError:
        continue
    v = p[0] >> 4
    if v == 4:
        print(socket.inet_ntop(socket.AF_INET, p[16:20]), p[9], flush=True)
    elif v == 6:
        print(socket.inet_ntop(socket.AF_INET6, p[24:40]), p[6], flush=True)
