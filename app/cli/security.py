"""`flask security check`: refuses a production configuration that is not fit to face users;
`flask security purge`: deletes the login records nobody can use any more."""

import ipaddress
import os

import click
from flask import current_app
from flask.cli import with_appcontext

# Values that ship in examples, tests or the demo: never a production key.
KNOWN_WEAK_KEYS = {
    "test-secret-key-not-for-production",
    "dev",
    "development",
    "secret",
    "changeme",
    "change-me",
    "please-change-me",
    "insecure",
    "demo",
    "Demo@2026",
    "thisisasecretkey",
    "\2\1thisismyscretkey\1\2\\e\\y\\y\\h",
}
MIN_KEY = 32


def problems(config, debug=False):
    """Every reason this configuration must not serve production, in Chinese."""
    found = []
    if debug or config.get("DEBUG") or os.environ.get("FLASK_DEBUG", "0").lower() in ("1", "true", "yes"):
        found.append("DEBUG 已开启：生产环境必须关闭调试模式")
    if config.get("TESTING"):
        found.append("TESTING 已开启")
    key = config.get("SECRET_KEY") or ""
    if isinstance(key, bytes):
        key = key.decode("utf-8", "replace")
    if len(key) < MIN_KEY or key in KNOWN_WEAK_KEYS or len(set(key)) < 8:
        found.append(f"SECRET_KEY 强度不足：至少 {MIN_KEY} 个随机字符，且不能是示例值")
    if config.get("DEMO_MODE"):
        found.append("DEMO_MODE 已开启：演示账号可用口令登录")
    if not config.get("SESSION_COOKIE_SECURE"):
        found.append("SESSION_COOKIE_SECURE 未开启：会话 Cookie 会经明文 HTTP 发送")
    if not config.get("SESSION_COOKIE_HTTPONLY", True):
        found.append("SESSION_COOKIE_HTTPONLY 未开启")
    if not config.get("WTF_CSRF_ENABLED", True):
        found.append("WTF_CSRF_ENABLED 未开启：表单没有 CSRF 防护")
    uri = str(config.get("SQLALCHEMY_DATABASE_URI") or "")
    if uri.startswith("sqlite"):
        found.append("数据库为 SQLite：生产环境请使用 PostgreSQL（DATABASE_URL）")
    found += proxy_problems(config)
    found += redis_config_problems(config)
    return found


def parse_binds(value):
    """GUNICORN_BIND as [("unix", path) | ("tcp", host)], in the order given."""
    binds = []
    for entry in str(value or "").split(","):
        entry = entry.strip()
        if not entry:
            continue
        if entry.startswith("unix:"):
            binds.append(("unix", entry[5:]))
        elif entry.startswith("fd://"):
            binds.append(("fd", entry))
        else:
            host, sep, _port = entry.rpartition(":")
            host = (host if sep else entry).strip("[]")
            binds.append(("tcp", host or "0.0.0.0"))
    return binds


