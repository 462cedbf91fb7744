"""Fixtures of the RunReport tests: a finished run's fake artifacts (``fakes.make_run``)."""
import pytest

import fakes


@pytest.fixture
def fake_run(tmp_path):
    """Every RunReport input of a scheduled re-run, by input name."""
    return fakes.make_run(tmp_path)
