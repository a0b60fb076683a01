/**
 * The one module that loads the native shim through koffi. Every C function returns >= 0 or
 * -errno; the wrappers here turn a negative value into a VpnsvcError carrying the errno name.
 */
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import koffi from 'koffi';
import { projectRoot } from '../config/project-root.js';
import { EACCES, EADDRNOTAVAIL, EBADF, EINVAL, ENODEV, ENOTSOCK, EPERM, ESRCH } from '../errors/errno.js';
import { type ErrorName, errnoError, ioError, permissionDenied, type VpnsvcError } from '../errors/errors.js';

const { EXDEV, EAGAIN, ECONNABORTED } = constants.errno;
const IFNAMSIZ = 16;
const INET_ADDRSTRLEN = 16;

export const IFF_UP = 0x1;
export const IFF_RUNNING = 0x40;

export function nativeLibraryPath(): string {
  return process.env.VPNSVC_NATIVE_LIB ?? `${projectRoot()}/native-shim/build/libvpnsvc.so`;
}

function bind(lib: ReturnType<typeof koffi.load>) {
  return {
    tunOpen: lib.func('int vs_tun_open(const char *name, void *name_out, int name_out_len, int offload, _Out_ int *features)'),
    close: lib.func('int vs_close(int fd)'),
    ifIndex: lib.func('int vs_if_index(const char *name)'),
    ifGetMtu: lib.func('int vs_if_get_mtu(const char *name)'),
    ifSetMtu: lib.func('int vs_if_set_mtu(const char *name, int mtu)'),
    ifSetAddr: lib.func('int vs_if_set_addr(const char *name, const char *addr)'),
    ifSetDstAddr: lib.func('int vs_if_set_dstaddr(const char *name, const char *addr)'),
    ifGetAddr: lib.func('int vs_if_get_addr(const char *name, void *out, int out_len)'),
    ifGetDstAddr: lib.func('int vs_if_get_dstaddr(const char *name, void *out, int out_len)'),
    ifGetFlags: lib.func('int vs_if_get_flags(const char *name)'),
    ifSetUp: lib.func('int vs_if_set_up(const char *name, int up)'),
    fdGetNonblock: lib.func('int vs_fd_get_nonblock(int fd)'),
    fdSetNonblock: lib.func('int vs_fd_set_nonblock(int fd, int on)'),
    tunAvailable: lib.func('int vs_tun_available(void)'),
    routesApply: lib.func(
      'int vs_routes_apply(int ifindex, int op, const uint8_t *families, const uint8_t *addrs16, const uint8_t *prefixes, int count, _Out_ int *failed_index)',
    ),
    routesList: lib.func(
      'int vs_routes_list(int ifindex, _Out_ uint8_t *families, _Out_ uint8_t *addrs16, _Out_ uint8_t *prefixes, int max)',
    ),
    pidfdOpen: lib.func('int vs_pidfd_open(int pid)'),
    protectPidfd: lib.func('int vs_protect_pidfd(int pidfd, int fd, const char *ifname)'),
    peerCred: lib.func('int vs_peer_cred(int fd, _Out_ int *pid, _Out_ uint32_t *uid, _Out_ uint32_t *gid)'),
    tunReadBatch: lib.func(
      'int vs_tun_read_batch(int fd, uint8_t *buf, int cap, int pktmax, int hdr, uint32_t *lens, int maxpkts, uint8_t *pending)',
    ),
    pendingSize: lib.func('int vs_pending_size(void)'),
    pendingDropped: lib.func('int vs_pending_dropped(const uint8_t *pending)'),
    tunWriteBatch: lib.func(
      'int vs_tun_write_batch(int fd, const uint8_t *buf, int len, int hdr, const uint32_t *lens, int n, double *stats, int vnet)',
    ),
    tunWrite: lib.func('int vs_tun_write(int fd, const uint8_t *buf, int len, int vnet)'),
    ifRaiseTxqlen: lib.func('int vs_if_raise_txqlen(const char *name, int qlen)'),
    fdchListen: lib.func('int vs_fdch_listen(const char *path, int mode, int backlog)'),
    fdchAccept: lib.func('int vs_fdch_accept(int lfd)'),
    fdchRecv: lib.func('int vs_fdch_recv(int fd, _Out_ uint8_t *buf, int cap, _Out_ int *passed_fd)'),
    fdchSend: lib.func('int vs_fdch_send(int fd, const uint8_t *buf, int len, int pass_fd)'),
    dup: lib.func('int vs_dup(int fd)'),
    protectFd: lib.func('int vs_protect_fd(int sock, const char *ifname)'),
    linkDelete: lib.func('int vs_link_delete(int ifindex)'),
    sdNotify: lib.func('int vs_sd_notify(const char *path, const char *message)'),
    routesApplyIn: lib.func(
      'int vs_routes_apply_in(int ifindex, int op, const uint8_t *families, const uint8_t *addrs16, const uint8_t *prefixes, const uint32_t *tables, const uint8_t *types, int count, _Out_ int *failed_index)',
    ),
    routesListIn: lib.func(
      'int vs_routes_list_in(int ifindex, uint32_t table, _Out_ uint8_t *families, _Out_ uint8_t *addrs16, _Out_ uint8_t *prefixes, _Out_ uint8_t *types, int max)',
    ),
    addr6Change: lib.func('int vs_addr6_change(int ifindex, int add, const uint8_t *addr16, int prefix)'),
    addr6List: lib.func('int vs_addr6_list(int ifindex, _Out_ uint8_t *addrs16, _Out_ uint8_t *prefixes, int max)'),
    sockSetMark: lib.func('int vs_sock_set_mark(int fd, uint32_t mark)'),
    sockGetMark: lib.func('int vs_sock_get_mark(int fd, _Out_ uint32_t *mark)'),
  };
}

