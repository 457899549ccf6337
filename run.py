"""Start the platform: migrate, load reference data (and demo data on the embedded default's first
start), then serve. Usage: python run.py [--host 127.0.0.1] [--port 8080] [--demo] [--no-serve]"""

import argparse
import os
import shutil
import socket
import sys


def _fail(message):
    print(f"错误 / error: {message}", file=sys.stderr)
    sys.exit(2)


def _port_free(host, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def main(argv=None):
    parser = argparse.ArgumentParser(description="安责险信息管理系统")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--demo", action="store_true", help="load demo data (default on the embedded SQLite)")
    parser.add_argument("--no-serve", action="store_true", help="prepare the database and exit")
    args = parser.parse_args(argv)

    embedded = not os.environ.get("DATABASE_URL")
    demo = args.demo or embedded
    if demo and embedded:
        os.environ.setdefault("DEMO_MODE", "1")
    if not args.no_serve and not _port_free(args.host, args.port):
        _fail(f"端口 {args.port} 已被占用 / port {args.port} on {args.host} is in use; choose another with --port")

    from sqlalchemy import text
    from sqlalchemy.exc import ArgumentError, OperationalError

    try:
        from app import create_app

        app = create_app()
    except ArgumentError as exc:
        _fail(f"DATABASE_URL 无效 / invalid DATABASE_URL: {exc}")
    with app.app_context():
        from app.extensions import db

        try:
            with db.engine.connect() as conn:
                conn.execute(text("select 1"))
        except (OperationalError, Exception) as exc:
            _fail(
                f"无法连接数据库 / cannot connect to the database ({app.config['SQLALCHEMY_DATABASE_URI'].split('@')[-1]}): "  # noqa: E501
                f"{str(exc).splitlines()[0]}"
            )
        from app.cli import initialise

        initialise(demo=demo, echo=lambda m: print(m))
    if not (shutil.which("fc-list") and os.popen("fc-list :lang=zh").read().strip()):
        print(
            "警告 / warning: 未找到中文字体，PDF 报告将无法正确显示中文 / no CJK font found "
            "(apt-get install fonts-wqy-microhei)",
            file=sys.stderr,
        )
    if args.no_serve:
        return
    # Re-create the app so that the permissions written by initialise are read fresh.
    app = create_app()
    from app.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

    print(f"\n安责险信息管理系统: http://{args.host}:{args.port}/")
    if demo:
        print(f"演示账号 / demo accounts (password {DEMO_PASSWORD}):")
        for account in DEMO_ACCOUNTS:
            print(f"  {account.username:<18} {account.role:<14} {account.description}")
    if app.config["TASK_QUEUE_URL"].startswith(("sqlite:", "memory:")):
        from app.jobs import InProcessWorker

        InProcessWorker(app.extensions["huey"]).start()  # the embedded default's jobs: no extra service
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
