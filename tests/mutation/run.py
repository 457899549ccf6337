"""Mutation run over the platform's rules with cosmic-ray (docs/testing.md, "Mutation run").

    python tests/mutation/run.py                 # every target below
    python tests/mutation/run.py workflows base  # some of them
    python tests/mutation/run.py --report        # the scores of the last runs
    python tests/mutation/run.py premium --only premium_for   # some functions of a target
    python tests/mutation/run.py --fail-under 95 workflows    # exit 1 below 95 % (CI)

Each target is one module (optionally narrowed to some of its functions) and the tests that guard it.
The code is copied to a scratch folder first, so the working tree is never mutated; each mutant is
applied there and the target's tests run against it (cosmic-ray's local distributor, one mutant at a
time). Results stay in tests/mutation/out/<target>.sqlite (cosmic-ray's session; `cr-report` reads it)
and a summary in tests/mutation/out/<target>.json. Survivors that are equivalent mutants are listed
with their reason in EQUIVALENT below and counted apart.
"""

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

from narrow import PYTEST

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "mutation", "out")

# name -> (module, functions (None: the whole module), tests, seconds per mutant before it counts as killed)
TARGETS = {
    "workflows": ("app/workflows/__init__.py", None, ["tests/unit/test_workflow_tables.py"], 120),
    "premium": (
        "app/services/policies.py",
        ["premium_for", "float_rule_for", "propose_premium", "prior_year_accidents", "premium_tolerance"],
        ["tests/unit/test_rules_arithmetic.py", "tests/insurance/test_insurance_premium.py"],
        300,
    ),
    "fees": (
        "app/services/orders.py",
        ["fee_share", "prevention_fund", "fund_used", "_create_order"],
        ["tests/unit/test_rules_arithmetic.py", "tests/prevention/test_prevention_orders.py"],
        300,
    ),
    "base": (
        "app/services/base.py",
        None,
        [
            "tests/unit/test_rules_arithmetic.py",
            "tests/prevention/test_order_stale_version.py",
            "tests/insurance/test_insurance_workflow.py",
            "tests/security/test_scope_drafts.py",
        ],
        300,
    ),
    "scope": (
        "app/security/scope.py",
        None,
        ["tests/security/test_scope_drafts.py", "tests/security/test_scope.py", "tests/api/test_api_read.py"],
        600,
    ),
    "statistics": (
        "app/services/statistics.py",
        None,
        [
            "tests/departments/test_dashboard_cities.py",
            "tests/departments/test_departments_statistics.py",
            "tests/departments/test_kept_figures.py",
        ],
        600,
    ),
    "storage": (
        "app/storage.py",
        None,
        [
            "tests/unit/test_storage_rules.py",
            "tests/security/test_hostile_uploads.py",
            "tests/security/test_faults.py",
            "tests/ops/test_files_sweep.py",
            "tests/ops/test_ops_health.py",
            "tests/prevention/test_prevention_gaps.py",
        ],
        600,
    ),
}