type Bindings = ReturnType<typeof bind>;
let bindings: Bindings | undefined;

/**
 * Loads the shim once. A missing library is the one failure an operator fixes by building,
 * so the message says how.
 */
export function loadNative(): Bindings {
  if (bindings) return bindings;
  const path = nativeLibraryPath();
  if (!existsSync(path)) {
    throw ioError(`native shim not found at ${path}: build it with \`npm install\` (or \`make -C native-shim\`) in ${projectRoot()}`);
  }
  bindings = bind(koffi.load(path));
  return bindings;
}

function check(rc: number, what: string, kind?: ErrorName): number {
  if (rc < 0) throw errnoError(rc, what, kind);
  return rc;
}

function cString(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.toString('latin1', 0, end < 0 ? buf.length : end);
}

export interface OpenedTun {
  fd: number;
  name: string;
  /** TUN_F_* offloads in force; 0 for a plain TUN. */
  offloads: number;
}

/** TUNSETOFFLOAD's bits, as the kernel names them. */
export const TUN_OFFLOADS = { csum: 0x01, tso4: 0x02, tso6: 0x04, tsoEcn: 0x08, uso4: 0x20, uso6: 0x40 } as const;

/**
 * Opens TUN `name`. With `offload`, in offload mode: IFF_VNET_HDR and the kernel's checksum and
 * segmentation offloads (see native-shim/src/tun.c).
 */
export function tunOpen(name: string, offload = false): OpenedTun {
  const opened = tunOpenRaw(name, offload);
  if (typeof opened === 'number') check(opened, `open TUN "${name}"`);
  return opened as OpenedTun;
}

/** Like tunOpen, but returns the raw -errno so the caller can react to EBUSY. */
export function tunOpenRaw(name: string, offload = false): OpenedTun | number {
  const out = Buffer.alloc(IFNAMSIZ);
  const features = [0];
  const rc = loadNative().tunOpen(name, out, IFNAMSIZ, offload ? 1 : 0, features) as number;
  return rc < 0 ? rc : { fd: rc, name: cString(out), offloads: features[0] ?? 0 };
}

export function closeFd(fd: number): void {
  check(loadNative().close(fd), `close fd ${fd}`);
}

/** Interface index, or undefined when no interface has that name. */
export function ifIndex(name: string): number | undefined {
  const rc = loadNative().ifIndex(name) as number;
  if (rc === -ENODEV) return undefined;
  return check(rc, `index of "${name}"`);
}

export function getMtu(name: string): number {
  return check(loadNative().ifGetMtu(name), `get MTU of "${name}"`);
}

export function setMtu(name: string, mtu: number): void {
  check(loadNative().ifSetMtu(name, mtu), `set MTU ${mtu} on "${name}"`, 'VPNSVC_ERROR_IO_ERROR');
}

