/* What the API functions (vpn_service.c) use of the transport (daemon.c). Not installed. */
#ifndef VPNSVC_INTERNAL_H
#define VPNSVC_INTERNAL_H

#include <json-c/json.h>

#include "vpn_service.h"

#define VS_HIDDEN __attribute__((visibility("hidden")))

/* Where the daemon is and the caller's token (never logged). */
struct vs_endpoint {
	char *url;         /* base URL: http(s)://host:port, or http://localhost for a unix socket */
	char *socket_path; /* the daemon's unix socket, or NULL */
	char *ca_file;     /* VPNSVC_CA, or NULL */
	char *auth_header; /* "Authorization: Bearer ...", or NULL without a token */
};

/* From VPNSVC_URL / VPNSVC_LISTEN and VPNSVC_TOKEN / VPNSVC_TOKEN_FILE. */
VS_HIDDEN int vs_endpoint_open(struct vs_endpoint *ep);
VS_HIDDEN void vs_endpoint_close(struct vs_endpoint *ep);

/*
 * One request; `body` (may be NULL) is sent as JSON and not consumed. With `out` non-NULL a
 * JSON answer is parsed into it (the caller puts it). Returns NONE for a 2xx answer, else the
 * error the daemon named (its Error body), IPC_FAILED when it cannot be reached, TIMEOUT when
 * it does not answer in time.
 */
VS_HIDDEN int vs_request(const struct vs_endpoint *ep, const char *method, const char *path, json_object *body, json_object **out);

/* NONE, or NOT_SUPPORTED when the daemon reports the VPN feature missing (asked once per process). */
VS_HIDDEN int vs_require_feature(const struct vs_endpoint *ep);

/*
 * A ticket (POST /tickets) redeemed on the daemon's fd channel: for "tun-fd" the received fd
 * goes to *recv_fd; for "protect" send_fd travels with the ticket.
 */
VS_HIDDEN int vs_fd_exchange(const struct vs_endpoint *ep, const char *purpose, const char *iface, int send_fd, int *recv_fd);

#endif
