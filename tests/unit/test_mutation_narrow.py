"""The mutation run's test selection (tests/mutation/narrow.py): a mutant runs the tests that execute its
statement, all of them when that cannot be told, and none only when no test reaches the statement."""

import ast
import importlib.util
import json
import os

import pytest

_spec = importlib.util.spec_from_file_location(
    "narrow", os.path.join(os.path.dirname(__file__), "..", "mutation", "narrow.py")
)
narrow = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(narrow)

SOURCE = """LIMIT = 3


def capped(value):
    if value > LIMIT:
        return min(
            value,
            LIMIT,
        )
    return value
"""
TESTS = ["tests/unit/test_caps.py", "tests/web/test_pages.py"]


def test_changed_lines_of_a_one_line_mutant():
    mutated = SOURCE.replace("value > LIMIT", "value >= LIMIT")
    assert narrow.changed_lines(SOURCE.splitlines(), mutated.splitlines()) == {5}


def test_a_line_inside_a_statement_brings_the_whole_statement():
    tree = ast.parse(SOURCE)
    assert list(narrow.statement_lines(tree, 8)) == [6, 7, 8, 9]  # the return spanning four lines
    assert list(narrow.statement_lines(tree, 1)) == [1]
    assert narrow.statement_lines(tree, 3) is None  # a blank line between statements


def test_node_ids_from_coverage_contexts():
    assert narrow.node_id("test_caps.test_cap", TESTS) == "tests/unit/test_caps.py::test_cap"
    assert narrow.node_id("test_pages.TestList.test_sort", TESTS) == "tests/web/test_pages.py::TestList::test_sort"
    assert narrow.node_id("test_elsewhere.test_x", TESTS) is None


@pytest.fixture
def mutant(tmp_path):
    original = tmp_path / "original.py"
    original.write_text(SOURCE, encoding="utf-8")
    module = tmp_path / "module.py"
    coverage_map = tmp_path / "map.json"
    contexts = {"1": [""], "4": [""], "5": ["test_caps.test_cap"], "6": ["test_caps.test_cap"], "10": []}

    def select(old, new, **changes):
        module.write_text(SOURCE.replace(old, new), encoding="utf-8")
        coverage_map.write_text(json.dumps(dict(contexts, **changes)), encoding="utf-8")
        return narrow.selection(str(module), str(original), str(coverage_map), TESTS)

    return select


def test_a_mutant_runs_the_tests_that_reach_it(mutant):
    assert mutant("value > LIMIT", "value >= LIMIT") == ["tests/unit/test_caps.py::test_cap"]


def test_a_mutant_no_test_reaches_runs_none(mutant):
    assert mutant("    return value\n", "    return None\n") == []


def test_import_time_fixture_lines_and_a_missing_map_run_every_test(mutant, tmp_path):
    assert mutant("LIMIT = 3", "LIMIT = 4") is None  # run at import: coverage names no test
    assert mutant("value > LIMIT", "value >= LIMIT", **{"5": ["", "test_caps.test_cap"]}) is None  # a fixture too
    assert mutant("value > LIMIT", "value >= LIMIT", **{"5": ["test_gone.test_x"]}) is None  # not a target test
    (tmp_path / "map.json").unlink()
    assert narrow.selection(str(tmp_path / "module.py"), str(tmp_path / "original.py"), "nowhere.json", TESTS) is None
