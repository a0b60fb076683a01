/* Shared by every file of the shim. Exported functions return >= 0 on success or -errno. */
#ifndef VPNSVC_SHIM_H
#define VPNSVC_SHIM_H

#define VS_EXPORT __attribute__((visibility("default")))

/* vpnsvc_protect's steps (protect.c) and the peer check that guards them (peer_cred.c). */
int vs_pidfd_open(int pid);
int vs_protect_pidfd(int pidfd, int fd, const char *ifname);
int vs_peer_cred(int fd, int *pid, unsigned int *uid, unsigned int *gid);

/* 0 when socket sock lives in this process's network namespace (protect.c; fd_channel.c too). */
int vs_same_netns(int sock);

#endif
