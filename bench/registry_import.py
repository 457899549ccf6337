"""The registry import's preview on 50,000 rows: python -m bench.registry_import [--rows N]

Builds a workbook like the tests' (openpyxl, write-only) and times, best of three: the guarded read
(archive checks, sheet bounds, calamine in the sandbox), the same in-process, calamine alone, openpyxl's
read-only mode (for comparison), the validation and the whole preview against an empty registry on a
fresh SQLite database. Prints the machine's load average too: on a shared machine the figures scale
with it. The figures of record are in docs/decisions.md ("Registry import").
"""

import argparse
import copy
import io
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def workbook(rows):
    from openpyxl import Workbook

    from app.demo.data import make_credit_code
    from app.services.registry_import import HEADERS

    book = Workbook(write_only=True)
    sheet = book.create_sheet("项目表")
    sheet.append(HEADERS)
    for i in range(rows):
        credit = make_credit_code("232721", 60000000 + i % 300)
        sheet.append([f"BIG-{i:06d}", f"导入测试项目B{i}", "232721", "企业", credit, "", i % 1000, ""])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def calamine(data):
    import python_calamine

    return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()


def best(func, runs=3):
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append(time.perf_counter() - started)
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    from openpyxl import load_workbook
    from sqlalchemy import select

    from app import create_app
    from app.cli import initialise
    from app.extensions import db
    from app.models import AppUser, Region
    from app.services import registry_import
    from app.untrusted import xlsx

    tmp = tempfile.mkdtemp(prefix="azx-bench-import-")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.db",
            "FILE_STORAGE_ROOT": f"{tmp}/files",
            "SECRET_KEY": "bench-" + "x" * 40,
            "TASK_QUEUE_URL": "memory://",
            "TASK_QUEUE_IMMEDIATE": True,
        }
    )
    data = workbook(args.rows)
    limits = dict(max_rows=registry_import.MAX_ROWS + 1, max_columns=registry_import.MAX_COLUMNS)
    with app.app_context():
        initialise(demo=False, echo=lambda m: None)
        admin = db.session.query(AppUser).filter_by(username="admin").one()
        known = set(db.session.execute(select(Region.code)).scalars())
        rows = registry_import.read_rows(data, registry_import.RegistryImport())
        figures = {
            "guarded read (sandboxed)": best(lambda: xlsx.read_sheet(data, **limits)),
            "guarded read (in-process)": best(lambda: xlsx._read(data, limits["max_rows"], limits["max_columns"])),
            "calamine alone": best(lambda: calamine(data)),
            "openpyxl read-only": best(
                lambda: list(load_workbook(io.BytesIO(data), read_only=True).worksheets[0].iter_rows(values_only=True)),
                runs=1,
            ),
            "validation (plain Python)": best(lambda: registry_import.validate(copy.deepcopy(rows), known))
            - best(lambda: copy.deepcopy(rows)),
            "whole preview": best(lambda: registry_import.preview(data, admin), runs=2),
        }
    print(f"{args.rows} rows, {len(data) / 1e6:.1f} MB xlsx, load average {os.getloadavg()[0]:.1f}")
    for name, seconds in figures.items():
        print(f"  {name}: {seconds:.2f} s")


if __name__ == "__main__":
    main()
