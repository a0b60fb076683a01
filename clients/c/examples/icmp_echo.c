/*
 * vpnsvc-echo: an unprivileged VPN application. It brings up a VPN with libcapi-vpnsvc and is
 * itself the tunnel's remote end, in the smallest way: it answers the ICMP echo requests that
 * the kernel routes into the TUN to the peer address, by writing the replies back. So
 * `ping PEER` works through the tunnel with nothing but this program on the other side.
 *
 *   vpnsvc-echo IFACE LOCAL_IP PEER_IP [SECONDS]     (default 30 s; the daemon from VPNSVC_URL)
 */
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vpn_service.h>

static uint16_t checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t sum = 0;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)(p[0] << 8 | p[1]);
	if (len)
		sum += (uint32_t)(p[0] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

/* Turns an IPv4 echo request into its reply in place; 0 when the packet is not one. */
static int echo_reply(uint8_t *pkt, size_t len)
{
	struct iphdr *ip = (struct iphdr *)pkt;
	struct icmphdr *icmp;
	size_t hl;
	uint32_t addr;

	if (len < sizeof(*ip) || ip->version != 4 || ip->protocol != IPPROTO_ICMP)
		return 0;
	hl = (size_t)ip->ihl * 4;
	if (hl < sizeof(*ip) || len < hl + sizeof(*icmp) || ntohs(ip->tot_len) > len)
		return 0;
	icmp = (struct icmphdr *)(pkt + hl);
	if (icmp->type != ICMP_ECHO)
		return 0;
	/* swapping the addresses leaves the header checksum as it was */
	addr = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = addr;
	icmp->type = ICMP_ECHOREPLY;
	icmp->checksum = 0;
	icmp->checksum = checksum(icmp, ntohs(ip->tot_len) - hl);
	return 1;
}

int main(int argc, char **argv)
{
	vpnsvc_h vpn = NULL;
	char *name = NULL;
	uint8_t pkt[65536];
	int fd, rc, seconds = argc > 4 ? atoi(argv[4]) : 30;
	long answered = 0;
	time_t end;

	if (argc < 4) {
		fprintf(stderr, "usage: %s IFACE LOCAL_IP PEER_IP [SECONDS]\n", argv[0]);
		return 2;
	}
	if ((rc = vpnsvc_init(argv[1], &vpn)) != VPNSVC_ERROR_NONE) {
		fprintf(stderr, "vpnsvc_init: %d\n", rc);
		return 1;
	}
	if ((rc = vpnsvc_set_local_ip_address(vpn, argv[2])) != VPNSVC_ERROR_NONE ||
	    (rc = vpnsvc_set_remote_ip_address(vpn, argv[3])) != VPNSVC_ERROR_NONE ||
	    (rc = vpnsvc_set_session(vpn, "vpnsvc-echo")) != VPNSVC_ERROR_NONE || (rc = vpnsvc_update_settings(vpn)) != VPNSVC_ERROR_NONE ||
	    (rc = vpnsvc_get_iface_fd(vpn, &fd)) != VPNSVC_ERROR_NONE || (rc = vpnsvc_get_iface_name(vpn, &name)) != VPNSVC_ERROR_NONE) {
		fprintf(stderr, "setting up the VPN: %d\n", rc);
		vpnsvc_deinit(vpn);
		return 1;
	}
	printf("ready %s %s peer %s (uid %d)\n", name, argv[2], argv[3], (int)getuid());
	fflush(stdout);
	free(name);
	end = time(NULL) + seconds;
	while (time(NULL) < end) {
		ssize_t n;

		rc = vpnsvc_read(vpn, 200);
		if (rc == VPNSVC_ERROR_TIMEOUT)
			continue;
		if (rc != VPNSVC_ERROR_NONE)
			break;
		n = read(fd, pkt, sizeof(pkt));
		if (n > 0 && echo_reply(pkt, (size_t)n) && vpnsvc_write(vpn, (const char *)pkt, (size_t)n) == n) {
			answered++;
			printf("echo reply %ld\n", answered);
			fflush(stdout);
		}
	}
	rc = vpnsvc_deinit(vpn);
	printf("answered %ld, deinit %d\n", answered, rc);
	return rc == VPNSVC_ERROR_NONE ? 0 : 1;
}
