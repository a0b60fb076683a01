/*
 * The 21 functions of vpn_service.h. The handle lives in the application: the interface's
 * name and index, the TUN fd received from the daemon, and what the setters stored until
 * vpnsvc_update_settings sends it (Tizen's behaviour: setters only store).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "vpn_service_ext.h"

#define API __attribute__((visibility("default")))

#define DEFAULT_MTU 1500
#define MTU_MIN 68
#define MTU_MAX 65535
#define DEFAULT_SESSION "VPN_Session"
#define SESSION_MAX 31
#define ALLOW_MAX 255

struct vpnsvc {
	struct vs_endpoint ep;
	char name[IFNAMSIZ];
	int index;
	int fd;
	int mtu;
	char local_ip[INET_ADDRSTRLEN];
	char remote_ip[INET_ADDRSTRLEN];
	/* "addr/prefix"; empty with local_ip6_set: remove it at the next update_settings. */
	char local_ip6[INET6_ADDRSTRLEN + 4];
	int local_ip6_set;
	char session[SESSION_MAX + 1];
};

/* The feature check of a call without a (usable) handle: its own endpoint, for one question. */
static int feature_without_handle(void)
{
	struct vs_endpoint ep;
	int rc = vs_endpoint_open(&ep);

	if (rc != VPNSVC_ERROR_NONE)
		return rc;
	rc = vs_require_feature(&ep);
	vs_endpoint_close(&ep);
	return rc;
}

/* Every call: the feature first (as Tizen), then the handle, before any other argument. */
#define CHECK_HANDLE(h)                                        \
	do {                                                   \
		if ((h) == NULL) {                             \
			int frc_ = feature_without_handle();   \
			return frc_ != VPNSVC_ERROR_NONE ? frc_ : VPNSVC_ERROR_INVALID_PARAMETER; \
		}                                              \
		int frc_ = vs_require_feature(&(h)->ep);       \
		if (frc_ != VPNSVC_ERROR_NONE)                 \
			return frc_;                           \
	} while (0)

static int is_ipv4(const char *s)
{
	struct in_addr a;

	return s != NULL && inet_pton(AF_INET, s, &a) == 1;
}

static int valid_ifname(const char *s)
{
	size_t len;

	if (s == NULL)
		return 0;
	len = strnlen(s, IFNAMSIZ);
	return len > 0 && len < IFNAMSIZ;
}

/* An interface name for a path: A-Z a-z 0-9 _ . - only, as the daemon allows. */
static int path_safe(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return 0;
	return 1;
}

static int json_int_field(json_object *obj, const char *key, int *out)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	*out = json_object_get_int(v);
	return 1;
}

API int vpnsvc_init(const char *iface_name, vpnsvc_h *handle)
{
	struct vpnsvc *h;
	json_object *req, *iface = NULL, *name;
	char path[64];
	int rc;

	rc = feature_without_handle();
	if (rc != VPNSVC_ERROR_NONE)
		return rc;
	if (handle == NULL || !valid_ifname(iface_name) || !path_safe(iface_name))
		return VPNSVC_ERROR_INVALID_PARAMETER;
	h = calloc(1, sizeof(*h));
	if (!h)
		return VPNSVC_ERROR_OUT_OF_MEMORY;
	h->fd = -1;
	h->mtu = DEFAULT_MTU;
	snprintf(h->session, sizeof(h->session), "%s", DEFAULT_SESSION);
	rc = vs_endpoint_open(&h->ep);
	if (rc != VPNSVC_ERROR_NONE) {
		free(h);
		return rc;
	}
	req = json_object_new_object();
	if (!req) {
		rc = VPNSVC_ERROR_OUT_OF_MEMORY;
		goto fail;
	}
	json_object_object_add(req, "name", json_object_new_string(iface_name));
	rc = vs_request(&h->ep, "POST", "/interfaces", req, &iface);
	json_object_put(req);
	if (rc != VPNSVC_ERROR_NONE)
		goto fail;
	if (!json_object_object_get_ex(iface, "name", &name) || !json_object_is_type(name, json_type_string) ||
	    !valid_ifname(json_object_get_string(name)) || !json_int_field(iface, "index", &h->index)) {
		json_object_put(iface);
		rc = VPNSVC_ERROR_IPC_FAILED;
		goto fail;
	}
	snprintf(h->name, sizeof(h->name), "%s", json_object_get_string(name));
	json_object_put(iface);
	rc = vs_fd_exchange(&h->ep, "tun-fd", h->name, -1, &h->fd);
	if (rc != VPNSVC_ERROR_NONE) {
		/* no half-made VPN: the interface goes again */
		snprintf(path, sizeof(path), "/interfaces/%s", h->name);
		vs_request(&h->ep, "DELETE", path, NULL, NULL);
		goto fail;
	}
	*handle = h;
	return VPNSVC_ERROR_NONE;
fail:
	vs_endpoint_close(&h->ep);
	free(h);
	return rc;
}

