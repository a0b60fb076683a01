/*
 * Minimal userspace tunnel baseline: relay packets between two TUN devices
 * living in two network namespaces. Blocking read/write, one packet per
 * syscall, one thread per direction.
 *   c-relay <netnsA> <tunA> <netnsB> <tunB>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <linux/if.h>
#include <linux/if_tun.h>

static int open_tun_in(const char *netns, const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "/run/netns/%s", netns);
    int nsfd = open(path, O_RDONLY | O_CLOEXEC);
    if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0) { perror(path); exit(1); }
    close(nsfd);
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) { perror("/dev/net/tun"); exit(1); }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    if (strlen(name) >= IFNAMSIZ) { fprintf(stderr, "name too long\n"); exit(1); }
    strcpy(ifr.ifr_name, name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); exit(1); }
    return fd;
}

struct pipe_ends { int from, to; };

static void *pump(void *arg)
{
    struct pipe_ends *p = arg;
    static __thread unsigned char buf[65536];
    for (;;) {
        ssize_t n = read(p->from, buf, sizeof buf);
        if (n < 0) { if (errno == EINTR) continue; perror("read"); exit(1); }
        if (write(p->to, buf, (size_t)n) < 0 && errno != EINTR && errno != EINVAL) {
            perror("write"); exit(1);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) { fprintf(stderr, "usage: %s nsA tunA nsB tunB\n", argv[0]); return 2; }
    int a = open_tun_in(argv[1], argv[2]);
    int b = open_tun_in(argv[3], argv[4]);
    struct pipe_ends ab = { a, b }, ba = { b, a };
    pthread_t t1, t2;
    pthread_create(&t1, NULL, pump, &ab);
    pthread_create(&t2, NULL, pump, &ba);
    fprintf(stderr, "c-relay: ready\n");
    pthread_join(t1, NULL);
    return 0;
}
