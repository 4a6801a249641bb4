"""Shared fixtures: the synthesized template (once per session) and the embedded AWS agent."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("TZ", "UTC")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(scope="session")
def local_template() -> dict[str, Any]:
    """The template the local runtime deploys: the CDK app synthesized with the local configuration."""
    from aws_agent.local.agent import LOCAL_CONFIG
    from aws_agent.local.template import synthesize

    return synthesize(context={"aws-agent:config": LOCAL_CONFIG})


@pytest.fixture(scope="session")
def local_agent(local_template: dict[str, Any]) -> Iterator[Any]:
    """The whole agent on moto's server in this process, shared by the end-to-end tests."""
    from aws_agent.local.agent import LocalAgent

    with LocalAgent(template=local_template) as agent:
        yield agent
