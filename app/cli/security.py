"""`flask security check`: refuses a production configuration that is not fit to face users."""

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
    return found


@click.group("security")
def security_group():
    """Security checks."""


@security_group.command("check")
@with_appcontext
def check():
    """Exit non-zero when the configuration is unfit for production."""
    found = problems(current_app.config, debug=current_app.debug)
    for line in found:
        click.echo("✗ " + line, err=True)
    if found:
        raise SystemExit(1)
    click.echo("✓ 生产配置检查通过")
