# /etc/anzexian/config.py — named by AZX_CONFIG, loaded after the built-in defaults (config.py) and
# AZX_ENV=production (secure cookies, https URLs, no demo password path).

# Workers and commands leave the permission tables alone; `flask init` writes them at each deploy.
# (With these on, every booting worker rewrites permissions: a slower start, and writers racing.)
FAB_UPDATE_PERMS = False
AZX_SYNC_ROLES = False

# One proxy hop (nginx) in front of gunicorn: client address and scheme from X-Forwarded-*.
PROXY_HOPS = 1
