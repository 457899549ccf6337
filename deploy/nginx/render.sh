#!/bin/sh
# Render deploy/nginx/anzexian.conf into a site file nginx can load:
#
#   deploy/nginx/render.sh [ENV_FILE] > /etc/nginx/sites-available/anzexian
#
# ENV_FILE (default /etc/anzexian/env) is the file every unit reads. From it:
#   SITE_NAME, CA_SITE_NAME          the ordinary name and the certificate entry's name (both required)
#   TLS_CERT, TLS_KEY, CLIENT_CA     default /etc/anzexian/tls/server.crt, server.key, client-ca.pem
#   HTTPS_PORT, HTTP_PORT            default 443 and 80
#   WEB_INSTANCES                    the local gunicorn instances, default "1 2" (anzexian-web@1, @2)
#   WEB_SOCKET                       their socket, default unix:/run/anzexian-web-{instance}/web.sock
#   REMOTE_UPSTREAMS                 gunicorn instances of other machines, "10.0.0.12:8001 10.0.0.12:8002"
#   PROXY_SECRET                     when set, sent to every instance in PROXY_SECRET_HEADER (X-Proxy-Secret)
#   APP_DIR, VENV                    default /srv/anzexian/app and /srv/anzexian/venv
#   NGINX_LOG_DIR                    default /var/log/nginx
# The output holds PROXY_SECRET: keep it 0640 root:root (nginx's master reads it as root).
set -eu

env_file="${1:-/etc/anzexian/env}"
if [ -r "$env_file" ]; then
  set -a
  # shellcheck disable=SC1090
  . "$env_file"
  set +a
fi
here="$(cd "$(dirname "$0")" && pwd)"

: "${SITE_NAME:?SITE_NAME is not set (the ordinary host name, e.g. azx.example.org)}"
: "${CA_SITE_NAME:?CA_SITE_NAME is not set (the certificate entry, e.g. ca.azx.example.org)}"
APP_DIR="${APP_DIR:-/srv/anzexian/app}"
VENV="${VENV:-/srv/anzexian/venv}"
HTTPS_PORT="${HTTPS_PORT:-443}"
HTTP_PORT="${HTTP_PORT:-80}"
WEB_INSTANCES="${WEB_INSTANCES:-1 2}"
default_socket='unix:/run/anzexian-web-{instance}/web.sock'
WEB_SOCKET="${WEB_SOCKET:-$default_socket}"

python="$VENV/bin/python"
[ -x "$python" ] || python="$(command -v python3)"
fab_static="$("$python" -c 'import flask_appbuilder, os; print(os.path.join(os.path.dirname(flask_appbuilder.__file__), "static", "appbuilder"))')"

servers=""
for instance in $WEB_INSTANCES; do
  # never marked down: a refused socket costs nothing, and nginx tries the next server at once
  servers="${servers}    server $(echo "$WEB_SOCKET" | sed "s/{instance}/$instance/g") max_fails=0;
"
done
for remote in ${REMOTE_UPSTREAMS:-}; do
  # another machine: after a failed connection, left alone for 10 s (a connect may take its 5 s timeout)
  servers="${servers}    server $remote max_fails=1 fail_timeout=10s;
"
done

secret_line=""
if [ -n "${PROXY_SECRET:-}" ]; then
  case "$PROXY_SECRET" in
    *[!A-Za-z0-9_-]*) echo "render.sh: PROXY_SECRET may hold letters, digits, - and _ only (python3 -c 'import secrets; print(secrets.token_hex(32))')" >&2; exit 2 ;;
  esac
  secret_line="        proxy_set_header ${PROXY_SECRET_HEADER:-X-Proxy-Secret} \"$PROXY_SECRET\";"
fi
port_suffix=""
[ "$HTTPS_PORT" = "443" ] || port_suffix=":$HTTPS_PORT"

AZX_UPSTREAM_SERVERS="$(printf '%s' "$servers")"
export AZX_UPSTREAM_SERVERS
export AZX_SITE_NAME="$SITE_NAME" AZX_CA_SITE_NAME="$CA_SITE_NAME"
export AZX_HTTPS_PORT="$HTTPS_PORT" AZX_HTTP_PORT="$HTTP_PORT" AZX_PUBLIC_PORT="$port_suffix"
export AZX_TLS_CERT="${TLS_CERT:-/etc/anzexian/tls/server.crt}" AZX_TLS_KEY="${TLS_KEY:-/etc/anzexian/tls/server.key}"
export AZX_CLIENT_CA="${CLIENT_CA:-${CA_BUNDLE:-/etc/anzexian/tls/client-ca.pem}}"
export AZX_APP_DIR="$APP_DIR" AZX_FAB_STATIC="$fab_static" AZX_NGINX_LOG_DIR="${NGINX_LOG_DIR:-/var/log/nginx}"
export AZX_PROXY_SECRET_LINE="$secret_line"

envsubst '${AZX_UPSTREAM_SERVERS} ${AZX_SITE_NAME} ${AZX_CA_SITE_NAME} ${AZX_HTTPS_PORT} ${AZX_HTTP_PORT}
  ${AZX_PUBLIC_PORT} ${AZX_TLS_CERT} ${AZX_TLS_KEY} ${AZX_CLIENT_CA} ${AZX_APP_DIR} ${AZX_FAB_STATIC}
  ${AZX_NGINX_LOG_DIR} ${AZX_PROXY_SECRET_LINE}' < "$here/anzexian.conf"
