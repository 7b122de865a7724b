#!/usr/bin/env bash
# The reverse-proxy deployment of README.md, tested: Debian's nginx terminating TLS in
# front of `pushwire serve`, configured by docs/nginx.conf itself.
#
#   scripts/nginx-test.sh
#
# Installs what is missing (nginx with apt-get, as root; Python's websockets with pip),
# makes a throwaway CA and a certificate for localhost/127.0.0.1, picks free loopback
# ports, renders docs/nginx.conf with them (scripts/nginx-test.py refuses if a documented
# value it replaces is gone), and runs pushwire and nginx on 127.0.0.1 only. nginx gets
# its own prefix, temp directories, logs and pid file in a temp directory: nothing under
# /etc/nginx or /var is read or written. Both are stopped by PID on exit, failed or not.
#
# What it proves through nginx, over TLS verified against the test CA:
#   - a wss:// subscriber (Python websockets) receives what a POST publishes, with the
#     hub's id/epoch JSON, and what it sends itself is published;
#   - a held long-poll (HTTP/1.1 and HTTP/2) is answered as soon as a message is
#     published, and one that times out gets pushwire's 204, not nginx's 504;
#   - /healthz and the demo page, the plain-HTTP redirect, body limits, a slow reader's
#     large answer not spooled to disk (proxy_buffering off), the forwarded headers and
#     keepalive connections pushwire receives, an access log without query strings, and
#     the documented timeouts against the binary's defaults.
# These are the transports the hub has now: WebSocket and long-polling. When the hub
# serves Server-Sent Events, a check of an SSE stream through nginx belongs here too.
#
# PUSHWIRE_BIN=path tests that binary; otherwise target/release/pushwire, after
# `cargo build --release` (nothing to do when it is up to date). Prints
# `nginx-test: ok (...)` with the measured figures, or nginx's error log and the end of
# pushwire's log and a non-zero exit status.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
STARTED="$(date +%s.%N)"
export PATH="$PATH:/usr/sbin:/sbin"  # nginx is in /usr/sbin

say() { echo "[nginx-test.sh] $*"; }
fail() {
  say "$*"
  exit 1
}

# --- what the test needs ---
if ! command -v nginx >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || fail "nginx is not installed, and installing it needs root"
  export DEBIAN_FRONTEND=noninteractive
  say "installing nginx"
  apt-get install -y -q --no-install-recommends nginx \
    || { apt-get update -q && apt-get install -y -q --no-install-recommends nginx; }
fi
NGINX_VERSION="$(nginx -v 2>&1 | sed 's|.*nginx/||')"

if ! python3 -c 'import websockets.sync.client' 2>/dev/null; then
  say "installing Python websockets"
  python3 -m pip install -q 'websockets>=12' \
    || python3 -m pip install -q --break-system-packages 'websockets>=12'
fi

if [ -n "${PUSHWIRE_BIN:-}" ]; then
  BIN="$PUSHWIRE_BIN"
else
  cargo build --release
  BIN="$PWD/target/release/pushwire"
fi
[ -x "$BIN" ] || fail "no pushwire binary at $BIN"
# The server runs with its defaults, whatever PUSHWIRE_* options this shell has.
for var in $(compgen -e); do
  case "$var" in PUSHWIRE_*) unset "$var" ;; esac
done

# --- a temp directory for everything, removed on exit ---
TMP="$(mktemp -d /tmp/pushwire-nginx.XXXXXX)"
# nginx's workers run as `nobody` when the master is root: they must reach its temp dirs.
chmod 755 "$TMP"
PUSHWIRE_PID=""
NGINX_PID=""

