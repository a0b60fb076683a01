/*
 * vpn_service.h: the Tizen VPN Service API (Tizen Native API 7.0), for Linux applications that
 * are not root. libcapi-vpnsvc serves it by talking to the vpnsvc daemon: REST for every
 * operation, and the daemon's fd channel (SCM_RIGHTS over a unix socket) for the TUN fd and for
 * vpnsvc_protect's socket. Link with `pkg-config --cflags --libs capi-vpnsvc`.
 *
 * The daemon is found as the vpnsvc CLI finds it: VPNSVC_URL (http(s)://host:port or
 * unix:/path), else VPNSVC_LISTEN, else http://127.0.0.1:8760; the token comes from
 * VPNSVC_TOKEN or the file named by VPNSVC_TOKEN_FILE.
 *
 * There can be only one VPN connection running at the same time. The existing interface is
 * deactivated when a new one is created.
 *
 * Related feature: http://tizen.org/feature/network.vpn. Every function answers
 * VPNSVC_ERROR_NOT_SUPPORTED when the daemon reports the feature missing (GET /features; asked
 * once per process), and VPNSVC_ERROR_INVALID_PARAMETER for a NULL handle before it reads any
 * other argument.
 */
#ifndef __TIZEN_CAPI_VPN_SERVICE_H__
#define __TIZEN_CAPI_VPN_SERVICE_H__

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief The VPN interface handle.
 * @details This handle can be obtained by calling vpnsvc_init() and destroyed by calling
 *          vpnsvc_deinit().
 * @since_tizen 3.0
 */
typedef void *vpnsvc_h;

/**
 * @brief Enumeration for VPN service error types (Tizen's values).
 * @since_tizen 3.0
 */
typedef enum {
	VPNSVC_ERROR_NONE = 0,                            /**< Successful */
	VPNSVC_ERROR_INVALID_PARAMETER = -22,             /**< Invalid parameter (-EINVAL) */
	VPNSVC_ERROR_OUT_OF_MEMORY = -12,                 /**< Out of memory (-ENOMEM) */
	VPNSVC_ERROR_PERMISSION_DENIED = -13,             /**< Permission denied (-EACCES) */
	VPNSVC_ERROR_NO_SUCH_FILE = -2,                   /**< No such file or directory (-ENOENT) */
	VPNSVC_ERROR_IO_ERROR = -5,                       /**< IO error (-EIO) */
	VPNSVC_ERROR_TIMEOUT = -1073741823,               /**< Time out error or no answer (0xC0000001) */
	VPNSVC_ERROR_IPC_FAILED = -30081022,              /**< Failed to communicate with server (0xFE350002) */
	VPNSVC_ERROR_NOT_SUPPORTED = -1073741822,         /**< Not Supported (0xC0000002) */
} vpnsvc_error_e;

/**
 * @brief Initializes VPN interface.
 * @details You should call vpnsvc_get_iface_name() for checking the actual initialized VPN
 *          interface name. (In case of duplicated interface name)
 * @privilege http://tizen.org/privilege/vpnservice, http://tizen.org/privilege/internet
 * @remarks The handle should be released using vpnsvc_deinit(). The TUN fd is received from the
 *          daemon here (vpnsvc_get_iface_fd). On failure *handle is left untouched.
 * @param[in] iface_name The VPN interface name (1 to 15 characters)
 * @param[out] handle The VPN interface handle
 * @return 0 on success. otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_IO_ERROR I/O Error (e.g. socket I/O error)
 * @retval #VPNSVC_ERROR_IPC_FAILED Cannot connect to service daemon
 * @retval #VPNSVC_ERROR_PERMISSION_DENIED Permission Denied
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 * @post Please call vpnsvc_deinit() if you want to de-initialize VPN interface.
 */
int vpnsvc_init(const char *iface_name, vpnsvc_h *handle);

/**
 * @brief De-Initializes VPN interface.
 * @privilege http://tizen.org/privilege/vpnservice, http://tizen.org/privilege/internet
 * @remarks The handle is released whatever the outcome. An interface already deactivated by a
 *          later vpnsvc_init() is not an error.
 * @param[in] handle The VPN interface handle
 * @return 0 on success. otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_IPC_FAILED Cannot connect to service daemon
 * @retval #VPNSVC_ERROR_PERMISSION_DENIED Permission Denied
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 * @pre Before calling this function, VPN interface should be initialized already.
 */
int vpnsvc_deinit(vpnsvc_h handle);

/**
 * @brief Protect a socket from VPN connections.
 * @details After protecting, data sent through this socket will go directly to the underlying
 *          network. The socket itself is passed to the daemon (SCM_RIGHTS), which binds it to
 *          @a iface_name (SO_BINDTODEVICE); any socket family the kernel accepts.
 * @privilege http://tizen.org/privilege/vpnservice, http://tizen.org/privilege/internet
 * @param[in] handle The VPN interface handle
 * @param[in] socket_fd The opened socket file descriptor
 * @param[in] iface_name The network interface name (e.g., interface name such as eth0, ppp0,
 *            etc) through which the VPN is working
 * @return 0 on success. otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_IO_ERROR I/O Error (e.g. socket I/O error)
 * @retval #VPNSVC_ERROR_IPC_FAILED Cannot connect to service daemon
 * @retval #VPNSVC_ERROR_PERMISSION_DENIED Permission Denied
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 */
int vpnsvc_protect(vpnsvc_h handle, int socket_fd, const char *iface_name);

