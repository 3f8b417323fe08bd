"""Every bad input listed in docs/errors.md still gets exactly the documented exception and message."""

import re
from pathlib import Path

import pytest

from error_cases import CASES, run_case

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
ROW = re.compile(r"^\| (\d+) \| ([^|]+) \| (.+) \| (\w+) \| `(.*)` \|$")
# Plugins loaded by other tests in this process extend the list of available backends.
AVAILABLE = re.compile(r"\(available: [^)]*\)")


def documented():
    rows = {}
    for line in DOC.read_text().splitlines():
        m = ROW.match(line)
        if m:
            rows[int(m.group(1))] = (m.group(2).strip(), m.group(4), m.group(5))
    return rows


def test_catalogue_is_complete_and_large():
    rows = documented()
    assert len(rows) == len(CASES) >= 25
    areas = {area for area, _, _ in rows.values()}
    assert {"data file", "libsvm file", "model file", "argument", "training"} <= areas


@pytest.mark.parametrize("number", range(1, len(CASES) + 1))
def test_documented_message(number):
    area, what, fn = CASES[number - 1]
    doc_area, doc_cls, doc_msg = documented()[number]
    assert doc_area == area
    cls, msg = run_case(fn)
    assert (cls, AVAILABLE.sub("(available: ...)", msg)) == (doc_cls, AVAILABLE.sub("(available: ...)", doc_msg)), \
        f"case {number}: {what}"
