"""Training is bit-for-bit what tests/digests.json recorded (on the instruction set it was recorded with)."""

import json
import os

import pytest

import libslide as sl

from digests import run

RECORD = os.path.join(os.path.dirname(__file__), "digests.json")


def test_training_matches_recorded_digests():
    with open(RECORD) as f:
        want = json.load(f)
    if want["isa"] != sl.kernel_isa():
        pytest.skip(f"digests recorded with {want['isa']} kernels, this process uses {sl.kernel_isa()}")
    got = run(threads=2)
    assert got["configs"] == want["configs"]
