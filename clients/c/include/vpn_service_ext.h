/*
 * vpnsvc's extensions to the Tizen VPN Service API (vpn_service.h). Not part of the seed:
 * an application that wants to stay portable to Tizen does not call them. They follow the
 * seed's conventions: setters only store, vpnsvc_update_settings sends, errors are
 * VPNSVC_ERROR_*. Exported under the version node CAPI_VPNSVC_1.1.
 */
#ifndef __VPNSVC_EXT_H__
#define __VPNSVC_EXT_H__

#include <vpn_service.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Stores an IPv6 address with its prefix for the interface ("fd00:8::2/64"), a dual-stack
 * tunnel beside the IPv4 addresses; NULL stores its removal. vpnsvc_update_settings sets it
 * (without duplicate address detection, usable at once) or removes it. Until this is called,
 * update_settings leaves the interface's IPv6 address as it is.
 *
 * @return VPNSVC_ERROR_NONE, or VPNSVC_ERROR_INVALID_PARAMETER (no handle, or not an IPv6
 *         address with a prefix of 0 to 128)
 */
int vpnsvc_set_local_ip6_address(vpnsvc_h handle, const char *local_ip6);

#ifdef __cplusplus
}
#endif

#endif /* __VPNSVC_EXT_H__ */
