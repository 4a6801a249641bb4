"""The guardians in the cost sweep: the `guard(finding)` seam of costs.options.SweepOptions."""

from __future__ import annotations

from collections.abc import Callable

from ..config import AgentConfig
from ..model import CostFinding
from . import michael
from .policy import Policies, load_policies


def sweep_guard(policies: Policies | None = None) -> Callable[[CostFinding], str]:
    """A guard for SweepOptions: Michael's necessity review (removing an idle resource waits for a human)."""
    resolved = policies

    def guard(finding: CostFinding) -> str:
        nonlocal resolved
        if resolved is None:
            resolved = load_policies(_config())
        return michael.review_finding(finding, resolved.michael).value

    return guard


def _config() -> AgentConfig:
    """The deployment's configuration when running in the agent's Lambda (AGENT_CONFIG), else the packaged file."""
    from ..settings import settings

    return settings().config


def guardians_guard(finding: CostFinding) -> str:
    """The sweep's default guard: the policies of this deployment, loaded at first use."""
    return _default(finding)


_default = sweep_guard()