# Stops one process this script started, by its PID: SIGTERM, then SIGKILL after 10 s.
stop() {
  local pid="$1" name="$2" state
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 200); do
    state="$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1 || true)"
    if [ -z "$state" ] || [ "$state" = Z ]; then
      wait "$pid" 2>/dev/null || true
      return 0
    fi
    sleep 0.05
  done
  say "$name (pid $pid) did not stop within 10 s of SIGTERM: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  set +e  # stop both and remove the directory whatever fails on the way
  stop "$NGINX_PID" nginx
  stop "$PUSHWIRE_PID" pushwire
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# On failure: nginx's error log and the end of pushwire's, printed and kept (with the
# rendered configuration and the access log) in $ARTIFACTS/nginx-test.
show_logs() {
  local keep="${ARTIFACTS:-/tmp/pushwire-artifacts}/nginx-test"
  say "nginx's error log:"
  cat "$TMP/error.log" 2>/dev/null || true
  say "the end of pushwire's log (--trace):"
  tail -n 40 "$TMP/pushwire.log" 2>/dev/null || true
  rm -rf "$keep" && mkdir -p "$keep"
  cp "$TMP"/*.log "$TMP"/*.conf "$keep"/ 2>/dev/null || true
  say "logs and configuration kept in $keep"
}

# --- a CA and a certificate for localhost and 127.0.0.1, signed by it ---
mkdir "$TMP/tls"
(
  cd "$TMP/tls"
  cat >ca.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no
x509_extensions = ca
[dn]
CN = pushwire nginx-test CA
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
  cat >server.ext <<'EOF'
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  openssl req -x509 -new -config ca.cnf -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ca.key -out ca.pem -days 2 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
    -keyout server.key -out server.csr 2>/dev/null
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -set_serial 1 -days 2 \
    -extfile server.ext -out server.pem 2>/dev/null
  chmod 600 ca.key server.key
) || fail "openssl could not make the test certificate"

# --- three free loopback ports: pushwire, nginx TLS, nginx plain HTTP ---
# (bound at once so they differ, and closed before they are printed: `read` returns as
# soon as the line arrives, possibly before the Python process has exited)
read -r UPSTREAM_PORT HTTPS_PORT HTTP_PORT < <(python3 -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
ports = [s.getsockname()[1] for s in socks]
for s in socks:
    s.close()
print(*ports, flush=True)')

# --- pushwire, with --trace: the checks read what nginx sent it ---
"$BIN" serve --addr "127.0.0.1:$UPSTREAM_PORT" --trace >"$TMP/pushwire.log" 2>&1 &
PUSHWIRE_PID=$!
for _ in $(seq 1 100); do
  kill -0 "$PUSHWIRE_PID" 2>/dev/null || { show_logs; fail "pushwire exited at start"; }
  curl -fsS --max-time 1 "http://127.0.0.1:$UPSTREAM_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS --max-time 1 "http://127.0.0.1:$UPSTREAM_PORT/healthz" >/dev/null \
  || { show_logs; fail "pushwire did not answer /healthz within 10 s"; }

# --- nginx: docs/nginx.conf, rendered, as the one site of a minimal nginx.conf ---
mkdir "$TMP/temp"
python3 scripts/nginx-test.py render --conf docs/nginx.conf --out "$TMP/pushwire.conf" \
  --upstream-port "$UPSTREAM_PORT" --https-port "$HTTPS_PORT" --http-port "$HTTP_PORT" \
  --cert "$TMP/tls/server.pem" --key "$TMP/tls/server.key" --access-log "$TMP/access.log"
cat >"$TMP/nginx.conf" <<EOF
# What Debian's /etc/nginx/nginx.conf would give the site, with every path in $TMP.
worker_processes 1;
events {
    worker_connections 256;
}
http {
    client_body_temp_path $TMP/temp/client_body;
    proxy_temp_path       $TMP/temp/proxy;
    fastcgi_temp_path     $TMP/temp/fastcgi;
    uwsgi_temp_path       $TMP/temp/uwsgi;
    scgi_temp_path        $TMP/temp/scgi;
    access_log            $TMP/access-other.log;
    include               $TMP/pushwire.conf;
}
EOF
# -e: the error log from the first line on (not the compiled-in /var/log/nginx/error.log).
NGINX_ARGS=(-p "$TMP/" -c "$TMP/nginx.conf" -e "$TMP/error.log")
NGINX_GLOBALS="pid $TMP/nginx.pid; error_log $TMP/error.log warn;"
nginx -t -q "${NGINX_ARGS[@]}" -g "$NGINX_GLOBALS" \
  || { show_logs; fail "nginx -t refused the rendered docs/nginx.conf"; }
nginx "${NGINX_ARGS[@]}" -g "daemon off; $NGINX_GLOBALS" &
NGINX_PID=$!
for _ in $(seq 1 100); do
  kill -0 "$NGINX_PID" 2>/dev/null || { show_logs; fail "nginx exited at start"; }
  curl -fsS --max-time 1 --cacert "$TMP/tls/ca.pem" --resolve "localhost:$HTTPS_PORT:127.0.0.1" \
    "https://localhost:$HTTPS_PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
say "nginx $NGINX_VERSION (pid $NGINX_PID) on https://localhost:$HTTPS_PORT and" \
  "http://127.0.0.1:$HTTP_PORT, pushwire (pid $PUSHWIRE_PID) on 127.0.0.1:$UPSTREAM_PORT"

# --- the checks (each bounded; this is the backstop) ---
rc=0
timeout 300 python3 scripts/nginx-test.py check --conf docs/nginx.conf --bin "$BIN" \
  --https-port "$HTTPS_PORT" --http-port "$HTTP_PORT" --ca "$TMP/tls/ca.pem" \
  --trace-log "$TMP/pushwire.log" --error-log "$TMP/error.log" --access-log "$TMP/access.log" \
  --nginx-version "$NGINX_VERSION" --started "$STARTED" || rc=$?
if [ "$rc" != 0 ]; then
  show_logs
  fail "failed (exit $rc)"
fi