export function setLocalAddress(name: string, address: string): void {
  check(loadNative().ifSetAddr(name, address), `set local address ${address} on "${name}"`, 'VPNSVC_ERROR_IO_ERROR');
}

export function setPeerAddress(name: string, address: string): void {
  check(loadNative().ifSetDstAddr(name, address), `set peer address ${address} on "${name}"`, 'VPNSVC_ERROR_IO_ERROR');
}

function readAddress(fn: 'ifGetAddr' | 'ifGetDstAddr', name: string): string | null {
  const out = Buffer.alloc(INET_ADDRSTRLEN);
  const rc = loadNative()[fn](name, out, INET_ADDRSTRLEN) as number;
  // no IPv4 address yet
  if (rc === -EADDRNOTAVAIL) return null;
  check(rc, `read address of "${name}"`);
  return cString(out);
}

export const getLocalAddress = (name: string): string | null => readAddress('ifGetAddr', name);
export const getPeerAddress = (name: string): string | null => readAddress('ifGetDstAddr', name);

export function getFlags(name: string): number {
  return check(loadNative().ifGetFlags(name), `get flags of "${name}"`);
}

export function setLinkUp(name: string, up: boolean): void {
  check(loadNative().ifSetUp(name, up ? 1 : 0), `set "${name}" ${up ? 'up' : 'down'}`, 'VPNSVC_ERROR_IO_ERROR');
}

export function isNonBlocking(fd: number): boolean {
  return check(loadNative().fdGetNonblock(fd), `read flags of fd ${fd}`) === 1;
}

export function setNonBlocking(fd: number, on: boolean): void {
  check(loadNative().fdSetNonblock(fd, on ? 1 : 0), `set O_NONBLOCK=${on} on fd ${fd}`, 'VPNSVC_ERROR_IO_ERROR');
}

/** 0 when /dev/net/tun opens, else the -errno. */
export function tunDeviceStatus(): number {
  return loadNative().tunAvailable() as number;
}

/** The rtnetlink protocol number that marks vpnsvc's routes (`ip route show proto 86`). */
export const ROUTE_PROTOCOL = 86;

/**
 * Routes in the shim's fixed-size arrays: family (4 or 6), 16 bytes of address (IPv4 in the
 * first 4) and prefix length, entry i at index i.
 */
export interface PackedRoutes {
  families: Uint8Array;
  addrs16: Uint8Array;
  prefixes: Uint8Array;
}

/** Outcome of a batch: 0, or the -errno of the lowest failing entry and its index (-1: not one entry's). */
export interface RouteBatchResult {
  rc: number;
  failedIndex: number;
}

const ROUTE_ADD = 1;
const ROUTE_DEL = 2;

/**
 * Adds or deletes routes through ifindex in one batched netlink exchange, all or nothing: on
 * failure the shim has already undone what the call changed. Raw -errno, so the caller can
 * name the failing entry.
 */
export function applyRoutes(ifindex: number, add: boolean, routes: PackedRoutes): RouteBatchResult {
  const failed = [-1];
  const rc = loadNative().routesApply(
    ifindex,
    add ? ROUTE_ADD : ROUTE_DEL,
    routes.families,
    routes.addrs16,
    routes.prefixes,
    routes.families.length,
    failed,
  ) as number;
  return { rc, failedIndex: failed[0] ?? -1 };
}

/** vpnsvc's routes (protocol ROUTE_PROTOCOL, main table) through ifindex, as the kernel has them. */
export function listRoutes(ifindex: number): PackedRoutes {
  let room = 256;
  for (;;) {
    const families = new Uint8Array(room);
    const addrs16 = new Uint8Array(room * 16);
    const prefixes = new Uint8Array(room);
    const count = check(loadNative().routesList(ifindex, families, addrs16, prefixes, room), `list routes of interface ${ifindex}`);
    if (count <= room) {
      return { families: families.subarray(0, count), addrs16: addrs16.subarray(0, count * 16), prefixes: prefixes.subarray(0, count) };
    }
    // Routes were added between the count and the copy: ask again with room to spare.
    room = count + 256;
  }
}

