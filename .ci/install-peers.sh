#!/usr/bin/env bash
# Installs the real RDP peers that the integration tests start themselves (tests/src/peers.rs):
# xrdp 0.9, FreeRDP 2's shadow server (NLA) under Xvfb, winpr-hash for its SAM file, rdesktop
# (a real client for the client matrix's test), chromium (the HTML report's test), and openssl
# for the test certificates, python3 for the loopback RD Gateway (fixtures/tools/rdg_server.py), iproute2 and iptables for the filtered-port test (a network namespace);
# krb5-kdc, krb5-admin-server (kadmin.local), python3-gssapi, faketime and dnsmasq-base (SRV records) for the Kerberos logon test
# (a throw-away MIT realm and a GSSAPI CredSSP acceptor in a namespace: probe/tests/kerberos_logon.rs);
# prometheus (and its promtool) scrapes `rdprobe exporter` in tests/it/exporter.rs and checks docs/prometheus/;
# parallel (GNU) and DuckDB (pip) run the README's fleet recipes in probe/tests/recipes.rs.
# Debian 12 (bookworm), run as root. Idempotent.
#
# It starts nothing and leaves nothing running: the tests run their own peers on ephemeral
# loopback ports. A daemon-mode xrdp must NOT be running, because its /run/xrdp/xrdp.pid makes
# every `xrdp --nodaemon` exit at once ("It looks like xrdp is already running").
set -euo pipefail

PKGS=(python3 python3-gssapi krb5-kdc krb5-admin-server faketime dnsmasq-base prometheus parallel xrdp freerdp2-shadow-x11 freerdp2-x11 winpr-utils xvfb openssl ca-certificates iproute2 iptables rdesktop chromium)

[ "$(id -u)" -eq 0 ] || { echo "install-peers: must run as root" >&2; exit 1; }

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-peers: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # xrdp's postinst runs `invoke-rc.d xrdp start` (a daemon on 0.0.0.0:3389 plus xrdp-sesman)
  # unless a policy-rc.d forbids it. Forbid service starts during the install; a policy-rc.d the
  # machine already has (Docker images ship one that exits 101) is left as it is.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# temporary, written by .ci/install-peers.sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  trap '[ $own_policy = 1 ] && rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get update -q
  # --no-install-recommends: xrdp would otherwise pull in xorgxrdp and a whole Xorg.
  # The lock timeout and the one retry: another apt run on the same machine can break an install
  # halfway ("cannot access archive /tmp/apt-dpkg-install-*"); a rerun fixes it.
  apt_install() {
    apt-get install -y -q -o DPkg::Lock::Timeout=300 --no-install-recommends "${missing[@]}"
  }
  if ! apt_install; then
    echo "install-peers: apt-get install failed once; apt-get update and retry" >&2
    apt-get update -q
    apt_install
  fi
  if [ $own_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  own_policy=0
else
  echo "install-peers: packages already installed"
fi

# The RSA key xrdp uses for Standard RDP Security has a compiled-in path. The postinst makes it;
# recreate it if it is missing.
if [ ! -s /etc/xrdp/rsakeys.ini ]; then
  echo "install-peers: generating /etc/xrdp/rsakeys.ini"
  xrdp-keygen xrdp auto >/dev/null
fi

# No xrdp daemon may run, and no xrdp.pid may exist. Stop only the daemon the PID file names,
# and only when that PID really is an xrdp (never by name: other xrdp processes may be tests').
for pidfile in /run/xrdp/xrdp.pid /var/run/xrdp/xrdp.pid /run/xrdp/xrdp-sesman.pid /var/run/xrdp/xrdp-sesman.pid; do
  [ -e "$pidfile" ] || continue
  pid=$(tr -dc '0-9' <"$pidfile" || true)
  if [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] && grep -qx 'xrdp\(-sesman\)\?' "/proc/$pid/comm"; then
    echo "install-peers: stopping the daemon $(cat "/proc/$pid/comm") (pid $pid, from $pidfile)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do [ -d "/proc/$pid" ] || break; sleep 0.1; done
    if [ -d "/proc/$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$pidfile"
done
if [ -e /run/xrdp/xrdp.pid ]; then
  echo "install-peers: /run/xrdp/xrdp.pid still exists" >&2
  exit 1
fi

# DuckDB for the recipes test (probe/tests/recipes.rs), from PyPI into the python3 the tests
# run (not a Debian package).
if ! python3 -c 'import duckdb' 2>/dev/null; then
  echo "install-peers: pip install duckdb"
  python3 -m pip install --quiet --disable-pip-version-check 'duckdb>=1.1'
fi

# What the harness runs, to fail here rather than as a skipped test.
for exe in xrdp Xvfb freerdp-shadow-cli winpr-hash openssl krb5kdc kadmin.local faketime dnsmasq prometheus promtool parallel; do
  command -v "$exe" >/dev/null || { echo "install-peers: $exe is missing after the install" >&2; exit 1; }
done
echo "install-peers: ok ($(dpkg-query -W -f='${Version}' xrdp 2>/dev/null) xrdp, $(dpkg-query -W -f='${Version}' freerdp2-shadow-x11 2>/dev/null) freerdp-shadow)"
