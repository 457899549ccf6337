#!/usr/bin/env bash
# Deploy smoke test (run by .ci/run, not by pytest): the platform deployed as docs/deploy.md deploys it,
# then probed from outside with curl. On a fresh PostgreSQL cluster of its own (initdb into a temporary
# folder, another port: the suite's database is never touched), with Debian's nginx and this checkout:
#
#  1. flask init and flask security check with the production settings of deploy/env.example;
#  2. the nginx site rendered from deploy/nginx (render.sh), `nginx -t`, nginx started;
#  3. two gunicorn instances (deploy/gunicorn.conf.py) on Unix sockets given to www-data, each also on a
#     TCP port that requires the shared secret (a "machine 2" listener);
#  4. through nginx: /health; a test-CA client certificate signs an enterprise in on the certificate
#     entry and its session works on the ordinary name (a dotted test name: the cookie domain holds);
#     a foreign CA's certificate and no certificate are refused by nginx; the signed-challenge login
#     (GET /login/ca/nonce, signature, POST); a password login with the CSRF token;
#  5. forged X-SSL-Client-Cert and X-Forwarded-For sent to the app directly (TCP, without the secret) are
#     refused and audited with the real address; a local user outside www-data cannot open the socket;
#  6. PostgreSQL stopped for a few seconds: /health and a signed-in page answer 503 with Retry-After,
#     then 200 again, with the same gunicorn and nginx processes (nothing restarted);
#  7. under continuous requests through nginx, instance 1 restarted as deploy/rolling-restart.sh does it
#     (down, up, healthy) and instance 2 reloaded (HUP): no request fails.
#
# Needs root (nginx's www-data workers, PostgreSQL's postgres user), Redis on 127.0.0.1:6379 (db 12 and
# 13 are used and flushed) and the Python of the checkout with requirements.txt installed. Installs
# Debian's nginx when it is missing. Prints the time of every step; exits non-zero at the first failure.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
START=$(date +%s.%N)
since() { awk -v now="$(date +%s.%N)" -v then="$1" 'BEGIN { printf "%.2f", now - then }'; }
step() { printf '== %6s s  %s\n' "$(since "$START")" "$*"; }
fail() { echo "SMOKE TEST FAILED: $*" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

[ "$(id -u)" = 0 ] || fail "run as root"
export DEBIAN_FRONTEND=noninteractive
missing=""
for pkg in nginx gettext-base curl; do dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"; done
if [ -n "$missing" ]; then
  step "apt-get install$missing"
  apt-get update -qq && apt-get install -y -qq $missing >/dev/null
fi
PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)"
redis-cli -p 6379 ping >/dev/null 2>&1 || fail "Redis is not running on 127.0.0.1:6379"

T="$(mktemp -d /tmp/azx-smoke.XXXXXX)"
chmod 755 "$T"
PG_PORT="$(free_port)"; HTTPS_PORT="$(free_port)"; HTTP_PORT="$(free_port)"
# instance n listens on TCP port ${TCP_BASE}n as well: a base whose ports …1 and …2 are both free
TCP_BASE="$(python3 -c '
import random, socket
def free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False
while True:
    base = random.randint(3000, 6499)
    if free(base * 10 + 1) and free(base * 10 + 2):
        print(base)
        break')"