/** What a protect failure means to the caller: the process, the fd, or the daemon's rights. */
const PROTECT_ERRNO_KIND: Record<number, ErrorName> = {
  [-ESRCH]: 'VPNSVC_ERROR_NO_SUCH_FILE',
  [-EBADF]: 'VPNSVC_ERROR_INVALID_PARAMETER',
  [-ENOTSOCK]: 'VPNSVC_ERROR_INVALID_PARAMETER',
  [-ENODEV]: 'VPNSVC_ERROR_INVALID_PARAMETER',
  [-EINVAL]: 'VPNSVC_ERROR_INVALID_PARAMETER',
  [-EPERM]: 'VPNSVC_ERROR_PERMISSION_DENIED',
  [-EACCES]: 'VPNSVC_ERROR_PERMISSION_DENIED',
  [-EXDEV]: 'VPNSVC_ERROR_PERMISSION_DENIED',
};

function protectError(rc: number, what: string): VpnsvcError {
  if (rc === -EXDEV) return permissionDenied(`${what}: the socket belongs to another network namespace than the daemon's (EXDEV)`);
  return errnoError(rc, what, PROTECT_ERRNO_KIND[rc] ?? 'VPNSVC_ERROR_IO_ERROR');
}

/**
 * vpnsvc_protect: SO_BINDTODEVICE on socket `fd` of process `pid` (taken with pidfd_getfd).
 * `authorize` runs while the process is pinned by a pidfd and throws to refuse: what it checks
 * through /proc/<pid> is the process whose socket is then taken, even if the pid is reused.
 */
export function protectSocket(pid: number, fd: number, ifname: string, authorize: () => void): void {
  const lib = loadNative();
  const what = `protect fd ${fd} of pid ${pid} on "${ifname}"`;
  const pidfd = lib.pidfdOpen(pid) as number;
  if (pidfd < 0) throw protectError(pidfd, what);
  try {
    authorize();
    const rc = lib.protectPidfd(pidfd, fd, ifname) as number;
    if (rc < 0) throw protectError(rc, what);
  } finally {
    lib.close(pidfd);
  }
}

/** The process at the other end of a unix socket, as the kernel recorded it at connect(). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

/**
 * SO_PEERCRED of the unix socket `fd`; undefined when `fd` is another kind of socket (TCP, whose
 * peer the kernel cannot vouch for).
 */
export function peerCredentials(fd: number): PeerCredentials | undefined {
  const pid = [-1];
  const uid = [-1];
  const gid = [-1];
  const rc = check(loadNative().peerCred(fd, pid, uid, gid), `read the peer credentials of fd ${fd}`, 'VPNSVC_ERROR_IO_ERROR');
  if (rc === 1) return undefined;
  const cred = { pid: pid[0] ?? -1, uid: uid[0] ?? -1, gid: gid[0] ?? -1 };
  // an output left unfilled must never pass for uid 0
  if (cred.uid < 0 || cred.gid < 0) throw ioError(`the peer credentials of fd ${fd} were not returned`);
  return cred;
}

// Hot path: these return the raw count or -errno instead of throwing, so a busy loop costs no
// exception machinery; the data plane turns errors into counters or typed errors itself.

/** Length prefix of the batched stream framing ([u16 BE length][packet]...). */
export const FRAME_HEADER_BYTES = 2;

/**
 * What a TUN in offload mode keeps between reads (a super-packet being cut for a reader of plain
 * packets): one per TUN, passed to every tunReadBatch on it.
 */
export function offloadReadState(): Buffer {
  return Buffer.alloc(loadNative().pendingSize() as number);
}

/** Packets an offload TUN handed over that could not be cut into plain ones. */
export function offloadReadDropped(state: Buffer): number {
  return loadNative().pendingDropped(state) as number;
}

/**
 * Reads queued packets without blocking (whatever the fd's O_NONBLOCK says) into buf, back to
 * back, each preceded by `header` bytes: 0, FRAME_HEADER_BYTES for the batched framing, or 4 for
 * the gso framing (whose records also carry a virtio_net_hdr). `offload` is the TUN's
 * offloadReadState, null for a plain TUN. Returns how many (0 when none was queued) or -errno.
 */
export function tunReadBatch(fd: number, buf: Buffer, pktMax: number, header: number, lens: Uint32Array, offload: Buffer | null): number {
  return loadNative().tunReadBatch(fd, buf, buf.length, pktMax, header, lens, lens.length, offload) as number;
}