# (target, function, operator, line, occurrence) -> why the mutant cannot be told apart from the original
EQUIVALENT = {
    ("workflows", "target", "core/NumberReplacer", 63, 1): "targets[0] → targets[-1] inside `if len(targets) == 1`: "
    "the same element of a one-element tuple",
    ("workflows", "target", "core/ReplaceComparisonOperator_Eq_LtE", 63, 0): "len(targets) == 1 → <= 1: differs only "
    "for a transition without targets, which no table has (tests/unit/test_workflow_tables.py lists every row)",
    ("workflows", "__init__", "core/NumberReplacer", 81, 5): "rest[0] → rest[-1]: a row carries at most one options "
    "dict after its permission, so the first element is the last",
    ("workflows", "_insurer_assigns_own_orders", "core/ReplaceComparisonOperator_Eq_GtE", 119, 1): "party.kind == "
    "ORG → >= ORG: the guard is asked only for the parties of 派单 (org, insurer; admins skip it), and 'insurer' < "
    "'org', so >= holds exactly when == does",
    ("premium", "premium_for", "core/NumberReplacer", 119, 45): "Decimal(investment or 0) → (investment or -1): a "
    "missing investment then gives a negative raw premium, and max(raw, minimum) with a minimum ≥ 0 (min_premium "
    "is a non-negative amount, None read as 0) gives the same premium as 0 does (the `or 1` mutant is killed by "
    "the no-investment-no-minimum case)",
    ("premium", "premium_for", "core/NumberReplacer", 120, 53): "Decimal(plan.min_premium or 0) → (… or -1): the raw "
    "premium is never negative (investment ≥ 0, floating ratio > -1), so max(raw, -1) == max(raw, 0) == raw",
    ("premium", "prior_year_accidents", "core/NumberReplacer", 58, 18): "the claim count's default (0, …) → (1, …): "
    "prior_year_accidents unpacks the count into _n and returns only the deaths and injuries",
    ("premium", "prior_year_accidents", "core/NumberReplacer", 58, 19): "the claim count's default (0, …) → (-1, …), "
    "as above: the count is not returned",
    ("base", "check_version", "core/ReplaceComparisonOperator_Eq_Is", 58, 0): "str(submitted).strip() == '' → "
    "is '': CPython returns its one empty-string object for every empty result, so identity and equality agree",
    ("base", "check_version", "core/ReplaceComparisonOperator_Eq_LtE", 58, 0): "str(submitted).strip() == '' → "
    "<= '': the empty string is the least of all strings, so a string is <= '' exactly when it is ''",
    ("base", "transition", "core/ReplaceComparisonOperator_NotEq_Lt", 151, 1): "result.rowcount != 1 → < 1: the "
    "UPDATE names one primary key, so it matches 0 or 1 rows and the two conditions agree",
    ("base", "transition", "core/ReplaceComparisonOperator_Eq_LtE", 147, 2): "model.status == from_status → <=: "
    "redundant with the version condition, as for >= below",
    ("base", "transition", "core/ReplaceComparisonOperator_Eq_GtE", 147, 2): "model.status == from_status → >=: "
    "the compare-and-set also requires model.version == version, and every status change (transition() or an ORM "
    "update with version_id_col) raises the version, so the status condition never decides alone",
    ("base", "transition", "core/ReplaceComparisonOperator_Eq_IsNot", 147, 2): "model.status == from_status → "
    "`is not` (a Python True, the status condition dropped): redundant with the version condition, as above",
    ("base", "transition", "core/ReplaceComparisonOperator_Eq_LtE", 147, 3): "model.version == version → "
    "model.version <= version: the version compared is the one read from that row, which never exceeds the row's "
    "own, so <= holds exactly when == does (a stale, lower version is refused either way: the round-trip test)",
    ("statistics", "_cities_in_scope", "core/ReplaceComparisonOperator_Eq_LtE", 515, 27): "Region.level == CITY → "
    "<= CITY: the levels are 'province', 'city' and 'county', and none sorts before 'city', so <= selects the "
    "cities alone",
    ("statistics", "_insurance_figures", "core/ReplaceComparisonOperator_NotEq_Lt", 188, 0): "Policy.status != "
    "SURRENDERED → < SURRENDERED: a policy is 'insured', 'expired' or 'surrendered', and both others sort before "
    "'surrendered'",
    ("statistics", "_change", "core/ReplaceComparisonOperator_Eq_LtE", 300, 10): "metric.kind == 'count' → <= "
    "'count': the kinds are 'count', 'money' and 'ratio', and none sorts before 'count'",
    ("statistics", "_change", "core/ReplaceComparisonOperator_Eq_Is", 300, 10): "metric.kind == 'count' → is "
    "'count': every kind is a string literal of this module, which CPython interns, so identity and equality agree",
    ("statistics", "_change", "core/ReplaceComparisonOperator_Eq_LtE", 302, 11): "metric.kind == 'money' → <= "
    "'money' once 'count' is handled: of 'money' and 'ratio' only 'money' is <= 'money'",
    ("statistics", "_change", "core/ReplaceComparisonOperator_Eq_Is", 302, 11): "metric.kind == 'money' → is "
    "'money': interned literals, as for 'count'",
    ("statistics", "contains_time", "core/ReplaceBinaryOperator_BitAnd_Div", 76, 0): "(a >= start) & (b < end) → "
    "(a >= start) / (b < end): on SQLite, where the run measures, 1/1 is 1 and x/0 is NULL, so the quotient is "
    "true exactly when both are; PostgreSQL refuses arithmetic on booleans, so the suite there fails with it",
    ("statistics", "contains_time", "core/ReplaceBinaryOperator_BitAnd_Mul", 76, 0): "& → *: on SQLite the "
    "product of two truth values (1/0) is true exactly when both are; PostgreSQL refuses it, as for /",
    ("statistics", "_same_day_year_before", "core/ReplaceBinaryOperator_Sub_Add", 85, 0): "the month length of year "
    "+ 1 instead of year − 1: only February's length depends on the year and it clamps only 29 February, whose "
    "year's neighbours are both common years",
    ("statistics", "_same_day_year_before", "core/ReplaceBinaryOperator_Sub_BitOr", 85, 0): "year | 1 (the year or "
    "the next): a common year whenever the clamp matters (29 February of a leap year), as year − 1 is",
    ("statistics", "_same_day_year_before", "core/ReplaceBinaryOperator_Sub_BitXor", 85, 0): "year ^ 1 (the "
    "neighbour year of the same pair): a common year whenever the clamp matters, as year − 1 is",
    ("statistics", "_same_day_year_before", "core/NumberReplacer", 85, 4): "year − 2 instead of year − 1: both are "
    "common years when the day is 29 February (leap years are four apart), and no other month's length varies",
    ("statistics", "_grouped", "core/ReplaceComparisonOperator_Is_Eq", 174, 0): "column is Policy.insurer_id → "
    "column == Policy.insurer_id: SQLAlchemy answers bool() of a == between two columns by their identity",
    ("statistics", "hazards", "core/ReplaceComparisonOperator_Eq_LtE", 241, 4): "Hazard.level == GENERAL → <=: "
    "the levels are 'general' and 'major', and none sorts before 'general'",
    ("statistics", "hazards", "core/ReplaceComparisonOperator_Eq_GtE", 242, 5): "Hazard.level == MAJOR → >=: "
    "nothing sorts after 'major'",
    ("statistics", "_zero", "core/NumberReplacer", 296, 52): "ratio(0, 0) → ratio(1, 0): a ratio over 0 is 0 "
    "whatever the part",
    ("statistics", "_zero", "core/NumberReplacer", 296, 53): "ratio(0, 0) → ratio(-1, 0): as ratio(1, 0)",
    ("statistics", "_zero", "core/NumberReplacer", 296, 54): "ratio(0, 0) → ratio(0, 1): 0 / 1 is 0.0000, the "
    "value and the sign of ratio(0, 0)",
    ("statistics", "detail_rows", "core/ReplaceComparisonOperator_NotEq_Lt", 408, 1): "Policy.status != "
    "SURRENDERED → <: both other statuses sort before 'surrendered'",
    ("statistics", "detail_rows", "core/ReplaceComparisonOperator_Eq_GtE", 412, 16): "report == 'prevention' → "
    ">=: 'insurance' has returned above and 'claims' sorts before 'prevention'",
    ("statistics", "detail_rows", "core/ReplaceComparisonOperator_Eq_GtE", 417, 17): "Hazard.level == MAJOR → >=: "
    "nothing sorts after 'major'",
    ("statistics", "_claims_figures", "core/ZeroIterationForLoop", 284, 8): "the loop normalising the claims "
    "figures skipped: they come from SQL typed already (counts as integers, amounts as two-place decimals of the "
    "Numeric(…, 2) columns), and every reader formats a figure by its metric's kind",
    ("statistics", "_claims_figures", "core/ZeroIterationForLoop", 285, 9): "the counts' int() skipped: SQL counts "
    "and sums of integer columns come back as integers",
    ("scope", "current_user_obj", "core/ReplaceFalseWithTrue", 75, 1): "getattr(user, 'is_authenticated', "
    "False) → default True: g.user is FAB's User or Flask-Login's anonymous user, both of which define "
    "is_authenticated, so the default is never read",
    ("scope", "_compute_party", "core/ReplaceComparisonOperator_Eq_GtE", 104, 2): "region.level == PROVINCE → "
    ">=: of 'province', 'city' and 'county' only 'province' sorts at or after 'province'",
    ("scope", "scoped", "core/AddNot", 314, 48): "query.filter(crit) if hasattr(query, 'filter') else "
    "query.where(crit) with the test negated: SQLAlchemy 2's Query and Select both have filter() and where(), "
    "synonyms",
    ("scope", "is_visible", "core/NumberReplacer", 331, 0): "limit(1) → limit(2) on a select of one primary key: "
    "at most one row either way, and first() reads one",
    ("scope", "rule", "core/ReplaceComparisonOperator_Eq_Is", 210, 48): "party.kind == DEPARTMENT → is, in the "
    "rows under an order: a department then takes the other branch, the rows whose order is in its region, "
    "which are the rows in its region: a hazard's region_code is its order's, copied when it is reported",
    ("scope", "party_of", "core/ReplaceTrueWithFalse", 84, 1): "getattr(user, 'is_authenticated', True) → "
    "default False: every user the platform passes is FAB's User (or Flask-Login's anonymous user), both of "
    "which define is_authenticated, so the default is never read",
    ("statistics", "dashboard_from_rows", "core/NumberReplacer", 596, 85): "outside_by_city.get(key, (0,))[0] → "
    "[-1]: every value is a one-element tuple (a city's count of insured projects outside the registry), its "
    "first element its last",
    ("statistics", "dashboard_from_rows", "core/NumberReplacer", 630, 97): "sum(int(v[0]) …) → v[-1] over the same "
    "one-element tuples",
    ("storage", "store_bytes", "core/NumberReplacer", 336, 51): "sniff(data[:4096]) → data[:4095]: sniff reads at "
    "most the first 8 bytes (the longest magic number, PNG's)",
    ("storage", "store_bytes", "core/ReplaceComparisonOperator_Eq_Is", 337, 3): "kind == 'registry_import' → is: "
    "every kind is a literal of the calling code, and identifier-like literals are interned: one object",
    ("storage", "store_bytes", "core/ReplaceComparisonOperator_Eq_LtE", 337, 3): "kind == 'registry_import' → <=: a "
    "zip then counts as a workbook for the kinds before it too, none of which allows a workbook, so it is refused "
    "with the same message",
    ("storage", "store_bytes", "core/ReplaceComparisonOperator_Eq_GtE", 337, 3): "kind == 'registry_import' → >=: a "
    "zip then counts as a workbook for the kinds after it too, none of which allows a workbook, so it is refused "
    "with the same message",
    ("storage", "store_bytes", "core/ReplaceComparisonOperator_Eq_LtE", 350, 4): "ctype == PDF → <=: past the image "
    "branch ctype is a PDF or the workbook type, and 'application/vnd…' sorts after 'application/pdf'",
    ("storage", "_decode_and_reencode", "core/ReplaceComparisonOperator_Eq_LtE", 161, 1): "content_type == "
    "'image/jpeg' → <= when saving: of the two image types only JPEG sorts at or before 'image/jpeg'",
    ("storage", "_decode_and_reencode", "core/ReplaceTrueWithFalse", 164, 0): "PNG optimize=True → False: the same "
    "pixels in a larger file (the size is recorded from the bytes written either way)",
    ("storage", "store_merged_upload", "core/ReplaceBinaryOperator_Add_BitXor", 389, 4): "read(cap + 1) → "
    "read(cap ^ 1): every cap is a whole number of MB, even, so cap ^ 1 == cap + 1",
    ("storage", "store_merged_upload", "core/NumberReplacer", 390, 58): "sniff(data[:4096]) → data[:4095]: sniff "
    "reads at most the first 8 bytes",
    ("storage", "store_merged_upload", "core/ReplaceComparisonOperator_Eq_LtE", 399, 6): "len(blobs) == 1 → <= 1: "
    "blobs is never empty there (no file at all is refused before)",
    ("storage", "store_merged_upload", "core/ReplaceComparisonOperator_Eq_Is", 399, 6): "len(blobs) == 1 → is 1: "
    "CPython's small integers are one object each",
    ("storage", "store_merged_upload", "core/ReplaceComparisonOperator_Eq_LtE", 399, 7): "blobs[0][2] == PDF → <=: "
    "a page's type is PDF, JPEG or PNG, and 'image/…' sorts after 'application/pdf'",
    ("storage", "store_merged_upload", "core/NumberReplacer", 399, 63): "blobs[0] → blobs[-1] after len(blobs) == 1: "
    "the same element",
    ("storage", "store_merged_upload", "core/ReplaceComparisonOperator_Eq_Is", 401, 7): "ctype == PDF → is: every "
    "type is sniff's literal, and equal literals of one module are one object",
    ("storage", "store_merged_upload", "core/ReplaceBinaryOperator_Add_BitOr", 389, 4): "read(cap + 1) → "
    "read(cap | 1): every cap is a whole number of MB, even, so cap | 1 == cap + 1",
    ("storage", "store_merged_upload", "core/NumberReplacer", 390, 59): "sniff(data[:4096]) → data[:4097]: sniff "
    "reads at most the first 8 bytes",
    ("storage", "store_upload", "core/ReplaceBinaryOperator_Add_BitOr", 418, 5): "read(cap + 1) → read(cap | 1): "
    "every cap is even, so the same",
    ("storage", "store_upload", "core/ReplaceBinaryOperator_Add_BitXor", 418, 5): "read(cap + 1) → read(cap ^ 1): "
    "every cap is even, so the same",
    ("storage", "store_upload", "core/ReplaceFalseWithTrue", 415, 6): "keep_exif=False → True by default: the EXIF "
    "tags are put on the row as _exif, which only the callers that ask for them read",
    ("storage", "store_bytes", "core/ReplaceFalseWithTrue", 325, 5): "keep_exif=False → True by default: the EXIF "
    "tags are put on the row as _exif, which only the callers that ask for them read",
    ("storage", "store_bytes", "core/NumberReplacer", 336, 50): "sniff(data[:4096]) → data[:4097]: sniff reads at "
    "most the first 8 bytes",
    ("storage", "store_bytes", "core/ReplaceComparisonOperator_Eq_Is", 350, 4): "ctype == PDF → is: every type is "
    "sniff's literal, and equal literals of one module are one object",
    ("storage", "store_bytes", "core/ReplaceComparisonOperator_Eq_LtE", 352, 5): "ctype == XLSX → <=: past the "
    "image and PDF branches, with validate, an allowed type can only be the workbook's",
    ("storage", "store_bytes", "core/ReplaceComparisonOperator_Eq_GtE", 352, 5): "ctype == XLSX → >=: past the "
    "image and PDF branches, with validate, an allowed type can only be the workbook's",
    ("storage", "store_bytes", "core/ReplaceComparisonOperator_Eq_Is", 352, 5): "ctype == XLSX → is: the registry "
    "kind's type is set from an equal literal of the same module, which is one object",
    ("storage", "clean_name", "core/NumberReplacer", 176, 34): "rsplit('/', 1)[-1] → rsplit('/', 2)[-1]: the last "
    "part is the same whatever the number of splits",
    ("storage", "_decode_and_reencode", "core/ReplaceComparisonOperator_Eq_LtE", 158, 0): "content_type == "
    "'image/jpeg' → <= when converting: of the two image types only JPEG sorts at or before 'image/jpeg'",
    ("storage", "store_bytes", "core/ReplaceComparisonOperator_Eq_Is", 337, 2): "ctype == 'application/zip' → is: "
    "sniff returns an equal literal of the same module, which is one object",
    ("storage", "store_bytes", "core/ReplaceAndWithOr", 352, 8): "`validate and ctype == XLSX` → or: the one caller "
    "passing validate=False stores the platform's own service-report PDF, for which both are false",
    ("storage", "_decode_and_reencode", "core/ReplaceComparisonOperator_Eq_Is", 161, 1): "content_type == "
    "'image/jpeg' → is: the type is sniff's literal, and equal string literals are one object",
    ("storage", "_decode_and_reencode", "core/ReplaceComparisonOperator_Eq_Is", 158, 0): "content_type == "
    "'image/jpeg' → is when converting: the type is sniff's literal, and equal string literals are one object",
    ("storage", "probe", "core/NumberReplacer", 262, 48): "token_hex(8) → token_hex(7): any random token tells "
    "the probe's bytes and file apart, whatever its length",
    ("storage", "probe", "core/NumberReplacer", 262, 49): "token_hex(8) → token_hex(9): any random token tells "
    "the probe's bytes and file apart, whatever its length",
    ("storage", "sweep", "core/ReplaceBinaryOperator_Mul_Div", 445, 12): "the keyword-only marker `*` → `/` "
    "(positional-only before it): every caller passes grace, expiring, dry_run, now and log by name",
    ("storage", "_entry", "core/ReplaceFalseWithTrue", 281, 4): "stat(follow_symlinks=False) → True: scan yields "
    "only entries that are regular files themselves (is_file(follow_symlinks=False)), whose stat is the same "
    "either way",
    ("storage", "store_merged_upload", "core/NumberReplacer", 400, 67): "blobs[0] → blobs[-1] inside `if len(blobs) "
    "== 1`: the same element",
    ("storage", "store_merged_upload", "core/NumberReplacer", 400, 71): "blobs[0] → blobs[-1] inside `if len(blobs) "
    "== 1`: the same element",
    ("storage", "store_merged_upload", "core/ReplaceComparisonOperator_Eq_LtE", 401, 8): "ctype == PDF → <=: the "
    "pages' types are PDF, JPEG and PNG, and 'image/…' sorts after 'application/pdf'",
}


