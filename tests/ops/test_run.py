"""run.py answers bad input with one clear line, not a traceback."""

import os
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(args, env_extra, tmp_path):
    env = dict(os.environ, INSTANCE_DIR=str(tmp_path), **env_extra)
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "run.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_broken_database_url(tmp_path):
    result = _run(["--no-serve"], {"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}, tmp_path)
    assert result.returncode == 2
    assert "无法连接数据库" in result.stderr and "Traceback" not in result.stderr


def test_malformed_database_url(tmp_path):
    result = _run(["--no-serve"], {"DATABASE_URL": "not a url"}, tmp_path)
    assert result.returncode == 2
    assert "DATABASE_URL" in result.stderr and "Traceback" not in result.stderr


def test_port_in_use(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = _run(["--port", str(port)], {}, tmp_path)
    assert result.returncode == 2
    assert "已被占用" in result.stderr and "Traceback" not in result.stderr