/**
 * Writes the packets of a batched frame (header FRAME_HEADER_BYTES), of a gso frame (4), or of
 * `count` packets laid back to back with lengths in `lens` (header 0). `vnet`: the TUN is in
 * offload mode. stats accumulates [written, dropped, bytes]. Returns packets written, or
 * -EBADMSG for a truncated frame.
 */
export function tunWriteBatch(
  fd: number,
  buf: Buffer,
  header: number,
  lens: Uint32Array | null,
  count: number,
  stats: Float64Array,
  vnet: boolean,
): number {
  return loadNative().tunWriteBatch(fd, buf, buf.length, header, lens, count, stats, vnet ? 1 : 0) as number;
}

/** One plain packet into the TUN (behind an empty virtio_net_hdr when `vnet`): bytes written or -errno. */
export function tunWrite(fd: number, packet: Buffer, vnet: boolean): number {
  return loadNative().tunWrite(fd, packet, packet.length, vnet ? 1 : 0) as number;
}

/** Raises the interface's txqueuelen to at least qlen (never lowers it); returns the length in force. */
export function raiseTxQueueLen(name: string, qlen: number): number {
  return check(loadNative().ifRaiseTxqlen(name, qlen), `raise txqueuelen of "${name}" to ${qlen}`, 'VPNSVC_ERROR_IO_ERROR');
}

export interface ReadinessWatch {
  close(): void;
}

/**
 * Calls onReadable whenever the fd has data, from the libuv event loop (koffi's uv_poll).
 * Level-triggered: a callback that leaves packets queued is called again on the next turn.
 */
export function watchReadable(fd: number, onReadable: () => void): ReadinessWatch {
  loadNative();
  const handle = koffi.node.poll(fd, { readable: true }, () => onReadable());
  return { close: () => handle.close() };
}

// ---- the fd channel (fd_channel.c): SCM_RIGHTS over a unix socket, never blocking ----------

/** A listening SOCK_SEQPACKET socket at `path` with mode `mode`, non-blocking. */
export function fdChannelListen(path: string, mode: number, backlog: number): number {
  return check(loadNative().fdchListen(path, mode, backlog), `listen on the fd channel ${path}`, 'VPNSVC_ERROR_IO_ERROR');
}

/** An accepted connection's fd, or undefined when none is waiting. */
export function fdChannelAccept(listenFd: number): number | undefined {
  const rc = loadNative().fdchAccept(listenFd) as number;
  if (rc === -EAGAIN || rc === -ECONNABORTED) return undefined;
  return check(rc, 'accept on the fd channel', 'VPNSVC_ERROR_IO_ERROR');
}

export type ChannelMessage = { kind: 'message'; bytes: Buffer; fd: number | undefined } | { kind: 'again' } | { kind: 'end' };

/** One message and the fd passed with it (the caller owns and closes that fd). */
export function fdChannelReceive(fd: number, max: number): ChannelMessage {
  const buf = Buffer.alloc(max);
  const passed = [-1];
  const rc = loadNative().fdchRecv(fd, buf, max, passed) as number;
  if (rc === -EAGAIN) return { kind: 'again' };
  if (rc === 0) return { kind: 'end' };
  check(rc, 'receive on the fd channel', 'VPNSVC_ERROR_IO_ERROR');
  const got = passed[0] ?? -1;
  return { kind: 'message', bytes: buf.subarray(0, rc), fd: got >= 0 ? got : undefined };
}

/** One message, with `passFd` attached when given; never blocks. */
export function fdChannelSend(fd: number, bytes: Buffer, passFd?: number): void {
  check(loadNative().fdchSend(fd, bytes, bytes.length, passFd ?? -1), 'send on the fd channel', 'VPNSVC_ERROR_IO_ERROR');
}

/** A duplicate of `fd` (the same open file), for handing out. */
export function dupFd(fd: number): number {
  return check(loadNative().dup(fd), `duplicate fd ${fd}`, 'VPNSVC_ERROR_IO_ERROR');
}

/** vpnsvc_protect on a socket passed to the daemon: SO_BINDTODEVICE `ifname`. */
export function protectPassedSocket(sock: number, ifname: string): void {
  const rc = loadNative().protectFd(sock, ifname) as number;
  if (rc < 0) throw protectError(rc, `protect the passed socket on "${ifname}"`);
}

