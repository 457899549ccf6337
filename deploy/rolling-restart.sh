#!/bin/sh
# New code without a stall: restart the gunicorn instances of this machine one after the other. Each must
# answer /health on its own socket before the next one goes down, so one instance always serves; nginx
# sends each request to an instance that accepts it (the restarting one's socket is gone, so nginx tries
# the other at once).
#
#   deploy/rolling-restart.sh [INSTANCE ...]        (default: 1 2)
#
# RESTART_COMMAND (default: systemctl restart anzexian-web@{instance}) and WEB_SOCKET (default
# unix:/run/anzexian-web-{instance}/web.sock) may be overridden; {instance} is replaced by each name.
# Stops at the first instance that does not come back healthy within HEALTH_WAIT seconds (default 120),
# leaving the others serving the old code.
set -eu
default_restart='systemctl restart anzexian-web@{instance}'
restart="${RESTART_COMMAND:-$default_restart}"
default_socket='unix:/run/anzexian-web-{instance}/web.sock'
socket_pattern="${WEB_SOCKET:-$default_socket}"
wait_seconds="${HEALTH_WAIT:-120}"
[ "$#" -gt 0 ] || set -- 1 2

for instance in "$@"; do
  command="$(printf '%s' "$restart" | sed "s/{instance}/$instance/g")"
  socket="$(printf '%s' "$socket_pattern" | sed "s/{instance}/$instance/g; s/^unix://")"
  started="$(date +%s)"
  echo "restarting instance $instance: $command"
  sh -c "$command"
  while :; do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 --unix-socket "$socket" http://localhost/health || true)"
    [ "$code" = "200" ] && break
    if [ $(( $(date +%s) - started )) -ge "$wait_seconds" ]; then
      echo "instance $instance is not healthy after ${wait_seconds} s (last /health: $code); stopping here" >&2
      exit 1
    fi
    sleep 0.5
  done
  echo "instance $instance healthy after $(( $(date +%s) - started )) s"
done
