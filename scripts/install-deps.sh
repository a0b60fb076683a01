#!/usr/bin/env bash
# Installs, with apt-get, the Debian packages vpnsvc and its tests use that a fresh machine lacks.
# Run as root. Installs nothing when everything is there.
set -euo pipefail

need=()
want() { # want COMMAND|/PATH PACKAGE... : the packages, when COMMAND (or the file at PATH) is missing
  local cmd=$1; shift
  if [[ $cmd == /* ]]; then [[ -e $cmd ]] && return 0; else command -v "$cmd" >/dev/null && return 0; fi
  need+=("$@")
}
want ip iproute2                 # the tests read the kernel back with ip -j
want make make                   # the native shim is built at npm install
want cc gcc libc6-dev
want nft nftables                # the kill switch applies its table with nft
want ping iputils-ping           # ICMP probes of the leak test and the end-to-end tunnel
want /usr/bin/python3 python3    # the protect test's client app and TUN reader (also as nobody); the sd_notify receiver
want setpriv util-linux          # the protect and capability tests' restricted callers
want openssl openssl             # the TLS test makes its certificate
want ethtool ethtool             # the offload test reads a TUN's offloads back from the kernel
want iperf3 iperf3               # npm run demo and npm run bench
want openvpn openvpn             # npm run bench: the OpenVPN peer (p2p, no crypto)
want socat socat                 # npm run bench: the socat TUN-over-UDP peer
want curl-config libcurl4-openssl-dev          # clients/c (libcapi-vpnsvc): HTTP to the daemon
want /usr/include/json-c/json.h libjson-c-dev  # clients/c: JSON bodies
want pkg-config pkg-config                     # clients/c: its build and its capi-vpnsvc.pc
want curl curl                   # the console test makes an event with curl
want /usr/bin/chromium chromium  # the console tests drive Debian's Chromium (playwright-core, no browser download)
want man man-db                  # man vpnsvc (the page is built with npm run build)
want groff groff-base            # the man page test renders it
want zsh zsh                     # the completion test runs the zsh script

if ((${#need[@]} > 0)); then
  echo "installing: ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi
