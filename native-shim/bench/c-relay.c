/*
 * The benchmark's baseline: a minimal userspace tunnel relaying packets between two existing
 * TUN devices in two network namespaces. Blocking read/write, one packet per syscall, one
 * thread per direction.
 *   c-relay <netnsA> <tunA> <netnsB> <tunB> [gso]
 * With "gso" both TUNs get IFF_VNET_HDR and TCP/checksum offloads (TUNSETOFFLOAD): the kernel
 * hands over up to 64 KiB TCP super-packets with a virtio_net_hdr, and the relay passes them on
 * whole. That is the road past the per-packet limit (wireguard-go's); the plain mode is what a
 * per-packet tunnel can do.
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

static int gso;

static int open_tun_in(const char *netns, const char *name)
{
	char path[256];
	struct ifreq ifr;
	int nsfd, fd;

	snprintf(path, sizeof path, "/run/netns/%s", netns);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
		perror(path);
		exit(1);
	}
	close(nsfd);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror("/dev/net/tun");
		exit(1);
	}
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (gso ? IFF_VNET_HDR : 0);
	if (strlen(name) >= IFNAMSIZ) {
		fprintf(stderr, "c-relay: name too long: %s\n", name);
		exit(1);
	}
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		perror("TUNSETIFF");
		exit(1);
	}
	if (gso && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) {
		perror("TUNSETOFFLOAD");
		exit(1);
	}
	return fd;
}

struct pipe_ends {
	int from, to;
};

static void *pump(void *arg)
{
	struct pipe_ends *p = arg;
	/* 64 KiB packet + virtio_net_hdr */
	static __thread unsigned char buf[65536 + 64];

	for (;;) {
		ssize_t n = read(p->from, buf, sizeof buf);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("read");
			exit(1);
		}
		/* A refused packet (EINVAL, EIO while the link is down) is dropped, as a tunnel would. */
		if (write(p->to, buf, (size_t)n) < 0 && errno != EINTR && errno != EINVAL && errno != EIO) {
			perror("write");
			exit(1);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct pipe_ends ab, ba;
	pthread_t t1, t2;
	int a, b;

	if (argc != 5 && !(argc == 6 && strcmp(argv[5], "gso") == 0)) {
		fprintf(stderr, "usage: %s <netnsA> <tunA> <netnsB> <tunB> [gso]\n", argv[0]);
		return 2;
	}
	gso = argc == 6;
	a = open_tun_in(argv[1], argv[2]);
	b = open_tun_in(argv[3], argv[4]);
	ab = (struct pipe_ends){ a, b };
	ba = (struct pipe_ends){ b, a };
	pthread_create(&t1, NULL, pump, &ab);
	pthread_create(&t2, NULL, pump, &ba);
	fprintf(stderr, "c-relay: ready%s\n", gso ? " (gso)" : "");
	pthread_join(t1, NULL);
	return 0;
}