GUNICORN_PIDS=()
cleanup() {
  set +e
  for pid in "${GUNICORN_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for f in "$T"/run/gunicorn-*.pid; do [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; done
  [ -f "$T/nginx/nginx.pid" ] && kill -QUIT "$(cat "$T/nginx/nginx.pid")" 2>/dev/null
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$T/pg/data" -m immediate stop >/dev/null 2>&1
  redis-cli -n 12 flushdb >/dev/null 2>&1; redis-cli -n 13 flushdb >/dev/null 2>&1
  sleep 1
  if [ "${KEEP_SMOKE:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
mkdir -p "$T"/{etc,tls,run,files,instance,nginx,ca}

# ---------------------------------------------------------------- PostgreSQL of its own
step "PostgreSQL: initdb into $T/pg, port $PG_PORT"
install -d -o postgres -g postgres "$T/pg"
runuser -u postgres -- "$PG_BIN/initdb" -D "$T/pg/data" -A trust -U postgres -E UTF8 --no-sync >/dev/null
pg_start() {
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$T/pg/data" -l "$T/pg/log" -w -o \
    "-p $PG_PORT -k $T/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off" start >/dev/null
}
pg_start
psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE anzexian" >/dev/null

# ---------------------------------------------------------------- settings, as deploy/env.example has them
SITE=azx.smoke.test; CA_SITE=ca.azx.smoke.test
SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
PROXY_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
MONITOR_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
cp "$REPO/deploy/config.example.py" "$T/etc/config.py"
cat > "$T/etc/env" <<EOF
DATABASE_URL=postgresql://postgres@127.0.0.1:$PG_PORT/anzexian
SECRET_KEY=$SECRET
FILE_STORAGE_ROOT=$T/files
FILE_STORAGE_BACKEND=local
INSTANCE_DIR=$T/instance
AZX_CONFIG=$T/etc/config.py
AZX_ENV=production
FLASK_APP=app:create_app
SITE_NAME=$SITE
CA_SITE_NAME=$CA_SITE
FAB_SAFE_REDIRECT_HOSTS=$SITE,$CA_SITE
SESSION_COOKIE_DOMAIN=.$SITE
CA_BUNDLE=$T/tls/client-ca.pem
CA_PROXY_LOGIN_URL=https://$CA_SITE:$HTTPS_PORT/login/ca/proxy
GUNICORN_BIND=unix:$T/run/web-{instance}.sock,127.0.0.1:${TCP_BASE}{instance}
TRUSTED_PROXIES=unix,127.0.0.1
PROXY_SECRET=$PROXY_SECRET
REDIS_URL=redis://127.0.0.1:6379/13
TASK_QUEUE_URL=redis://127.0.0.1:6379/12
HEALTH_MONITORING_KEY=$MONITOR_KEY
LOG_FORMAT=json
LOG_LEVEL=INFO
WEB_CONCURRENCY=2
TLS_CERT=$T/tls/server.crt
TLS_KEY=$T/tls/server.key
CLIENT_CA=$T/tls/client-ca.pem
HTTPS_PORT=$HTTPS_PORT
HTTP_PORT=$HTTP_PORT
WEB_SOCKET=unix:$T/run/web-{instance}.sock
APP_DIR=$REPO
NGINX_LOG_DIR=$T/nginx
EOF
redis-cli -n 12 flushdb >/dev/null; redis-cli -n 13 flushdb >/dev/null
as_app() { (cd "$REPO" && set -a && . "$T/etc/env" && set +a && exec "$@"); }

# TLS (made while flask init runs): the server certificate for both names, the test CA with an enterprise's
# certificate, and a foreign CA with a certificate of the same credit code.
USCC=91230103MA1B2C3D4L
make_certificates() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$SITE" \
    -addext "subjectAltName=DNS:$SITE,DNS:$CA_SITE" -keyout "$T/tls/server.key" -out "$T/tls/server.crt" 2>/dev/null
  (cd "$REPO" && exec python3 - "$T" "$USCC" <<'PY'
import sys
from app.cli.ca import make_ca, make_client_certificate, pem_certificate, pem_private_key
tmp, uscc = sys.argv[1], sys.argv[2]
for folder, ca_name, org in (("ca", "安责险测试CA", "哈尔滨测试建设有限公司"), ("foreign", "外来CA", "冒充建设有限公司")):
    cert, key = make_ca(ca_name)
    leaf, leaf_key = make_client_certificate(cert, key, uscc, org)
    open(f"{tmp}/{folder}-ca.pem", "wb").write(pem_certificate(cert))
    open(f"{tmp}/{folder}-client.pem", "wb").write(pem_certificate(leaf))
    open(f"{tmp}/{folder}-client-key.pem", "wb").write(pem_private_key(leaf_key))
PY
  )
  cp "$T/ca-ca.pem" "$T/tls/client-ca.pem"
}

step "flask init (migrations, reference data, permissions, admin), certificates meanwhile"
make_certificates > "$T/certs.log" 2>&1 &
certs=$!
ADMIN_PASSWORD='Smoke#Admin2026x' as_app python3 -m flask init > "$T/init.log" 2>&1 || { tail -30 "$T/init.log"; fail "flask init"; }
wait "$certs" || { cat "$T/certs.log"; fail "certificates"; }
step "flask security check (meanwhile: nginx and gunicorn start)"
as_app python3 -m flask security check > "$T/check.log" 2>&1 &
check=$!

# ---------------------------------------------------------------- nginx
step "nginx: render the site from deploy/nginx, nginx -t, start"
"$REPO/deploy/nginx/render.sh" "$T/etc/env" > "$T/nginx/anzexian.conf"
sed -e "s|include /etc/nginx/sites-enabled/\*;|include $T/nginx/anzexian.conf;|" \
    -e "s|^pid .*|pid $T/nginx/nginx.pid;|" -e "s|^error_log .*|error_log $T/nginx/error.log;|" \
    -e "s|access_log /var/log/nginx/access.log;|access_log $T/nginx/access.log;|" \
    /etc/nginx/nginx.conf > "$T/nginx/nginx.conf"
nginx -t -c "$T/nginx/nginx.conf" 2>&1 | sed 's/^/   /'
nginx -c "$T/nginx/nginx.conf"
nginx -v 2>&1 | sed 's/^/   /'

# ---------------------------------------------------------------- gunicorn, two instances
start_instance() {
  local n="$1"
  (cd "$REPO" && set -a && . "$T/etc/env" && set +a && export GUNICORN_INSTANCE="$n" && \
    exec python3 -m gunicorn -c deploy/gunicorn.conf.py --pid "$T/run/gunicorn-$n.pid" app.wsgi:application) \
    >> "$T/gunicorn-$n.log" 2>&1 &
  GUNICORN_PIDS[$n]=$!
}
stop_instance() {
  local pid; pid="$(cat "$T/run/gunicorn-$1.pid")"
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
}
socket_health() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 --unix-socket "$T/run/web-$1.sock" http://localhost/health || true; }
wait_healthy() {
  local n="$1" deadline=$(( $(date +%s) + 120 ))
  until [ "$(socket_health "$n")" = 200 ]; do
    if [ "$(date +%s)" -ge "$deadline" ] || ! kill -0 "${GUNICORN_PIDS[$n]}" 2>/dev/null; then
      tail -20 "$T/gunicorn-$n.log"; fail "instance $n not healthy"
    fi
    sleep 0.3
  done
}
step "gunicorn: instances 1 and 2 (preload_app, 2 workers each)"
start_instance 1; start_instance 2
wait_healthy 1; wait_healthy 2
ls -l "$T/run/web-1.sock" | awk '{print "   socket " $1 " " $3 ":" $4}'
[ "$(stat -c '%a %G' "$T/run/web-1.sock")" = "660 www-data" ] || fail "socket not 0660 www-data"
grep -h '"message": "master ready' "$T"/gunicorn-*.log | sed 's/.*"message": "\([^"]*\)".*/   \1/'
masters_and_workers() { for n in 1 2; do m="$(cat "$T/run/gunicorn-$n.pid")"; echo "$m $(pgrep -P "$m" | sort | tr '\n' ' ')"; done; }
PIDS_BEFORE="$(masters_and_workers)"
wait "$check" || { cat "$T/check.log"; fail "flask security check refused the settings"; }
grep -q "生产配置检查通过" "$T/check.log" || fail "flask security check said: $(cat "$T/check.log")"
echo "   flask security check: $(tail -n1 "$T/check.log")"

CURL=(curl -sS --max-time 20 --cacert "$T/tls/server.crt" --resolve "$SITE:$HTTPS_PORT:127.0.0.1" --resolve "$CA_SITE:$HTTPS_PORT:127.0.0.1")
URL="https://$SITE:$HTTPS_PORT"; CA_URL="https://$CA_SITE:$HTTPS_PORT"

# ---------------------------------------------------------------- through nginx
step "through nginx: /health"
body="$("${CURL[@]}" "$URL/health")"
echo "   $body"
case "$body" in *'"status":"ok"'*'"redis"'*|*'"redis"'*'"status":"ok"'*) ;; *) fail "/health: $body";; esac
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/health" -H "Host: $SITE")" = 200 ] || fail "plain-http /health"

