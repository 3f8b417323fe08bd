"""The OpenMP wait settings the package chooses at import, and that it leaves a user's own alone."""

import os
import subprocess
import sys

SHOW = "import os, libslide; print(os.environ.get('OMP_WAIT_POLICY'), os.environ.get('GOMP_SPINCOUNT'))"


def env_after_import(**set_vars):
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(set_vars)
    out = subprocess.run([sys.executable, "-c", SHOW], env=env, check=True, capture_output=True, text=True)
    return out.stdout.split()


def test_default_is_passive_with_a_short_spin():
    assert env_after_import() == ["PASSIVE", "3000"]


def test_an_explicit_policy_keeps_its_own_spin():
    assert env_after_import(OMP_WAIT_POLICY="ACTIVE") == ["ACTIVE", "None"]


def test_an_explicit_spin_count_is_respected():
    assert env_after_import(GOMP_SPINCOUNT="0") == ["PASSIVE", "0"]