/**
 * @brief Waits for the read event on VPN interface descriptor, but no more than the indicated
 *        timeout in milliseconds.
 * @param[in] handle The VPN interface handle
 * @param[in] timeout_ms The value of timeout (milliseconds, 0 or more)
 * @return 0 on success. otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success (a packet can be read from the fd)
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_IO_ERROR I/O Error (e.g. the device is gone)
 * @retval #VPNSVC_ERROR_TIMEOUT Timeout (no answer in timeout_ms)
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 * @pre The VPN interface should be initialized already.
 */
int vpnsvc_read(vpnsvc_h handle, int timeout_ms);

/**
 * @brief Writes the data supplied into the VPN interface.
 * @param[in] handle The VPN interface handle
 * @param[in] data Data writing to VPN interface (one IP packet)
 * @param[in] size The size of data
 * @return On success, the number of bytes written is returned (zero indicates nothing was
 *         written). Otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_IO_ERROR The write failed; errno is write()'s
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 * @pre The VPN interface should be initialized already.
 */
int vpnsvc_write(vpnsvc_h handle, const char *data, size_t size);

/**
 * @brief Blocks all traffics except specified allowing networks.
 * @privilege http://tizen.org/privilege/vpnservice, http://tizen.org/privilege/internet
 * @param[in] handle The VPN interface handle
 * @param[in] routes_dest_vpn_addr Destination address of the routes, the list of allowing
 *            networks over VPN interface (e.g., VPN interface such as tun0, etc).
 * @param[in] routes_vpn_prefix The prefix of VPN interface, netmask length (also called a
 *            prefix, e.g. 8, 16, 24, 32).
 * @param[in] num_allow_routes_vpn The number of allowing networks over VPN interface. Up to 255
 *            addresses can be allowed.
 * @param[in] routes_dest_orig_addr Destination address of the routes, the list of allowing
 *            networks over the original interface (e.g., original interface such as eth0,
 *            wlan0, etc).
 * @param[in] routes_orig_prefix The prefix of Original interface, netmask length.
 * @param[in] num_allow_routes_orig The number of allowing networks over the original
 *            interface. Up to 255 addresses can be allowed.
 * @return 0 on success. otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_IPC_FAILED Cannot connect to service daemon
 * @retval #VPNSVC_ERROR_PERMISSION_DENIED Permission Denied
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 * @post Please call vpnsvc_unblock_networks() if you want to allow all traffics.
 */
int vpnsvc_block_networks(vpnsvc_h handle, char *routes_dest_vpn_addr[], int routes_vpn_prefix[], size_t num_allow_routes_vpn,
			  char *routes_dest_orig_addr[], int routes_orig_prefix[], size_t num_allow_routes_orig);

/**
 * @brief Removes any restrictions imposed by vpnsvc_block_networks(). Nothing blocked is fine.
 * @privilege http://tizen.org/privilege/vpnservice, http://tizen.org/privilege/internet
 * @param[in] handle The VPN interface handle
 * @return 0 on success. otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_IPC_FAILED Cannot connect to service daemon
 * @retval #VPNSVC_ERROR_PERMISSION_DENIED Permission Denied
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 */
int vpnsvc_unblock_networks(vpnsvc_h handle);

/**
 * @brief Updates settings (Local IP / Remote IP / MTU), and brings the interface up.
 * @privilege http://tizen.org/privilege/vpnservice
 * @param[in] handle The VPN interface handle
 * @return 0 on success. otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter (the local or remote address unset)
 * @retval #VPNSVC_ERROR_IO_ERROR The values were refused (e.g. a multicast address)
 * @retval #VPNSVC_ERROR_IPC_FAILED Cannot connect to service daemon
 * @retval #VPNSVC_ERROR_PERMISSION_DENIED Permission Denied
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 * @pre The VPN interface should be initialized already.
 */
int vpnsvc_update_settings(vpnsvc_h handle);

/**
 * @brief Gets the fd of the VPN interface: a TUN fd (IFF_TUN|IFF_NO_PI) valid in this process.
 * @param[in] handle The VPN interface handle
 * @param[out] iface_fd The vpn interface fd
 * @return 0 on success. otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 */
int vpnsvc_get_iface_fd(vpnsvc_h handle, int *iface_fd);

/**
 * @brief Gets the index of VPN interface.
 * @param[in] handle The VPN interface handle
 * @param[out] iface_index The VPN interface index
 * @return 0 on success. otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 * @pre Before calling this function, VPN interface should be initialized already.
 */
int vpnsvc_get_iface_index(vpnsvc_h handle, int *iface_index);

/**
 * @brief Gets the name of VPN interface.
 * @remarks The iface_name should be released using free()
 * @param[in] handle The VPN interface handle
 * @param[out] iface_name The name of VPN interface name
 * @return 0 on success. Otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_OUT_OF_MEMORY Out of memory
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 */
int vpnsvc_get_iface_name(vpnsvc_h handle, char **iface_name);

