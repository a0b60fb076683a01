/*
 * The library's side of the daemon: REST over libcurl (TCP, TLS, or the daemon's unix socket
 * through CURLOPT_UNIX_SOCKET_PATH) with json-c bodies, and the fd channel, a unix
 * SOCK_SEQPACKET socket on which a ticket is redeemed and fds travel as SCM_RIGHTS.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <curl/curl.h>

#include "internal.h"

#define DEFAULT_URL "http://127.0.0.1:8760"
/* Answers are small JSON objects; anything larger is not the daemon talking. */
#define ANSWER_MAX (1 << 20)
#define TOKEN_MAX 4096
#define REQUEST_TIMEOUT_MS 30000L
#define CONNECT_TIMEOUT_MS 5000L
#define CHANNEL_TIMEOUT_MS 10000
#define CHANNEL_MESSAGE_MAX 1024

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* The token from VPNSVC_TOKEN, else the first line of the file VPNSVC_TOKEN_FILE names. */
static int read_token(char **out)
{
	const char *env = getenv("VPNSVC_TOKEN");
	const char *file = getenv("VPNSVC_TOKEN_FILE");
	char buf[TOKEN_MAX];
	size_t n;
	FILE *f;

	*out = NULL;
	if (env && *env) {
		*out = strdup(env);
		return *out ? VPNSVC_ERROR_NONE : VPNSVC_ERROR_OUT_OF_MEMORY;
	}
	if (!file || !*file)
		return VPNSVC_ERROR_NONE;
	f = fopen(file, "re");
	if (!f)
		return VPNSVC_ERROR_PERMISSION_DENIED;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	*out = strdup(buf);
	return *out ? VPNSVC_ERROR_NONE : VPNSVC_ERROR_OUT_OF_MEMORY;
}

int vs_endpoint_open(struct vs_endpoint *ep)
{
	const char *url = getenv("VPNSVC_URL");
	const char *listen = getenv("VPNSVC_LISTEN");
	char *token = NULL;
	int rc;

	memset(ep, 0, sizeof(*ep));
	if ((!url || !*url) && listen && *listen) {
		if (strncmp(listen, "unix:", 5) == 0) {
			url = listen;
		} else {
			const char *scheme = getenv("VPNSVC_TLS_CERT") ? "https://" : "http://";
			size_t len = strlen(scheme) + strlen(listen) + 1;

			ep->url = malloc(len);
			if (!ep->url)
				return VPNSVC_ERROR_OUT_OF_MEMORY;
			snprintf(ep->url, len, "%s%s", scheme, listen);
		}
	}
	if (!ep->url) {
		if (!url || !*url)
			url = DEFAULT_URL;
		if (strncmp(url, "unix:", 5) == 0) {
			ep->socket_path = strdup(url + 5);
			ep->url = strdup("http://localhost");
			if (!ep->socket_path || !ep->url)
				goto oom;
		} else if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0) {
			ep->url = strdup(url);
			if (!ep->url)
				goto oom;
			/* one base, paths appended: no trailing slash */
			while (strlen(ep->url) > 8 && ep->url[strlen(ep->url) - 1] == '/')
				ep->url[strlen(ep->url) - 1] = '\0';
		} else {
			return VPNSVC_ERROR_IPC_FAILED;
		}
	}
	if (getenv("VPNSVC_CA") && !(ep->ca_file = dup_or_null(getenv("VPNSVC_CA"))))
		goto oom;
	rc = read_token(&token);
	if (rc != VPNSVC_ERROR_NONE) {
		vs_endpoint_close(ep);
		return rc;
	}
	if (token) {
		size_t len = strlen("Authorization: Bearer ") + strlen(token) + 1;

		ep->auth_header = malloc(len);
		if (ep->auth_header)
			snprintf(ep->auth_header, len, "Authorization: Bearer %s", token);
		/* the secret does not linger in freed memory */
		memset(token, 0, strlen(token));
		free(token);
		if (!ep->auth_header)
			goto oom;
	}
	return VPNSVC_ERROR_NONE;
oom:
	vs_endpoint_close(ep);
	return VPNSVC_ERROR_OUT_OF_MEMORY;
}

void vs_endpoint_close(struct vs_endpoint *ep)
{
	free(ep->url);
	free(ep->socket_path);
	free(ep->ca_file);
	if (ep->auth_header) {
		memset(ep->auth_header, 0, strlen(ep->auth_header));
		free(ep->auth_header);
	}
	memset(ep, 0, sizeof(*ep));
}

