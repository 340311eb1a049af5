#!/usr/bin/env bash
# Side-by-side wall time of `rdprobe probe` against nmap's rdp scripts and sslscan --rdp, on the
# ten loopback peers of ../shared/peers (started by setup-peers.sh: ports 13389-13398).
# Usage: benches/scripts/probe_vs_nmap.sh [OUTDIR]   (needs nmap, sslscan, a release build)
set -eu
OUT=${1:-/tmp/probe-bench}
mkdir -p "$OUT/nmapdata"
# nmap runs its rdp-* scripts only on ports named ms-wbt-server: a datadir naming the peer ports.
grep -vE '[[:space:]]133(89|9[0-9])/tcp' /usr/share/nmap/nmap-services >"$OUT/nmapdata/nmap-services"
for p in $(seq 13389 13398); do printf 'ms-wbt-server\t%s/tcp\t0.5\t# rdp peer\n' "$p" >>"$OUT/nmapdata/nmap-services"; done
targets=$(for p in $(seq 13389 13398); do printf '127.0.0.1:%s ' "$p"; done)
t() { local name=$1; shift; /usr/bin/time -f "$name %e s %M KB" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" || true; tail -1 "$OUT/$name.err"; }
t rdprobe ./target/release/rdprobe probe $targets --format json
t nmap nmap -n -Pn --datadir "$OUT/nmapdata" -p 13389-13398 --script rdp-enum-encryption,rdp-ntlm-info 127.0.0.1
start=$(date +%s.%N)
for p in 13390 13391 13392 13393 13394; do sslscan --no-colour --rdp "127.0.0.1:$p" >"$OUT/sslscan-$p.out" 2>&1 || true; done
echo "sslscan (5 TLS peers, sequential) $(echo "$(date +%s.%N) - $start" | bc) s"