/** Deletes link `ifindex` (RTM_DELLINK); false when it was already gone. */
export function deleteLink(ifindex: number): boolean {
  const rc = loadNative().linkDelete(ifindex) as number;
  if (rc === -ENODEV) return false;
  check(rc, `delete link ${ifindex}`, 'VPNSVC_ERROR_IO_ERROR');
  return true;
}

/**
 * sd_notify(3): sends `message` (e.g. "READY=1") to the socket systemd names in $NOTIFY_SOCKET
 * (a path, or "@name" for an abstract socket). Throws with the errno name when it cannot.
 */
export function sdNotify(socket: string, message: string): void {
  check(loadNative().sdNotify(socket, message), `notify ${socket}`, 'VPNSVC_ERROR_IO_ERROR');
}

// ---- policy routing and dual stack (route.c, addr6.c) ---------------------------------------

/** rtnetlink's throw route type: an excluded prefix. */
export const RTN_THROW = 9;

/** Routes with the table and type of each entry (table 0: main). */
export interface TypedRoutes extends PackedRoutes {
  tables: Uint32Array;
  types: Uint8Array;
}

/** Like applyRoutes, with a table and a type per entry; all or nothing in one batch. */
export function applyTypedRoutes(ifindex: number, add: boolean, routes: TypedRoutes): RouteBatchResult {
  const failed = [-1];
  const rc = loadNative().routesApplyIn(
    ifindex,
    add ? ROUTE_ADD : ROUTE_DEL,
    routes.families,
    routes.addrs16,
    routes.prefixes,
    routes.tables,
    routes.types,
    routes.families.length,
    failed,
  ) as number;
  return { rc, failedIndex: failed[0] ?? -1 };
}

/** vpnsvc's routes of `table`: device routes through ifindex and (outside main) throw routes. */
export function listTableRoutes(ifindex: number, table: number): PackedRoutes & { types: Uint8Array } {
  let room = 256;
  for (;;) {
    const families = new Uint8Array(room);
    const addrs16 = new Uint8Array(room * 16);
    const prefixes = new Uint8Array(room);
    const types = new Uint8Array(room);
    const count = check(
      loadNative().routesListIn(ifindex, table, families, addrs16, prefixes, types, room),
      `list routes of interface ${ifindex} in table ${table}`,
    );
    if (count <= room) {
      return {
        families: families.subarray(0, count),
        addrs16: addrs16.subarray(0, count * 16),
        prefixes: prefixes.subarray(0, count),
        types: types.subarray(0, count),
      };
    }
    room = count + 256;
  }
}

/** Adds (replacing the same address) or deletes an IPv6 address on the device, without DAD. Raw -errno. */
export function changeAddress6(ifindex: number, add: boolean, address: Uint8Array, prefix: number): number {
  return loadNative().addr6Change(ifindex, add ? 1 : 0, address, prefix) as number;
}

/** The device's global-scope IPv6 addresses, as the kernel has them. */
export function listAddresses6(ifindex: number): Array<{ bytes: Uint8Array; prefix: number }> {
  const max = 16;
  const addrs16 = new Uint8Array(max * 16);
  const prefixes = new Uint8Array(max);
  const count = check(loadNative().addr6List(ifindex, addrs16, prefixes, max), `list IPv6 addresses of interface ${ifindex}`);
  const out: Array<{ bytes: Uint8Array; prefix: number }> = [];
  for (let i = 0; i < Math.min(count, max); i++) out.push({ bytes: addrs16.slice(i * 16, i * 16 + 16), prefix: prefixes[i] ?? 0 });
  return out;
}

/** SO_MARK on one of the daemon's own sockets, so policy routing keeps it out of the tunnel. */
export function setSocketMark(fd: number, mark: number): void {
  check(loadNative().sockSetMark(fd, mark >>> 0), `set SO_MARK ${mark} on fd ${fd}`, 'VPNSVC_ERROR_IO_ERROR');
}

export function socketMark(fd: number): number {
  const out = [0];
  check(loadNative().sockGetMark(fd, out), `read SO_MARK of fd ${fd}`);
  return out[0] ?? 0;
}