/**
 * @brief Sets the MTU of the VPN interface (stored; applied by vpnsvc_update_settings()).
 * @param[in] handle The VPN interface handle
 * @param[in] mtu The MTU (Maximum Transmission Unit) value to be set for VPN interface, 68 to
 *            65535. Default MTU size is 1500.
 * @return 0 on success. Otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 */
int vpnsvc_set_mtu(vpnsvc_h handle, int mtu);

/**
 * @brief Sets blocking mode of the file descriptor of VPN interface (O_NONBLOCK).
 * @param[in] handle The VPN interface handle
 * @param[in] blocking The blocking mode flag; True = BLOCKING, False = NON_BLOCKING
 *            (Default : BLOCKING)
 * @return 0 on success. Otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_IO_ERROR Failed to set the blocking flags
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 */
int vpnsvc_set_blocking(vpnsvc_h handle, bool blocking);

/**
 * @brief Sets the session name for the VPN. (It will be displayed in system-managed dialogs and
 *        notifications.) Stored; sent to the daemon by vpnsvc_update_settings().
 * @param[in] handle The VPN interface handle
 * @param[in] session The Session Name: 1 to 31 characters, no control characters (longer names
 *            are refused, never truncated)
 * @return 0 on success. Otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 */
int vpnsvc_set_session(vpnsvc_h handle, const char *session);

/**
 * @brief Gets the session name for the VPN (default "VPN_Session").
 * @remarks The session should be released using free()
 * @param[in] handle The VPN interface handle
 * @param[out] session The Session Name returned
 * @return 0 on success. Otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_OUT_OF_MEMORY Out of memory
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 */
int vpnsvc_get_session(vpnsvc_h handle, char **session);

/**
 * @brief Sets the VPN client IP address (stored; applied by vpnsvc_update_settings()).
 * @param[in] handle The VPN interface handle
 * @param[in] local_ip The local (VPN client) IP address (IPv4 only)
 * @return 0 on success. Otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter (not IPv4 text)
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 */
int vpnsvc_set_local_ip_address(vpnsvc_h handle, const char *local_ip);

/**
 * @brief Sets the VPN server IP address (stored; applied by vpnsvc_update_settings()).
 * @param[in] handle The VPN interface handle
 * @param[in] remote_ip The remote (VPN server) IP address (IPv4 only)
 * @return 0 on success. Otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter (not IPv4 text)
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 */
int vpnsvc_set_remote_ip_address(vpnsvc_h handle, const char *remote_ip);

/**
 * @brief Adds the route address.
 * @privilege http://tizen.org/privilege/vpnservice
 * @remarks The route address should be set after enabling VPN interface.
 * @param[in] handle The VPN interface handle
 * @param[in] route_address Destination address of the routes (IPv4 only)
 * @param[in] prefix The prefix of routes, netmask length (0 to 32)
 * @return 0 on success. Otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_IO_ERROR I/O Error (e.g. socket I/O error)
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 */
int vpnsvc_add_route(vpnsvc_h handle, const char *route_address, int prefix);

/**
 * @brief Removes the route address.
 * @privilege http://tizen.org/privilege/vpnservice
 * @param[in] handle The VPN interface handle
 * @param[in] route_address Destination address of the routes (IPv4 only)
 * @param[in] prefix The prefix of routes, netmask length (0 to 32)
 * @return 0 on success. Otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_NO_SUCH_FILE No such route
 * @retval #VPNSVC_ERROR_IO_ERROR I/O Error (e.g. socket I/O error)
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 */
int vpnsvc_remove_route(vpnsvc_h handle, const char *route_address, int prefix);

/**
 * @brief Adds the DNS server name.
 * @privilege http://tizen.org/privilege/vpnservice
 * @remarks The dns address should be set after enabling VPN interface.
 * @param[in] handle The VPN interface handle
 * @param[in] dns_server The DNS server address (IPv4 only)
 * @return 0 on success. Otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_IO_ERROR I/O Error (e.g. socket I/O error)
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 */
int vpnsvc_add_dns_server(vpnsvc_h handle, const char *dns_server);

/**
 * @brief Removes the DNS server name.
 * @privilege http://tizen.org/privilege/vpnservice
 * @param[in] handle The VPN interface handle
 * @param[in] dns_server The DNS server address (IPv4 only)
 * @return 0 on success. Otherwise, a negative error value.
 * @retval #VPNSVC_ERROR_NONE Success
 * @retval #VPNSVC_ERROR_INVALID_PARAMETER Invalid parameter
 * @retval #VPNSVC_ERROR_NO_SUCH_FILE The server was not added
 * @retval #VPNSVC_ERROR_IO_ERROR I/O Error (e.g. socket I/O error)
 * @retval #VPNSVC_ERROR_NOT_SUPPORTED Not Supported
 */
int vpnsvc_remove_dns_server(vpnsvc_h handle, const char *dns_server);

#ifdef __cplusplus
}
#endif

#endif /* __TIZEN_CAPI_VPN_SERVICE_H__ */
