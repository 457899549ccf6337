"""住建厅项目表 workbooks and their upload, for the import tests (departments and jobs)."""

import io
import re

from openpyxl import Workbook

from app.demo.data import make_credit_code

HEADERS = [
    "项目代码",
    "项目名称",
    "行政区划代码",
    "施工企业名称",
    "统一社会信用代码",
    "建设单位名称",
    "投资规模(万元)",
    "是否有效",
]
HUMA, TAHE = "232721", "232722"


def xlsx(rows, headers=HEADERS, write_only=False):
    wb = Workbook(write_only=write_only)
    ws = wb.create_sheet("项目表") if write_only else wb.active
    ws.append(headers)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def good_rows(prefix, n=5):
    rows = []
    for i in range(n):
        region = HUMA if i % 2 else TAHE
        rows.append(
            [
                f"DRTEST-{prefix}-{i:04d}",
                f"导入测试项目{prefix}{i}",
                region,
                f"导入测试企业{i}",
                make_credit_code(region, 50000000 + i),
                "建设单位",
                100.5 + i,
                "是",
            ]
        )
    return rows


def _upload(client, data, name="项目表.xlsx"):
    return client.post(
        "/registry-import/upload", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data"
    )


def _file_id(html):
    match = re.search(r'name="file_id" value="([^"]+)"', html)
    return match.group(1) if match else None
