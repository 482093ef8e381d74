"""persd.code.diffing: unified and side-by-side diffs, diff size, similarity, the HTML table."""

import re

import pytest

from persd.code.diffing import (
    DiffRow,
    diff_size,
    side_by_side,
    side_by_side_html,
    similarity,
    unified_diff,
)

BASE = "def f(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n"


def kinds(rows: list[DiffRow]) -> list[str]:
    return [row.kind for row in rows]


def test_identical_texts_are_all_equal_rows():
    rows = side_by_side(BASE, BASE)
    assert kinds(rows) == ["equal"] * 5
    assert [(r.left_no, r.right_no) for r in rows] == [(k, k) for k in range(1, 6)]
    assert unified_diff(BASE, BASE) == ""
    assert diff_size(BASE, BASE) == 0


def test_insertion_is_aligned_with_an_empty_left_side():
    b = BASE.replace("    return total\n", "    total *= 2\n    return total\n")
    rows = side_by_side(BASE, b)
    assert kinds(rows) == ["equal"] * 4 + ["insert", "equal"]
    inserted = rows[4]
    assert (inserted.left_no, inserted.left_text) == (None, "")
    assert (inserted.right_no, inserted.right_text) == (5, "    total *= 2")
    assert (rows[5].left_no, rows[5].right_no) == (5, 6)
    assert diff_size(BASE, b) == 1


def test_deletion_is_aligned_with_an_empty_right_side():
    b = BASE.replace("    total = 0\n", "")
    rows = side_by_side(BASE, b)
    assert kinds(rows) == ["equal", "delete", "equal", "equal", "equal"]
    assert (rows[1].left_no, rows[1].right_no, rows[1].right_text) == (2, None, "")
    assert (rows[2].left_no, rows[2].right_no) == (3, 2)
    assert diff_size(BASE, b) == 1


def test_replacement_marks_the_changed_characters():
    b = BASE.replace("range(n)", "range(n - 1)")
    rows = side_by_side(BASE, b)
    assert kinds(rows) == ["equal", "equal", "replace", "equal", "equal"]
    row = rows[2]
    assert (row.left_no, row.right_no) == (3, 3)
    assert row.left_spans == ()
    assert [row.right_text[s:e] for s, e in row.right_spans] == [" - 1"]
    assert diff_size(BASE, b) == 2  # one removed, one added


def test_uneven_replace_block_pairs_similar_lines_and_pads_the_rest():
    a = "x = 1\nreturn compute(alpha, beta)\ny = 2\n"
    b = "x = 1\nprint('debug')\nreturn compute(beta, alpha)\ny = 2\n"
    rows = side_by_side(a, b)
    assert kinds(rows) == ["equal", "insert", "replace", "equal"]
    assert rows[2].left_text == "return compute(alpha, beta)"
    assert rows[2].right_text == "return compute(beta, alpha)"
    marked = "".join(rows[2].left_text[s:e] for s, e in rows[2].left_spans)
    assert "alpha" in marked and "return" not in marked and "compute" not in marked


def test_every_line_appears_once_on_its_side():
    a = "a\nb\nc\nd\ne\nf\n"
    b = "a\nB\nc\nx\ny\nf\ng\n"
    rows = side_by_side(a, b)
    assert [r.left_no for r in rows if r.left_no] == list(range(1, 7))
    assert [r.right_no for r in rows if r.right_no] == list(range(1, 8))
    for row in rows:
        assert (row.left_no is None) == (row.kind == "insert")
        assert (row.right_no is None) == (row.kind == "delete")


def test_trailing_whitespace_does_not_count():
    assert diff_size("x = 1  \ny = 2\n", "x = 1\ny = 2") == 0
    assert kinds(side_by_side("x = 1  \n", "x = 1\n")) == ["equal"]


def test_unified_diff_names_and_hunks():
    text = unified_diff(BASE, BASE.replace("total += i", "total -= i"))
    assert text.startswith("--- attempt\n+++ refinement\n@@ ")
    assert "-        total += i\n+        total -= i\n" in text


def test_similarity_bounds():
    assert similarity(BASE, BASE) == 1.0
    assert similarity("", "") == 1.0
    close = similarity(BASE, BASE.replace("range(n)", "range(n - 1)"))
    assert 0.9 < close < 1.0
    unrelated = "import os\nprint(os.listdir('/tmp'))\n"
    assert similarity(BASE, unrelated) < 0.4
    assert similarity(BASE, BASE + "\n\n   \n") == 1.0  # blank lines and trailing spaces


