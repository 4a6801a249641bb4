"""The reliability suite (issue 8): load and duplicates, faults, bad input, blast radius, deployment security.

Runs on the session's embedded AWS (`local_agent`), at the size RELIABILITY_SIZE says: `ci` (default, what
`pytest -n 2` runs) or `full` (`python tests/reliability/run.py --size full`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # rel_harness, rel_faults, rel_figures

from rel_harness import Observer, Size, size  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "reliability: the reliability suite (issue 8)")
    if not config.pluginmanager.has_plugin("tests.reliability.rel_report"):
        config.pluginmanager.import_plugin("tests.reliability.rel_report")


def _ours(item_path: Any) -> bool:
    return Path(str(item_path)).resolve().parent == HERE


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _ours(item.path):
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(scope="session")
def sz() -> Size:
    return size()


@pytest.fixture(scope="session")
def observer(local_agent: Any) -> Iterator[Observer]:
    yield Observer(local_agent)


# The suite's own deployment settings: a load of a thousand creates in one account is what it measures, so Buddha's
# quotas and Michael's daily budget are raised as an operator would for such a fleet (their gates have their own
# tests); the rest of the policy stays as shipped.
RELIABILITY_POLICIES = {
    "buddha": {"quotas": {"default": 100_000, "Ec2Instance": 100_000, "RdsInstance": 100_000}},
    "michael": {"daily_budget_usd": {"default": 1_000_000}},
}


@pytest.fixture(scope="module", autouse=True)
def fleet_sized_policies(local_agent: Any) -> Iterator[None]:
    with local_agent.configured(policies=RELIABILITY_POLICIES):
        yield
