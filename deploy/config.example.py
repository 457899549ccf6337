# /etc/anzexian/config.py — named by AZX_CONFIG, loaded after the built-in defaults (config.py) and
# AZX_ENV=production (secure cookies, https URLs, no demo password path, Redis required).

# Workers and commands leave the permission tables alone; `flask init` writes them at each deploy.
# (With these on, every booting worker rewrites permissions: a slower start, and writers racing.)
FAB_UPDATE_PERMS = False
AZX_SYNC_ROLES = False

# One proxy hop (nginx) in front of gunicorn: from the trusted proxy (TRUSTED_PROXIES, PROXY_SECRET in
# /etc/anzexian/env) the client address and scheme are the last hop of X-Forwarded-For / -Proto.
PROXY_HOPS = 1
