"""The benchmark's regression guard: a list page issuing more queries than in the committed run fails the
CI-sized run, whatever the scale (deep pages are matched by kind, not by how far in they are)."""

from bench.run import compare_with_baseline


def _page(name, page, queries, ms=10.0):
    return {"name": name, "page": page, "queries": queries, "ours_ms_median": ms}


BASELINE = {
    "scale": 1_000_000,
    "finished_at": "2026-11-30 10:00 UTC",
    "lists": [_page("insurer 投保信息", "first", 5), _page("insurer 投保信息", "deep (25,000 rows in)", 6)],
}


def test_same_or_fewer_queries_pass_at_another_scale():
    now = [_page("insurer 投保信息", "first", 5, 3.0), _page("insurer 投保信息", "deep (500 rows in)", 5, 4.0)]
    assert compare_with_baseline(now, BASELINE) == []


def test_one_more_query_fails_and_names_the_page():
    now = [_page("insurer 投保信息", "first", 5), _page("insurer 投保信息", "deep (500 rows in)", 7)]
    assert compare_with_baseline(now, BASELINE) == ["insurer 投保信息 / deep (500 rows in): 7 queries, baseline 6"]


def test_a_new_page_and_no_baseline_are_reported_not_failed():
    assert compare_with_baseline([_page("org 承接项目", "first", 4)], BASELINE) == []
    assert compare_with_baseline([_page("org 承接项目", "first", 40)], None) == []