struct answer {
	char *data;
	size_t len;
	int too_big;
};

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct answer *a = userdata;
	size_t n = size * nmemb;
	char *grown;

	if (a->len + n > ANSWER_MAX) {
		a->too_big = 1;
		return 0;
	}
	grown = realloc(a->data, a->len + n + 1);
	if (!grown)
		return 0;
	memcpy(grown + a->len, ptr, n);
	a->len += n;
	grown[a->len] = '\0';
	a->data = grown;
	return n;
}

static int known_code(int code)
{
	switch (code) {
	case VPNSVC_ERROR_INVALID_PARAMETER:
	case VPNSVC_ERROR_OUT_OF_MEMORY:
	case VPNSVC_ERROR_PERMISSION_DENIED:
	case VPNSVC_ERROR_NO_SUCH_FILE:
	case VPNSVC_ERROR_IO_ERROR:
	case VPNSVC_ERROR_TIMEOUT:
	case VPNSVC_ERROR_IPC_FAILED:
	case VPNSVC_ERROR_NOT_SUPPORTED:
		return 1;
	default:
		return 0;
	}
}

/* The seed's code from an Error body ({"error", "code", "message"}), else one from the status. */
static int error_of(long status, json_object *body)
{
	json_object *code;

	if (body && json_object_object_get_ex(body, "code", &code) && json_object_is_type(code, json_type_int)) {
		int c = json_object_get_int(code);

		if (known_code(c))
			return c;
	}
	if (status == 401 || status == 403)
		return VPNSVC_ERROR_PERMISSION_DENIED;
	if (status == 404)
		return VPNSVC_ERROR_NO_SUCH_FILE;
	if (status == 408)
		return VPNSVC_ERROR_TIMEOUT;
	if (status == 501)
		return VPNSVC_ERROR_NOT_SUPPORTED;
	if (status == 503)
		return VPNSVC_ERROR_IPC_FAILED;
	if (status >= 400 && status < 500)
		return VPNSVC_ERROR_INVALID_PARAMETER;
	return VPNSVC_ERROR_IO_ERROR;
}