def proxy_problems(config):
    """The bind of gunicorn and the trust of app/web/proxy.py must describe the same proxy."""
    from app.web.proxy import UNIX, trust_entries

    found = []
    binds = parse_binds(config.get("GUNICORN_BIND"))
    trust = trust_entries(config)
    networks = []
    for entry in trust:
        if entry == UNIX:
            continue
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            found.append(f"TRUSTED_PROXIES 含无效项 {entry!r}：应为 unix、IP 地址或网段")
            continue
        if network.prefixlen == 0:
            found.append(f"TRUSTED_PROXIES 含 {entry}：任何地址都会被当作代理，转发的证书和地址都可伪造")
        networks.append(network)
    unix_binds = [b for kind, b in binds if kind == "unix"]
    tcp_binds = [b for kind, b in binds if kind == "tcp"]
    if not binds:
        found.append("GUNICORN_BIND 为空：应为 unix:/run/anzexian-web-{instance}/web.sock 或 地址:端口")
    if unix_binds and UNIX not in trust:
        found.append("GUNICORN_BIND 为 Unix 套接字，但 TRUSTED_PROXIES 不含 unix：nginx 转发的客户端证书和地址将被忽略")
    if UNIX in trust and not unix_binds:
        found.append("TRUSTED_PROXIES 含 unix，但 GUNICORN_BIND 没有 Unix 套接字")
    if tcp_binds and not config.get("PROXY_SECRET"):
        found.append(
            f"GUNICORN_BIND 监听 TCP 地址（{', '.join(tcp_binds)}），但未设置 PROXY_SECRET："
            "本机任何进程或服务端请求伪造都能连上 gunicorn 并伪造 X-SSL-Client-Cert 和 X-Forwarded-For"
        )
    if tcp_binds and not networks:
        found.append("GUNICORN_BIND 监听 TCP 地址，但 TRUSTED_PROXIES 未列出代理（nginx）的地址")
    if networks and not tcp_binds:
        found.append("TRUSTED_PROXIES 列出了 IP 地址，但 GUNICORN_BIND 不监听 TCP 地址")
    secret = str(config.get("PROXY_SECRET") or "")
    if secret and (len(secret) < MIN_KEY or len(set(secret)) < 8):
        found.append(f"PROXY_SECRET 强度不足：至少 {MIN_KEY} 个随机字符")
    return found


def redis_config_problems(config):
    """Production keeps the rate limits and the task queue in Redis (docs/decisions.md, the task queue)."""
    from app.web.health import redis_problems

    names = {"RATELIMIT_STORAGE_URI": "登录限速计数", "TASK_QUEUE_URL": "任务队列"}
    return [
        f"{name} 不是 Redis（{config.get(name) or '未设置'}）："
        f"生产环境的{names[name]}须放在 Redis（REDIS_URL / {name}）"
        for name in redis_problems(config, required=True)
    ]


def redis_connection_problems(config):
    """Every Redis the configuration names answers PING (the package is installed, the server is up)."""
    from sqlalchemy.engine import make_url

    from app.web.health import ping_redis, redis_targets

    found = []
    targets = redis_targets(config)
    if not targets:
        return found
    try:
        import redis  # noqa: F401
    except ImportError:
        return ["未安装 redis 软件包（pip install -r requirements.txt）"]
    for url, names in targets.items():
        try:
            ping_redis(url, timeout=2.0)
        except Exception as exc:
            try:
                shown = make_url(url).render_as_string(hide_password=True)
            except Exception:
                shown = url.split("@")[-1]
            found.append(f"Redis {shown}（{', '.join(names)}）无法连接：{type(exc).__name__}")
    return found


@click.group("security")
def security_group():
    """Security checks."""


@security_group.command("check")
@with_appcontext
def check():
    """Exit non-zero when the configuration is unfit for production."""
    found = problems(current_app.config, debug=current_app.debug)
    found += redis_connection_problems(current_app.config)
    for line in found:
        click.echo("✗ " + line, err=True)
    if found:
        raise SystemExit(1)
    click.echo("✓ 生产配置检查通过")


def _purge_sessions():
    from app.security.sessions import purge

    deleted, cutoff = purge()
    return deleted, f"absolute expiry before {cutoff:%Y-%m-%d %H:%M:%S} UTC"


def _purge_challenges():
    from app.security.ca import purge_challenges

    return purge_challenges(), "expired"


# What `flask security purge` deletes: (table, function returning (deleted, which rows)). Each is one
# DELETE of rows nobody can use any more, so running it twice, or on two machines at once, is harmless.
PURGES = [("user_session", _purge_sessions), ("login_challenge", _purge_challenges)]


@security_group.command("purge")
@with_appcontext
def purge():
    """Delete expired sessions and challenge nonces (deploy/systemd/anzexian-security-purge.timer)."""
    for table, run in PURGES:
        deleted, which = run()
        click.echo(f"{table}: {deleted} deleted ({which})")