step "certificate login through nginx (test CA), then the ordinary site with its session"
jar="$T/enterprise.jar"
read -r code location < <("${CURL[@]}" -o /dev/null -w '%{http_code} %{redirect_url}\n' -c "$jar" -b "$jar" \
  --cert "$T/ca-client.pem" --key "$T/ca-client-key.pem" "$CA_URL/login/ca/proxy")
echo "   $CA_URL/login/ca/proxy → $code $location"
[ "$code" = 302 ] || fail "certificate login answered $code"
case "$location" in *"/my/enterprise/"*) ;; *) fail "certificate login went to $location";; esac
grep -q "^#HttpOnly_\.$SITE" "$jar" || grep -q "^\.$SITE" "$jar" || fail "session cookie not for .$SITE: $(cat "$jar")"
page="$("${CURL[@]}" -b "$jar" -L "$URL/my/enterprise/")"
echo "$page" | grep -q "$USCC" || fail "the enterprise's page does not show its credit code"
headers="$("${CURL[@]}" -b "$jar" -D - -o /dev/null "$URL/my/enterprise/")"
echo "$headers" | grep -qi '^cache-control: no-store' || fail "a signed-in page lacks Cache-Control: no-store"
echo "   /my/enterprise/ → 200 with $USCC, Cache-Control: no-store"

