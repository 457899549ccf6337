#!/bin/sh
# An anzexian unit failed: tell someone. Run by anzexian-alert@<unit>.service (OnFailure= of every unit).
#
#   deploy/alert.sh UNIT
#
# ALERT_COMMAND (from /etc/anzexian/env, single-quoted there) is run by sh with the unit's name as $1 and
# a summary plus the unit's last 50 log lines on stdin. Without it, or when it fails, the alert is one
# journal line at priority err (tag anzexian-alert), so it is never silently lost.
set -u
unit="${1:?usage: alert.sh UNIT}"
summary="$(hostname 2>/dev/null || echo localhost): $unit failed at $(date -u +%Y-%m-%dT%H:%M:%SZ)"
logs="$(journalctl -u "$unit" -n 50 --no-pager -o short-iso 2>/dev/null || echo '(no journal)')"
if [ -n "${ALERT_COMMAND:-}" ]; then
  if printf '%s\n\n%s\n' "$summary" "$logs" | sh -c "$ALERT_COMMAND" alert "$unit"; then
    exit 0
  fi
  summary="$summary; ALERT_COMMAND failed too"
fi
logger -t anzexian-alert -p daemon.err "$summary" 2>/dev/null || echo "$summary" >&2
[ -z "${ALERT_COMMAND:-}" ] || exit 1
