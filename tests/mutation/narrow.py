"""The test command of one mutant (tests/mutation/run.py): run only the tests that execute the mutated
statement, as the unmutated run recorded them with coverage.py (one context per test function).

    python tests/mutation/narrow.py <module> <original module> <coverage map> <test file>...

A mutant is found by comparing the module with its unmutated copy. Its statement is the innermost
one around the changed line (a compound statement brings its whole body: more tests, never fewer).
The tests that ran any line of it are run with ``-x``; a statement that no test runs cannot change
any outcome, and exits 0 (the mutant survives, as the full run would find). Whatever cannot be narrowed
— a line run at import time or by a fixture (coverage records no test for it), a missing map, a
change outside any statement — runs every test of the target, as cosmic-ray's plain command would.
"""

import ast
import difflib
import json
import os
import subprocess
import sys

# one mutant's tests: stop at the first failure, none of the plug-ins the targets' tests do not use
PYTEST = (
    "python -m pytest -x -q -p no:cacheprovider -p no:schemathesis -p no:hypothesispytest -p no:anyio -p no:benchmark"
)


def changed_lines(original, mutated):
    """Line numbers (1-based) of ``original`` that the mutant replaced or removed."""
    lines = set()
    matcher = difflib.SequenceMatcher(None, original, mutated, autojunk=False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag != "equal":
            lines.update(range(i1 + 1, max(i2, i1 + 1) + 1))
    return lines


def statement_lines(tree, line):
    """The lines of the innermost statement around ``line``, or None outside every statement."""
    around = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno)
    ]
    if not around:
        return None
    best = min(around, key=lambda node: (node.end_lineno or node.lineno) - node.lineno)
    return range(best.lineno, (best.end_lineno or best.lineno) + 1)


def node_id(context, test_files):
    """``test_module.Class.test_name`` (coverage's test_function context) as a pytest node id."""
    module, _dot, rest = context.partition(".")
    for path in test_files:
        if os.path.splitext(os.path.basename(path))[0] == module:
            return "::".join([path, *rest.split(".")])
    return None


def selection(module, original_path, map_path, test_files):
    """The node ids to run, [] when no test runs the mutated statement, None for every test."""
    if not os.path.exists(map_path):
        return None
    with open(original_path, encoding="utf-8") as fh:
        original = fh.read()
    with open(module, encoding="utf-8") as fh:
        mutated = fh.read()
    with open(map_path, encoding="utf-8") as fh:
        contexts = json.load(fh)  # line -> contexts that ran it ("" = outside any test)
    tree = ast.parse(original)
    selected = set()
    for line in changed_lines(original.splitlines(), mutated.splitlines()):
        span = statement_lines(tree, line)
        if span is None:
            return None
        for number in span:
            for context in contexts.get(str(number), ()):
                test = node_id(context, test_files) if context else None
                if test is None:
                    return None
                selected.add(test)
    return sorted(selected)


def main(argv):
    module, original_path, map_path, *test_files = argv
    tests = selection(module, original_path, map_path, test_files)
    if tests == []:
        return 0
    command = PYTEST.split() + (tests if tests is not None else test_files)
    return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