step "refused by nginx: a foreign CA's certificate, no certificate"
for args in "--cert $T/foreign-client.pem --key $T/foreign-client-key.pem" ""; do
  # shellcheck disable=SC2086
  code="$("${CURL[@]}" -o /dev/null -w '%{http_code}' $args "$CA_URL/login/ca/proxy")"
  echo "   ${args:-no certificate} → $code"
  [ "$code" = 400 ] || fail "nginx answered $code for ${args:-no certificate}"
done

step "signed challenge: nonce, signature, POST"
jar2="$T/challenge.jar"
nonce_json="$("${CURL[@]}" -c "$jar2" -b "$jar2" "$URL/login/ca/nonce")"
nonce="$(echo "$nonce_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["nonce"])')"
csrf="$(echo "$nonce_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')"
message="$(echo "$nonce_json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["message"], end="")')"
# the bytes the server asks for, signed with the certificate's key as any client would (ECDSA, SHA-256)
signature="$(printf '%s' "$message" | openssl dgst -sha256 -sign "$T/ca-client-key.pem" | base64 -w0)"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code} %{redirect_url}' -c "$jar2" -b "$jar2" -H "Referer: $URL/login/ca/" \
  --data-urlencode "nonce=$nonce" --data-urlencode "certificate@$T/ca-client.pem" \
  --data-urlencode "signature=$signature" --data-urlencode "csrf_token=$csrf" "$URL/login/ca/")"
echo "   POST /login/ca/ → $code"
case "$code" in "302 "*/login*) fail "signed-challenge login refused ($code)";; "302 "*) ;; *) fail "signed-challenge login answered $code";; esac
[ "$("${CURL[@]}" -o /dev/null -w '%{http_code}' -b "$jar2" "$URL/my/enterprise/")" = 200 ] || fail "no session after the signed challenge"

step "password login with the CSRF token"
jar3="$T/admin.jar"
csrf="$("${CURL[@]}" -c "$jar3" -b "$jar3" "$URL/login/" | sed -n 's/.*name="csrf_token"[^>]*value="\([^"]*\)".*/\1/p' | head -n1)"
code="$("${CURL[@]}" -o /dev/null -w '%{http_code} %{redirect_url}' -c "$jar3" -b "$jar3" -H "Referer: $URL/login/" \
  --data-urlencode "username=admin" --data-urlencode "password=Smoke#Admin2026x" --data-urlencode "csrf_token=$csrf" "$URL/login/")"
echo "   POST /login/ → $code"
case "$code" in "302 "*) ;; *) fail "password login answered $code";; esac
[ "$("${CURL[@]}" -o /dev/null -w '%{http_code}' -b "$jar3" "$URL/users/userinfo/")" = 200 ] || fail "admin page after login"

# ---------------------------------------------------------------- forged headers, sent to the app directly
step "forged X-SSL-Client-Cert and X-Forwarded-For straight to gunicorn (TCP, no secret)"
escaped="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(open(sys.argv[1]).read()))' "$T/ca-client.pem")"
jar4="$T/forged.jar"
for secret_header in "" "X-Proxy-Secret: wrong-$PROXY_SECRET"; do
  read -r code location < <(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}\n' -c "$jar4" -b "$jar4" \
    -H "X-SSL-Client-Cert: $escaped" -H "X-Forwarded-For: 203.0.113.66" ${secret_header:+-H "$secret_header"} \
    "http://127.0.0.1:${TCP_BASE}1/login/ca/proxy")
  echo "   ${secret_header:-no secret}: /login/ca/proxy → $code $location"
  case "$location" in *"/login/ca/"*) ;; *) fail "a forged certificate header was believed ($code $location)";; esac
  [ "$(curl -s -o /dev/null -w '%{http_code}' -b "$jar4" "http://127.0.0.1:${TCP_BASE}1/my/enterprise/")" != 200 ] \
    || fail "the forged certificate signed someone in"
done
audit="$(psql -At -h 127.0.0.1 -p "$PG_PORT" -U postgres anzexian -c \
  "SELECT ip || ' ' || detail FROM audit_event WHERE action = 'login_failed' ORDER BY id DESC LIMIT 1")"
echo "   audit: $audit"
case "$audit" in "127.0.0.1 certificate no_proxy_certificate"*) ;; *) fail "audit of the forged attempt: $audit";; esac
step "the Unix socket: nginx's group may connect, another local user may not"
if runuser -u nobody -- curl -s -o /dev/null --unix-socket "$T/run/web-1.sock" http://localhost/health 2>/dev/null; then
  fail "user nobody could open the socket"