def test_html_escapes_code_and_titles():
    a = "x = '<script>alert(1)</script>'\n"
    b = "x = '<script>alert(2)</script>' & 1\n"
    page = side_by_side_html(a, b, left_title="<b>left</b>", right_title="right")
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "&lt;b&gt;left&lt;/b&gt;" in page
    assert "&amp; 1" in page
    assert "${" not in side_by_side_html("s = f'${x}'\n", "s = f'${y}'\n")


def test_html_structure_and_classes():
    b = BASE.replace("range(n)", "range(n - 1)").replace("    return total\n", "")
    page = side_by_side_html(BASE, b)
    assert page.startswith('<div class="persd-diff">') and page.endswith("</div>")
    assert "<style>" in page and "rgba(" in page
    assert page.count('class="persd-diff-row persd-diff-replace"') == 1
    assert page.count('class="persd-diff-row persd-diff-delete"') == 1
    assert page.count('class="persd-diff-row persd-diff-equal"') == 3
    assert '<span class="persd-diff-mark"> - 1</span>' in page
    classes = set(re.findall(r'class="([^"]+)"', page))
    assert all(c.startswith("persd-diff") for names in classes for c in names.split())


def test_html_context_collapses_unchanged_runs():
    a = "".join(f"line_{k} = {k}\n" for k in range(40))
    b = a.replace("line_20 = 20", "line_20 = 21")
    page = side_by_side_html(a, b, context=2)
    assert page.count("persd-diff-row persd-diff-equal") == 4
    assert "⋯ 18 unchanged lines ⋯" in page and "⋯ 17 unchanged lines ⋯" in page
    assert "No differences" in side_by_side_html(a, a)


def test_one_column_shows_removed_then_added_lines_with_both_numbers():
    b = BASE.replace("range(n)", "range(n - 1)").replace("    return total\n", "")
    page = side_by_side_html(BASE, b, "attempt", "<fix>", columns=1)
    assert "attempt → &lt;fix&gt;" in page
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", page, flags=re.S)[1:]  # after the heading
    signs = [re.search(r'persd-diff-sign[^"]*">([^<]*)<', row).group(1) for row in rows]
    assert signs == ["", "", "-", "+", "", "-"]  # the changed line: old, then new
    numbers = [re.findall(r'persd-diff-ln[^"]*">(\d*)<', row) for row in rows]
    assert numbers[2] == ["3", ""] and numbers[3] == ["", "3"] and numbers[5] == ["5", ""]
    assert '<span class="persd-diff-mark"> - 1</span>' in page
    classes = set(re.findall(r'class="([^"]+)"', page))
    assert all(c.startswith("persd-diff") for names in classes for c in names.split())


def test_blank_line_changes_can_be_hidden_and_are_counted():
    b = BASE.replace("    total = 0\n", "    total = 0\n\n\n")
    assert "2 blank-line changes hidden" in side_by_side_html(BASE, b, hide_blank=True)
    assert "No differences except blank lines." in side_by_side_html(BASE, b, hide_blank=True)
    shown = side_by_side_html(BASE, b)
    assert "blank-line" not in shown and shown.count("persd-diff-insert") == 2


def test_a_layout_other_than_one_or_two_columns_is_refused():
    with pytest.raises(ValueError, match="columns must be 1 or 2"):
        side_by_side_html(BASE, BASE, columns=3)


def test_code_similarity_compares_the_code_below_a_shared_prompt():
    from persd.code.diffing import code_similarity

    prompt = 'def f(x):\n    """' + "A long description. " * 40 + '"""\n'
    attempt, fixed = prompt + "    return x + 1\n", prompt + "    y = x * 2\n    return y - 7\n"
    assert code_similarity(attempt, fixed, prompt) == similarity("    return x + 1\n",
                                                                 "    y = x * 2\n    return y - 7\n")
    assert code_similarity(attempt, fixed, prompt) < 0.7 < similarity(attempt, fixed)
    # only one starts with the prompt: the whole programs are compared
    assert code_similarity("def f(x): return x + 1\n", fixed, prompt) == \
        similarity("def f(x): return x + 1\n", fixed)
