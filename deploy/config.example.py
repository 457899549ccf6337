# /etc/anzexian/config.py — named by AZX_CONFIG, loaded after the built-in defaults (config.py).

# Workers and commands leave the permission tables alone; `flask init` writes them at each deploy.
# (With these on, every booting worker rewrites permissions: slower start, and writers racing.)
FAB_UPDATE_PERMS = False
AZX_SYNC_ROLES = False

# Behind nginx with TLS.
SESSION_COOKIE_SECURE = True
PREFERRED_URL_SCHEME = "https"
FAB_SAFE_REDIRECT_HOSTS = ["azx.example.org"]
# One proxy hop (nginx) in front of gunicorn: client address and scheme from X-Forwarded-*.
PROXY_HOPS = 1