int vs_request(const struct vs_endpoint *ep, const char *method, const char *path, json_object *body, json_object **out)
{
	struct answer answer = { 0 };
	struct curl_slist *headers = NULL, *h;
	json_object *parsed = NULL;
	const char *payload = NULL;
	char *url = NULL;
	long status = 0;
	size_t len;
	CURLcode cc;
	CURL *curl;
	int rc;

	if (out)
		*out = NULL;
	len = strlen(ep->url) + strlen(path) + 1;
	url = malloc(len);
	curl = curl_easy_init();
	if (!url || !curl) {
		rc = VPNSVC_ERROR_OUT_OF_MEMORY;
		goto done;
	}
	snprintf(url, len, "%s%s", ep->url, path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, REQUEST_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
	if (ep->socket_path)
		curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, ep->socket_path);
	if (ep->ca_file)
		curl_easy_setopt(curl, CURLOPT_CAINFO, ep->ca_file);
	h = curl_slist_append(headers, "Accept: application/json");
	if (h)
		headers = h;
	if (ep->auth_header && (h = curl_slist_append(headers, ep->auth_header)))
		headers = h;
	if (body) {
		payload = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
		if ((h = curl_slist_append(headers, "Content-Type: application/json")))
			headers = h;
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

	cc = curl_easy_perform(curl);
	if (cc == CURLE_OPERATION_TIMEDOUT) {
		rc = VPNSVC_ERROR_TIMEOUT;
		goto done;
	}
	if (cc == CURLE_OUT_OF_MEMORY) {
		rc = VPNSVC_ERROR_OUT_OF_MEMORY;
		goto done;
	}
	if (cc != CURLE_OK || answer.too_big) {
		rc = VPNSVC_ERROR_IPC_FAILED;
		goto done;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (answer.data && answer.len > 0)
		parsed = json_tokener_parse(answer.data);
	if (status >= 200 && status < 300) {
		rc = VPNSVC_ERROR_NONE;
		if (out) {
			*out = parsed;
			parsed = NULL;
		}
	} else {
		rc = error_of(status, parsed);
	}
done:
	json_object_put(parsed);
	curl_slist_free_all(headers);
	if (curl)
		curl_easy_cleanup(curl);
	free(answer.data);
	free(url);
	return rc;
}

/* 0 not asked yet, 1 supported, 2 not supported; a failed question is asked again next time. */
static atomic_int feature_state;

int vs_require_feature(const struct vs_endpoint *ep)
{
	json_object *features = NULL, *supported;
	int state = atomic_load(&feature_state);
	int rc;

	if (state == 1)
		return VPNSVC_ERROR_NONE;
	if (state == 2)
		return VPNSVC_ERROR_NOT_SUPPORTED;
	rc = vs_request(ep, "GET", "/features", NULL, &features);
	if (rc != VPNSVC_ERROR_NONE)
		return rc;
	if (!json_object_object_get_ex(features, "supported", &supported) || !json_object_is_type(supported, json_type_boolean)) {
		json_object_put(features);
		return VPNSVC_ERROR_IPC_FAILED;
	}
	state = json_object_get_boolean(supported) ? 1 : 2;
	json_object_put(features);
	atomic_store(&feature_state, state);
	return state == 1 ? VPNSVC_ERROR_NONE : VPNSVC_ERROR_NOT_SUPPORTED;
}

/* Sends the ticket (and send_fd) on a fresh connection, waits for the one answer and its fd. */
static int redeem(const char *channel, const char *ticket, int send_fd, int *recv_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} control;
	char reply[CHANNEL_MESSAGE_MAX + 1];
	struct iovec iov = { .iov_base = (void *)ticket, .iov_len = strlen(ticket) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct pollfd pfd;
	struct cmsghdr *c;
	json_object *answer = NULL, *ok;
	int s, got = -1, rc;
	ssize_t n;

	if (strlen(channel) >= sizeof(sa.sun_path))
		return VPNSVC_ERROR_IPC_FAILED;
	memcpy(sa.sun_path, channel, strlen(channel));
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0)
		return VPNSVC_ERROR_IPC_FAILED;
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = errno == EACCES ? VPNSVC_ERROR_PERMISSION_DENIED : VPNSVC_ERROR_IPC_FAILED;
		goto done;
	}
	if (send_fd >= 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &send_fd, sizeof(int));
	}
	if (sendmsg(s, &msg, MSG_NOSIGNAL) < 0) {
		/* EBADF: send_fd is not an open fd of ours */
		rc = errno == EBADF ? VPNSVC_ERROR_INVALID_PARAMETER : VPNSVC_ERROR_IPC_FAILED;
		goto done;
	}
	pfd.fd = s;
	pfd.events = POLLIN;
	do
		rc = poll(&pfd, 1, CHANNEL_TIMEOUT_MS);
	while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		rc = VPNSVC_ERROR_TIMEOUT;
		goto done;
	}
	iov.iov_base = reply;
	iov.iov_len = CHANNEL_MESSAGE_MAX;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC);
	if (n <= 0) {
		rc = VPNSVC_ERROR_IPC_FAILED;
		goto done;
	}
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(&got, CMSG_DATA(c), sizeof(int));
	reply[n] = '\0';
	answer = json_tokener_parse(reply);
	if (answer && json_object_object_get_ex(answer, "ok", &ok) && json_object_get_boolean(ok)) {
		rc = VPNSVC_ERROR_NONE;
		if (recv_fd && got >= 0) {
			*recv_fd = got;
			got = -1;
		} else if (recv_fd) {
			rc = VPNSVC_ERROR_IPC_FAILED;
		}
	} else {
		rc = error_of(500, answer);
	}
done:
	json_object_put(answer);
	if (got >= 0)
		close(got);
	close(s);
	return rc;
}

int vs_fd_exchange(const struct vs_endpoint *ep, const char *purpose, const char *iface, int send_fd, int *recv_fd)
{
	json_object *req = json_object_new_object(), *ticket = NULL, *t, *ch;
	int rc;

	if (!req)
		return VPNSVC_ERROR_OUT_OF_MEMORY;
	json_object_object_add(req, "purpose", json_object_new_string(purpose));
	json_object_object_add(req, "interface", json_object_new_string(iface));
	if (send_fd >= 0)
		json_object_object_add(req, "fd", json_object_new_int(send_fd));
	rc = vs_request(ep, "POST", "/tickets", req, &ticket);
	json_object_put(req);
	if (rc != VPNSVC_ERROR_NONE)
		return rc;
	if (json_object_object_get_ex(ticket, "ticket", &t) && json_object_object_get_ex(ticket, "channel", &ch) &&
	    json_object_is_type(t, json_type_string) && json_object_is_type(ch, json_type_string))
		rc = redeem(json_object_get_string(ch), json_object_get_string(t), send_fd, recv_fd);
	else
		rc = VPNSVC_ERROR_IPC_FAILED;
	json_object_put(ticket);
	return rc;
}
