# A client app for the protect test: makes an unconnected socket (argv[1] = udp|tcp, family from
# argv[2]) and opens a regular file, prints "<pid> <socket fd> <file fd>", waits for a line on
# stdin (the daemon protects the socket meanwhile), then talks to argv[2]; gives up after 30 s.
import os, socket, sys
kind, addr = sys.argv[1], sys.argv[2]
fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM if kind == 'udp' else socket.SOCK_STREAM)
s.settimeout(1.0)
f = open('/dev/null')
print(os.getpid(), s.fileno(), f.fileno(), flush=True)
import select
select.select([sys.stdin], [], [], 30)
sys.stdin.readline()
try:
    if kind == 'udp':
        s.sendto(b'ping', (addr, 7002)); data = s.recv(100)
    else:
        s.connect((addr, 7001)); data = s.recv(100)
    print('reply', data.decode(), flush=True)
except Exception as e:
    print('fail', type(e).__name__, e, flush=True)
