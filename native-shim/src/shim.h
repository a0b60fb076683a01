/* Shared by every file of the shim. Exported functions return >= 0 on success or -errno. */
#ifndef VPNSVC_SHIM_H
#define VPNSVC_SHIM_H

#define VS_EXPORT __attribute__((visibility("default")))

#endif
