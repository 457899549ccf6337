#!/bin/sh
# Copy the backups off this machine (anzexian-backup-offsite.service, after each successful backup).
#
#   BACKUP_OFFSITE_TARGET=backup@backup-host:/srv/backups/anzexian/    rsync over ssh
#   BACKUP_OFFSITE_TARGET=/mnt/offsite/anzexian/                       rsync to a mounted volume
#   BACKUP_OFFSITE_TARGET=rclone:offsite:anzexian-backups/prod         rclone: an S3-compatible store
#
# Every complete backup under BACKUP_DIR (default /var/backups/anzexian: a directory holding its
# manifest.json, written last by `flask backup create`) is copied, pre-upgrade-* included; an interrupted
# one (no manifest) is skipped. Nothing is ever deleted at the target (its retention is the store's own:
# a lifecycle rule, a cron job there), and a backup already there is not sent again, so the command may
# run any number of times. rsync over ssh uses BACKUP_OFFSITE_SSH_KEY (default /etc/anzexian/offsite_key)
# when it exists; rclone's remote is configured by RCLONE_CONFIG_<NAME>_* lines in /etc/anzexian/env, e.g.
#   RCLONE_CONFIG_OFFSITE_TYPE=s3  RCLONE_CONFIG_OFFSITE_PROVIDER=Minio (or Alibaba, TencentCOS, Other …)
#   RCLONE_CONFIG_OFFSITE_ENDPOINT=https://s3.example.internal  RCLONE_CONFIG_OFFSITE_ACCESS_KEY_ID=…
#   RCLONE_CONFIG_OFFSITE_SECRET_ACCESS_KEY=…
# After each copy the target's copy is compared with the local one. An rsync target folder must exist.
set -eu
src="${BACKUP_DIR:-/var/backups/anzexian}"
target="${BACKUP_OFFSITE_TARGET:-}"
if [ -z "$target" ]; then
  echo "BACKUP_OFFSITE_TARGET is not set in /etc/anzexian/env: the backups stay on this machine only" >&2
  exit 1
fi
target="${target%/}"
copied=0
skipped=0
for dir in "$src"/*/; do
  [ -d "$dir" ] || continue
  name="$(basename "$dir")"
  if [ ! -f "$dir/manifest.json" ]; then
    echo "skip $name: no manifest.json (interrupted backup)"
    skipped=$((skipped + 1))
    continue
  fi
  case "$target" in
    rclone:*)
      remote="${target#rclone:}/$name"
      rclone copy --checksum --no-traverse "$dir" "$remote"
      rclone cat "$remote/manifest.json" | cmp -s - "$dir/manifest.json" || {
        echo "$name: the copy's manifest.json differs from the local one" >&2
        exit 1
      }
      ;;
    *)
      ssh_key="${BACKUP_OFFSITE_SSH_KEY:-/etc/anzexian/offsite_key}"
      set -- rsync -a --partial --chmod=D0700,F0600
      if [ -r "$ssh_key" ]; then
        set -- "$@" -e "ssh -i $ssh_key -o BatchMode=yes -o StrictHostKeyChecking=yes"
      fi
      "$@" "${dir%/}" "$target/"
      # rsync verifies every file it sent by checksum; a second pass that would send nothing proves the copy whole
      if [ -n "$("$@" --dry-run --checksum --itemize-changes "${dir%/}" "$target/")" ]; then
        echo "$name: the copy differs from the local backup after rsync" >&2
        exit 1
      fi
      ;;
  esac
  copied=$((copied + 1))
done
echo "offsite copy to $target: $copied backups present there, $skipped skipped"
