"""The run's closing summary says when tests were skipped for want of the test data (tests/conftest.py's
pytest_terminal_summary), so that a clone without ../shared does not pass quietly with fewer tests."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO


def run_pytest(node: str, images: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "INTERP_TEST_IMAGES": images, "INTERP_OFFLINE": "1"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", node]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_skips_for_missing_test_data_are_counted_in_the_summary(tmp_path):
    node = "tests/test_model.py::test_dalmatian_is_logit_41_with_the_known_runners_up"
    result = run_pytest(node, str(tmp_path / "no-data"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"1 test in 1 file skipped: no test data at {tmp_path / 'no-data'}" in result.stdout
    assert "1 x test photo not found at" in result.stdout and "1 skipped" in result.stdout


def test_no_such_line_when_nothing_was_skipped(tmp_path):
    result = run_pytest("tests/test_model.py::test_tf_same_padding_is_asymmetric_like_the_spec", str(tmp_path))
    assert "passed" in result.stdout and "skipped: no test data" not in result.stdout