def _config(target, scratch):
    module, _functions, tests, timeout = TARGETS[target]
    path = os.path.join(scratch, f"{target}.toml")
    with open(path, "w") as fh:
        fh.write(
            "[cosmic-ray]\n"
            f'module-path = "{module}"\n'
            f"timeout = {float(timeout)}\n"
            "excluded-modules = []\n"
            f'test-command = "{_test_command(target, scratch)}"\n\n'
            '[cosmic-ray.distributor]\nname = "local"\n'
        )
    return path


def run(target, only=None, select=True, again=None):
    """Mutate ``target`` (its ``only`` functions), or, with ``again`` (labels of earlier runs), only the
    mutants that survived those runs, found again in the current code."""
    module, functions, tests, _timeout = TARGETS[target]
    functions = only or functions
    label = (
        f"{target}.again-{hashlib.sha1(','.join(again).encode()).hexdigest()[:8]}" if again else _label(target, only)
    )
    os.makedirs(OUT, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=f"azx-mutation-{target}-")
    try:
        files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        for name in files.splitlines():
            if os.path.exists(os.path.join(ROOT, name)):
                os.makedirs(os.path.dirname(os.path.join(scratch, name)) or scratch, exist_ok=True)
                shutil.copy2(os.path.join(ROOT, name), os.path.join(scratch, name))
        for name in subprocess.run(
            ["git", "ls-files", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True
        ).stdout.splitlines():  # new files not committed yet
            if os.path.isfile(os.path.join(ROOT, name)):
                os.makedirs(os.path.dirname(os.path.join(scratch, name)) or scratch, exist_ok=True)
                shutil.copy2(os.path.join(ROOT, name), os.path.join(scratch, name))
        shutil.copy2(os.path.join(scratch, module), os.path.join(scratch, ORIGINAL))
        config = _config(target, scratch)
        session = os.path.join(OUT, f"{label}.sqlite")
        if os.path.exists(session):
            os.remove(session)
        subprocess.run(["cosmic-ray", "init", config, session], cwd=scratch, check=True)
        if again:
            _keep_survivors(session, again, os.path.join(scratch, module))
        elif functions:
            names = [name for name in functions if name != MODULE_LEVEL]
            # a statement outside any function has no definition_name (NULL), kept only when asked for
            outside = "" if MODULE_LEVEL in functions else " OR definition_name IS NULL"
            with sqlite3.connect(session) as db:
                keep = ",".join("?" * len(names))
                gone = [
                    r[0]
                    for r in db.execute(
                        f"SELECT job_id FROM mutation_specs WHERE definition_name NOT IN ({keep}){outside}", names
                    )
                ]
                db.executemany("DELETE FROM mutation_specs WHERE job_id = ?", [(j,) for j in gone])
                db.executemany("DELETE FROM work_items WHERE job_id = ?", [(j,) for j in gone])
        # The test database is built once, from the unmutated code, and every mutant is tested against it:
        # its build key hashes app/services among others, so a mutant there would otherwise rebuild it
        # (≈ 20 s a mutant). The same run checks that the tests pass before any mutant is applied: a
        # failing baseline would count every mutant as killed.
        # Run under coverage.py, it also records which test runs which line of the module, so that each
        # mutant runs only the tests that reach it (tests/mutation/narrow.py).
        env = dict(os.environ, AZX_TEST_DB_KEY=_build_key(scratch))
        rcfile = os.path.join(scratch, ".mutation-coveragerc")
        with open(rcfile, "w") as fh:
            fh.write(f"[run]\ndynamic_context = test_function\ninclude = {module}\ndata_file = .mutation-coverage\n")
        pytest = PYTEST.removeprefix("python -m ")
        baseline = subprocess.run(
            f"{sys.executable} -m coverage run --rcfile={rcfile} -m {pytest} {' '.join(tests)}",
            shell=True,
            cwd=scratch,
            env=env,
        )
        if baseline.returncode != 0:
            sys.exit(f"{target}: the tests fail on the unmutated code; no mutant run")
        if select:
            _write_map(scratch, rcfile, module)
        subprocess.run(["cosmic-ray", "exec", config, session], cwd=scratch, env=env, check=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return summary(target, only, label)


def _ranks(specs):
    """job -> its rank among the mutants of one operator on one line (by occurrence)."""
    groups = {}
    for job, operator, row, occurrence in specs:
        groups.setdefault((operator, row), []).append((occurrence, job))
    return {job: rank for members in groups.values() for rank, (_o, job) in enumerate(sorted(members))}


def _keep_survivors(session, labels, module_path):
    """Drop from ``session`` every mutant but those that survived the runs ``labels``. Lines may have moved
    since, and occurrences with them, so a mutant is known by its function, its operator, the text of its
    line (from the earlier run's diff) and its rank among that operator's mutants on the line."""
    wanted = set()
    for old in labels:
        with sqlite3.connect(os.path.join(OUT, f"{old}.sqlite")) as db:
            specs = db.execute(
                "SELECT s.job_id, s.definition_name, s.operator_name, s.start_pos_row, s.occurrence,"
                " r.test_outcome, r.diff FROM mutation_specs s LEFT JOIN work_results r ON r.job_id = s.job_id"
            ).fetchall()
        ranks = _ranks([(job, op, row, occ) for job, _f, op, row, occ, _t, _d in specs])
        for job, function, op, _row, _occ, outcome, diff in specs:
            if (outcome or "").upper() == "SURVIVED":
                line = next(x[1:] for x in diff.splitlines() if x.startswith("-") and not x.startswith("---"))
                wanted.add((function, op, line.strip(), ranks[job]))
    with open(module_path, encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    with sqlite3.connect(session) as db:
        specs = db.execute(
            "SELECT job_id, definition_name, operator_name, start_pos_row, occurrence FROM mutation_specs"
        ).fetchall()
        ranks = _ranks([(job, op, row, occ) for job, _f, op, row, occ in specs])
        gone = [
            job
            for job, function, op, row, _occ in specs
            if (function, op, lines[row - 1].strip(), ranks[job]) not in wanted
        ]
        db.executemany("DELETE FROM mutation_specs WHERE job_id = ?", [(j,) for j in gone])
        db.executemany("DELETE FROM work_items WHERE job_id = ?", [(j,) for j in gone])
        kept = len(specs) - len(gone)
    print(f"again: {kept} of {len(specs)} mutants match a survivor of {', '.join(labels)}", flush=True)


MODULE_LEVEL = "<module>"  # --only's name for the statements outside any function (constants, tables)
MAP = ".mutation-map.json"
ORIGINAL = ".mutation-original.py"  # the module before any mutant, beside the scratch copy


def _test_command(target, scratch):
    module, _functions, tests, _timeout = TARGETS[target]
    return f"python tests/mutation/narrow.py {module} {ORIGINAL} {MAP} {' '.join(tests)}"


def _write_map(scratch, rcfile, module):
    """line -> the test contexts that ran it, from the unmutated run's coverage data."""
    report = os.path.join(scratch, ".mutation-coverage.json")
    subprocess.run(
        [sys.executable, "-m", "coverage", "json", f"--rcfile={rcfile}", "--show-contexts", "-q", "-o", report],
        cwd=scratch,
        check=True,
    )
    with open(report, encoding="utf-8") as fh:
        files = json.load(fh)["files"]
    contexts = next(iter(files.values()))["contexts"] if files else {}
    with open(os.path.join(scratch, MAP), "w", encoding="utf-8") as fh:
        json.dump(contexts, fh)


def _build_key(scratch):
    code = "from tests.factories.database import build_key; print(build_key())"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=scratch, capture_output=True, text=True, check=True
    ).stdout.strip()


def _label(target, only):
    if not only:
        return target
    label = target + "." + "+".join(only)
    if len(label) <= 120:
        return label
    # a file name holds 255 bytes: a long list of functions is named by its digest
    return f"{target}.{len(only)}-functions-{hashlib.sha1('+'.join(only).encode()).hexdigest()[:10]}"


def summary(target, only=None, label=None):
    label = label or _label(target, only)
    session = os.path.join(OUT, f"{label}.sqlite")
    with sqlite3.connect(session) as db:
        rows = db.execute(
            "SELECT s.definition_name, s.operator_name, s.start_pos_row, r.test_outcome, r.worker_outcome,"
            " s.occurrence"
            " FROM mutation_specs s LEFT JOIN work_results r ON r.job_id = s.job_id ORDER BY s.start_pos_row"
        ).fetchall()
    module = TARGETS[target][0]
    total = len(rows)
    outcome = [((r[3] or "").upper(), (r[4] or "").upper()) for r in rows]
    # killed: a test failed, the run broke (incompetent) or timed out (abnormal)
    killed = [r for r, (t, w) in zip(rows, outcome) if t in ("KILLED", "INCOMPETENT") or w == "ABNORMAL"]
    pending = [r for r, (t, w) in zip(rows, outcome) if not t and not w]
    survived = [r for r, (t, w) in zip(rows, outcome) if t == "SURVIVED" and w != "ABNORMAL"]
    equivalent = [r for r in survived if (target, r[0], r[1], r[2], r[5]) in EQUIVALENT]
    alive = [r for r in survived if (target, r[0], r[1], r[2], r[5]) not in EQUIVALENT]
    counted = total - len(pending) - len(equivalent)
    result = {
        "target": target,
        "module": module,
        "functions": only or TARGETS[target][1] or "all",
        "mutants": total,
        "not run": len(pending),
        "killed": len(killed),
        "equivalent": [
            {
                "function": r[0],
                "operator": r[1],
                "line": r[2],
                "occurrence": r[5],
                "why": EQUIVALENT[(target, r[0], r[1], r[2], r[5])],
            }
            for r in equivalent
        ],
        "survived": [{"function": r[0], "operator": r[1], "line": r[2], "occurrence": r[5]} for r in alive],
        "score": round(100.0 * len(killed) / counted, 1) if counted else None,
    }
    with open(os.path.join(OUT, f"{label}.json"), "w") as fh:
        json.dump(result, fh, ensure_ascii=False, indent=1)
    return result


def report():
    runs = sorted(n[:-5] for n in os.listdir(OUT) if n.endswith(".json")) if os.path.isdir(OUT) else []
    for target in TARGETS:
        if not any(r.split(".")[0] == target for r in runs):
            print(f"{target:11} not run")
    for label in runs:
        with open(os.path.join(OUT, label + ".json"), encoding="utf-8") as fh:
            functions = json.load(fh).get("functions")
        target = label.partition(".")[0]
        narrowed = functions if "." in label and isinstance(functions, list) else None
        r = summary(target, narrowed, label)  # recomputed: EQUIVALENT may have grown
        print(
            f"{target:11} {r['module']:28} {','.join(r['functions']) if isinstance(r['functions'], list) else 'all':24}"
            f" mutants {r['mutants']:4}  killed {r['killed']:4}  "
            f"equivalent {len(r['equivalent']):3}  survived {len(r['survived']):3}  not run {r['not run']:3}  "
            f"score {r['score']} %"
        )
        for s in r["survived"]:
            print(f"    survived: line {s['line']} {s['function']} {s['operator']}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Mutation run over the platform's rules (docs/testing.md).")
    parser.add_argument("targets", nargs="*", metavar="target", help="of " + ", ".join(TARGETS) + " (default: all)")
    parser.add_argument(
        "--only",
        type=lambda text: text.split(","),
        help="functions of the target, comma-separated (<module>: the statements outside any function)",
    )
    parser.add_argument(
        "--again",
        type=lambda text: text.split(","),
        metavar="LABEL[,LABEL]",
        help="run only the survivors of earlier runs (tests/mutation/out/LABEL.sqlite) on the current code",
    )
    parser.add_argument("--fail-under", type=float, help="exit 1 when a target run now scores below this percentage")
    parser.add_argument("--report", action="store_true", help="only print the scores of the last runs")
    parser.add_argument(
        "--every-test", action="store_true", help="run all the target's tests on every mutant (no coverage selection)"
    )
    options = parser.parse_args()
    unknown = [name for name in options.targets if name not in TARGETS]
    if unknown:
        parser.error(f"unknown target {', '.join(unknown)} (choose from {', '.join(TARGETS)})")
    if options.report:
        report()
    else:
        results = [
            run(name, options.only, not options.every_test, options.again) for name in options.targets or list(TARGETS)
        ]
        for result in results:
            print(json.dumps(result, ensure_ascii=False))
        report()
        fail_under = options.fail_under
        low = [r for r in results if fail_under is not None and (r["score"] is None or r["score"] < fail_under)]
        if low:
            sys.exit(f"mutation score under {fail_under} %: " + ", ".join(f"{r['target']} {r['score']} %" for r in low))