fi
echo "   nobody: connection refused (permission denied); www-data (nginx): served the requests above"

# ---------------------------------------------------------------- PostgreSQL stops for a few seconds
step "PostgreSQL stopped: 503 with Retry-After, then 200 again without restarting anything"
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$T/pg/data" -m fast -w stop >/dev/null
for path in /health /users/userinfo/ /login/; do
  headers="$("${CURL[@]}" -b "$jar3" -D - -o "$T/down.html" "$URL$path")"
  code="$(echo "$headers" | sed -n 's/^HTTP\/[0-9.]* \([0-9]*\).*/\1/p' | tail -n1)"
  retry="$(echo "$headers" | sed -n 's/^[Rr]etry-[Aa]fter: *\([0-9]*\).*/\1/p' | tail -n1)"
  echo "   $path → $code, Retry-After: ${retry:-none}"
  [ "$code" = 503 ] && [ -n "$retry" ] || fail "$path answered $code without the database"
  if grep -q "Traceback" "$T/down.html"; then fail "$path showed a traceback"; fi
done
sleep 3
pg_start
down_at=$(date +%s.%N)
until [ "$("${CURL[@]}" -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ]; do
  awk -v s="$(since "$down_at")" 'BEGIN { exit !(s < 60) }' || fail "/health did not recover"
  sleep 0.1
done
echo "   /health 200 again $(since "$down_at") s after PostgreSQL was started"
[ "$("${CURL[@]}" -o /dev/null -w '%{http_code}' -b "$jar3" "$URL/users/userinfo/")" = 200 ] || fail "the signed-in page after recovery"
[ "$(masters_and_workers)" = "$PIDS_BEFORE" ] || fail "gunicorn processes changed: $PIDS_BEFORE → $(masters_and_workers)"
echo "   the same gunicorn masters and workers as before: $(echo "$PIDS_BEFORE" | tr '\n' ';')"

# ---------------------------------------------------------------- rolling restart and reload under requests
step "instance 1 restarted (rolling-restart.sh), instance 2 reloaded (HUP), under continuous requests"
load() {  # requests until the stop file appears; one line per request: code seconds
  while [ ! -f "$T/stop-load" ]; do
    "${CURL[@]}" -o /dev/null -w '%{http_code} %{time_total}\n' "$URL/health" || echo "000 0"
  done > "$T/load-$1.txt"
}
load a & load_a=$!
sleep 1
cat > "$T/restart-instance" <<EOF
#!/bin/sh
# what systemctl restart anzexian-web@\$1 does here, where no systemd runs
pid="\$(cat $T/run/gunicorn-\$1.pid)"; kill -TERM "\$pid"; while kill -0 "\$pid" 2>/dev/null; do sleep 0.1; done
cd "$REPO" && set -a && . "$T/etc/env" && set +a && GUNICORN_INSTANCE="\$1" \
  nohup python3 -m gunicorn -c deploy/gunicorn.conf.py --pid "$T/run/gunicorn-\$1.pid" app.wsgi:application >> "$T/gunicorn-\$1.log" 2>&1 &
EOF
chmod +x "$T/restart-instance"
RESTART_COMMAND="$T/restart-instance {instance}" WEB_SOCKET="unix:$T/run/web-{instance}.sock" \
  "$REPO/deploy/rolling-restart.sh" 1 | sed 's/^/   /'   # (instance 2 goes the same way: time saved here)
kill -HUP "$(cat "$T/run/gunicorn-2.pid")"
sleep 3
touch "$T/stop-load"; wait "$load_a"
cat "$T"/load-*.txt | awk '
  { n++; if ($1 != 200) bad++; if ($2 > max) max = $2; sum += $2 }
  END { printf "   %d requests, %d not 200, slowest %.3f s, mean %.3f s\n", n, bad, max, sum / n; exit (bad > 0 || n < 10) }' \
  || fail "requests failed during the rolling restart or the reload"

step "done: the deploy works as docs/deploy.md describes it"