API int vpnsvc_deinit(vpnsvc_h handle)
{
	struct vpnsvc *h = handle;
	json_object *iface = NULL;
	char path[64];
	int rc, index;

	CHECK_HANDLE(h);
	if (h->fd >= 0)
		close(h->fd);
	snprintf(path, sizeof(path), "/interfaces/%s", h->name);
	/* A later init may have replaced ours with one of the same name: that one is not ours to remove. */
	rc = vs_request(&h->ep, "GET", path, NULL, &iface);
	if (rc == VPNSVC_ERROR_NONE && json_int_field(iface, "index", &index) && index == h->index)
		rc = vs_request(&h->ep, "DELETE", path, NULL, NULL);
	else if (rc == VPNSVC_ERROR_NONE)
		rc = VPNSVC_ERROR_NO_SUCH_FILE;
	json_object_put(iface);
	if (rc == VPNSVC_ERROR_NO_SUCH_FILE)
		rc = VPNSVC_ERROR_NONE;
	vs_endpoint_close(&h->ep);
	free(h);
	return rc;
}

API int vpnsvc_protect(vpnsvc_h handle, int socket_fd, const char *iface_name)
{
	struct vpnsvc *h = handle;

	CHECK_HANDLE(h);
	if (socket_fd < 0 || !valid_ifname(iface_name) || !path_safe(iface_name))
		return VPNSVC_ERROR_INVALID_PARAMETER;
	return vs_fd_exchange(&h->ep, "protect", iface_name, socket_fd, NULL);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

API int vpnsvc_read(vpnsvc_h handle, int timeout_ms)
{
	struct vpnsvc *h = handle;
	struct pollfd pfd;
	long long deadline;
	int rc;

	CHECK_HANDLE(h);
	if (timeout_ms < 0)
		return VPNSVC_ERROR_INVALID_PARAMETER;
	/* poll takes milliseconds as they are: no conversion that could overflow */
	deadline = now_ms() + timeout_ms;
	for (;;) {
		long long left = deadline - now_ms();

		pfd.fd = h->fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		rc = poll(&pfd, 1, left > 0 ? (int)left : 0);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			return VPNSVC_ERROR_IO_ERROR;
		if (rc == 0)
			return VPNSVC_ERROR_TIMEOUT;
		if (pfd.revents & POLLIN)
			return VPNSVC_ERROR_NONE;
		return VPNSVC_ERROR_IO_ERROR;
	}
}

API int vpnsvc_write(vpnsvc_h handle, const char *data, size_t size)
{
	struct vpnsvc *h = handle;
	ssize_t n;

	CHECK_HANDLE(h);
	if (data == NULL || size == 0 || size > INT_MAX)
		return VPNSVC_ERROR_INVALID_PARAMETER;
	n = write(h->fd, data, size);
	return n < 0 ? VPNSVC_ERROR_IO_ERROR : (int)n;
}

/* [{address, prefix}...] from the seed's parallel arrays, or NULL when they do not hold `count`. */
static json_object *allow_list(char *addrs[], int prefixes[], size_t count)
{
	json_object *list;
	size_t i;

	if (count > ALLOW_MAX || (count > 0 && (addrs == NULL || prefixes == NULL)))
		return NULL;
	list = json_object_new_array();
	for (i = 0; list && i < count; i++) {
		json_object *net;

		if (addrs[i] == NULL || prefixes[i] < 0 || prefixes[i] > 128 || !(net = json_object_new_object())) {
			json_object_put(list);
			return NULL;
		}
		json_object_object_add(net, "address", json_object_new_string(addrs[i]));
		json_object_object_add(net, "prefix", json_object_new_int(prefixes[i]));
		json_object_array_add(list, net);
	}
	return list;
}

API int vpnsvc_block_networks(vpnsvc_h handle, char *routes_dest_vpn_addr[], int routes_vpn_prefix[], size_t num_allow_routes_vpn,
			      char *routes_dest_orig_addr[], int routes_orig_prefix[], size_t num_allow_routes_orig)
{
	struct vpnsvc *h = handle;
	json_object *vpn, *orig, *body;
	int rc;

	CHECK_HANDLE(h);
	vpn = allow_list(routes_dest_vpn_addr, routes_vpn_prefix, num_allow_routes_vpn);
	orig = allow_list(routes_dest_orig_addr, routes_orig_prefix, num_allow_routes_orig);
	body = json_object_new_object();
	if (!vpn || !orig || !body) {
		json_object_put(vpn);
		json_object_put(orig);
		json_object_put(body);
		return VPNSVC_ERROR_INVALID_PARAMETER;
	}
	json_object_object_add(body, "allowVpn", vpn);
	json_object_object_add(body, "allowOriginal", orig);
	rc = vs_request(&h->ep, "PUT", "/firewall", body, NULL);
	json_object_put(body);
	return rc;
}

API int vpnsvc_unblock_networks(vpnsvc_h handle)
{
	struct vpnsvc *h = handle;

	CHECK_HANDLE(h);
	return vs_request(&h->ep, "DELETE", "/firewall", NULL, NULL);
}

API int vpnsvc_update_settings(vpnsvc_h handle)
{
	struct vpnsvc *h = handle;
	json_object *body;
	char path[64];
	int rc;

	CHECK_HANDLE(h);
	if (h->local_ip[0] == '\0' || h->remote_ip[0] == '\0')
		return VPNSVC_ERROR_INVALID_PARAMETER;
	body = json_object_new_object();
	if (!body)
		return VPNSVC_ERROR_OUT_OF_MEMORY;
	json_object_object_add(body, "mtu", json_object_new_int(h->mtu));
	json_object_object_add(body, "localIp", json_object_new_string(h->local_ip));
	json_object_object_add(body, "remoteIp", json_object_new_string(h->remote_ip));
	json_object_object_add(body, "session", json_object_new_string(h->session));
	if (h->local_ip6_set)
		json_object_object_add(body, "localIp6", h->local_ip6[0] ? json_object_new_string(h->local_ip6) : NULL);
	snprintf(path, sizeof(path), "/interfaces/%s", h->name);
	rc = vs_request(&h->ep, "PATCH", path, body, NULL);
	json_object_put(body);
	if (rc == VPNSVC_ERROR_NONE) {
		snprintf(path, sizeof(path), "/interfaces/%s/apply", h->name);
		rc = vs_request(&h->ep, "POST", path, NULL, NULL);
	}
	/* the values passed the setters: a refusal now is the apply's (e.g. a multicast address) */
	return rc == VPNSVC_ERROR_INVALID_PARAMETER ? VPNSVC_ERROR_IO_ERROR : rc;
}

API int vpnsvc_get_iface_fd(vpnsvc_h handle, int *iface_fd)
{
	struct vpnsvc *h = handle;

	CHECK_HANDLE(h);
	if (iface_fd == NULL)
		return VPNSVC_ERROR_INVALID_PARAMETER;
	*iface_fd = h->fd;
	return VPNSVC_ERROR_NONE;
}

API int vpnsvc_get_iface_index(vpnsvc_h handle, int *iface_index)
{
	struct vpnsvc *h = handle;

	CHECK_HANDLE(h);
	if (iface_index == NULL)
		return VPNSVC_ERROR_INVALID_PARAMETER;
	*iface_index = h->index;
	return VPNSVC_ERROR_NONE;
}

API int vpnsvc_get_iface_name(vpnsvc_h handle, char **iface_name)
{
	struct vpnsvc *h = handle;

	CHECK_HANDLE(h);
	if (iface_name == NULL)
		return VPNSVC_ERROR_INVALID_PARAMETER;
	*iface_name = strdup(h->name);
	return *iface_name ? VPNSVC_ERROR_NONE : VPNSVC_ERROR_OUT_OF_MEMORY;
}

API int vpnsvc_set_mtu(vpnsvc_h handle, int mtu)
{
	struct vpnsvc *h = handle;

	CHECK_HANDLE(h);
	if (mtu < MTU_MIN || mtu > MTU_MAX)
		return VPNSVC_ERROR_INVALID_PARAMETER;
	h->mtu = mtu;
	return VPNSVC_ERROR_NONE;
}

API int vpnsvc_set_blocking(vpnsvc_h handle, bool blocking)
{
	struct vpnsvc *h = handle;
	int flags;

	CHECK_HANDLE(h);
	flags = fcntl(h->fd, F_GETFL);
	if (flags < 0)
		return VPNSVC_ERROR_IO_ERROR;
	flags = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
	return fcntl(h->fd, F_SETFL, flags) < 0 ? VPNSVC_ERROR_IO_ERROR : VPNSVC_ERROR_NONE;
}

API int vpnsvc_set_session(vpnsvc_h handle, const char *session)
{
	struct vpnsvc *h = handle;
	size_t len, i;

	CHECK_HANDLE(h);
	if (session == NULL)
		return VPNSVC_ERROR_INVALID_PARAMETER;
	len = strnlen(session, SESSION_MAX + 1);
	if (len == 0 || len > SESSION_MAX)
		return VPNSVC_ERROR_INVALID_PARAMETER;
	for (i = 0; i < len; i++)
		if ((unsigned char)session[i] < 0x20 || session[i] == 0x7f)
			return VPNSVC_ERROR_INVALID_PARAMETER;
	memcpy(h->session, session, len + 1);
	return VPNSVC_ERROR_NONE;
}

API int vpnsvc_get_session(vpnsvc_h handle, char **session)
{
	struct vpnsvc *h = handle;

	CHECK_HANDLE(h);
	if (session == NULL)
		return VPNSVC_ERROR_INVALID_PARAMETER;
	*session = strdup(h->session);
	return *session ? VPNSVC_ERROR_NONE : VPNSVC_ERROR_OUT_OF_MEMORY;
}

static int set_address(char *slot, const char *ip)
{
	if (!is_ipv4(ip))
		return VPNSVC_ERROR_INVALID_PARAMETER;
	snprintf(slot, INET_ADDRSTRLEN, "%s", ip);
	return VPNSVC_ERROR_NONE;
}

API int vpnsvc_set_local_ip_address(vpnsvc_h handle, const char *local_ip)
{
	struct vpnsvc *h = handle;

	CHECK_HANDLE(h);
	return set_address(h->local_ip, local_ip);
}

API int vpnsvc_set_local_ip6_address(vpnsvc_h handle, const char *local_ip6)
{
	struct vpnsvc *h = handle;
	struct in6_addr addr;
	char text[INET6_ADDRSTRLEN];
	const char *slash;
	char *end;
	long prefix;
	size_t len;

	CHECK_HANDLE(h);
	if (local_ip6 == NULL) {
		h->local_ip6[0] = '\0';
		h->local_ip6_set = 1;
		return VPNSVC_ERROR_NONE;
	}
	slash = strchr(local_ip6, '/');
	if (!slash || slash[1] < '0' || slash[1] > '9')
		return VPNSVC_ERROR_INVALID_PARAMETER;
	len = (size_t)(slash - local_ip6);
	if (len == 0 || len >= sizeof(text))
		return VPNSVC_ERROR_INVALID_PARAMETER;
	memcpy(text, local_ip6, len);
	text[len] = '\0';
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	if (errno || *end != '\0' || prefix < 0 || prefix > 128 || inet_pton(AF_INET6, text, &addr) != 1)
		return VPNSVC_ERROR_INVALID_PARAMETER;
	snprintf(h->local_ip6, sizeof(h->local_ip6), "%s/%ld", text, prefix);
	h->local_ip6_set = 1;
	return VPNSVC_ERROR_NONE;
}

API int vpnsvc_set_remote_ip_address(vpnsvc_h handle, const char *remote_ip)
{
	struct vpnsvc *h = handle;

	CHECK_HANDLE(h);
	return set_address(h->remote_ip, remote_ip);
}

static int route(struct vpnsvc *h, const char *address, int prefix, int add)
{
	json_object *body;
	char path[96];
	int rc;

	if (!is_ipv4(address) || prefix < 0 || prefix > 32)
		return VPNSVC_ERROR_INVALID_PARAMETER;
	if (!add) {
		snprintf(path, sizeof(path), "/routes/%s/%d", address, prefix);
		return vs_request(&h->ep, "DELETE", path, NULL, NULL);
	}
	body = json_object_new_object();
	if (!body)
		return VPNSVC_ERROR_OUT_OF_MEMORY;
	json_object_object_add(body, "address", json_object_new_string(address));
	json_object_object_add(body, "prefix", json_object_new_int(prefix));
	rc = vs_request(&h->ep, "POST", "/routes", body, NULL);
	json_object_put(body);
	return rc;
}

API int vpnsvc_add_route(vpnsvc_h handle, const char *route_address, int prefix)
{
	struct vpnsvc *h = handle;

	CHECK_HANDLE(h);
	return route(h, route_address, prefix, 1);
}

API int vpnsvc_remove_route(vpnsvc_h handle, const char *route_address, int prefix)
{
	struct vpnsvc *h = handle;

	CHECK_HANDLE(h);
	return route(h, route_address, prefix, 0);
}

API int vpnsvc_add_dns_server(vpnsvc_h handle, const char *dns_server)
{
	struct vpnsvc *h = handle;
	json_object *body;
	int rc;

	CHECK_HANDLE(h);
	if (!is_ipv4(dns_server))
		return VPNSVC_ERROR_INVALID_PARAMETER;
	body = json_object_new_object();
	if (!body)
		return VPNSVC_ERROR_OUT_OF_MEMORY;
	json_object_object_add(body, "server", json_object_new_string(dns_server));
	rc = vs_request(&h->ep, "POST", "/dns", body, NULL);
	json_object_put(body);
	return rc;
}

API int vpnsvc_remove_dns_server(vpnsvc_h handle, const char *dns_server)
{
	struct vpnsvc *h = handle;
	char path[64];

	CHECK_HANDLE(h);
	if (!is_ipv4(dns_server))
		return VPNSVC_ERROR_INVALID_PARAMETER;
	snprintf(path, sizeof(path), "/dns/%s", dns_server);
	return vs_request(&h->ep, "DELETE", path, NULL, NULL);
}
