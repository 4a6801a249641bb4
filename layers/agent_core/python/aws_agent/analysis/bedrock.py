"""One Converse call to Claude on Amazon Bedrock that reads an issue into a `ModelProposal`, validated, never trusted.

`read_issue` returns a `ModelReading` (the proposal, token usage and latency) or raises `ModelUnavailable`
(timeout, throttling, a model or service error: nothing usable came back) or `ModelOutputInvalid` (an answer
came back but it is not a valid call of the task tool: no toolUse block, text only, wrong types, schema
violations). Both carry the reason the caller records when it falls back to the rule-based analyzer.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from pydantic import ValidationError

from ..config import BedrockConfig
from ..events import IssueRef
from .prompt import TOOL_NAME, ModelProposal, render_issue, system_prompt, tool_config

THROTTLING_CODES = frozenset({"ThrottlingException", "ServiceQuotaExceededException", "TooManyRequestsException"})


@dataclass(frozen=True)
class Usage:
    """What one call cost: tokens in and out, and latency (Bedrock's own figure and the wall clock)."""

    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: int = 0  # metrics.latencyMs of the response (model time)
    wall_ms: int = 0  # the whole call as this process saw it, retries included


@dataclass(frozen=True)
class ModelReading:
    proposal: ModelProposal
    usage: Usage
    model_id: str
    stop_reason: str


@dataclass
class ModelCallFailed(Exception):
    """Base: the model gave nothing usable; `kind` and `reason` are recorded on the task with the fallback."""

    kind: str
    reason: str
    usage: Usage = field(default_factory=Usage)

    def __str__(self) -> str:
        return f"{self.kind}: {self.reason}"


class ModelUnavailable(ModelCallFailed):
    """No answer: timeout, throttling, or a model/service error."""


class ModelOutputInvalid(ModelCallFailed):
    """An answer that is not a valid call of the task tool."""


@lru_cache(maxsize=8)
def _client(region: str, connect_timeout: float, read_timeout: float, max_attempts: int) -> Any:
    config = Config(
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        # Few attempts: a throttled or slow model falls back to the rules instead of holding the pipeline up.
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        user_agent_extra="aws-agent-analyzer",
    )
    return boto3.client("bedrock-runtime", region_name=region, config=config)


def bedrock_client(config: BedrockConfig, default_region: str) -> Any:
    """The bedrock-runtime client for this configuration (one per process, reused while warm)."""
    return _client(
        config.region or default_region,
        config.connect_timeout_seconds,
        config.read_timeout_seconds,
        config.max_attempts,
    )


def converse_request(config: BedrockConfig, issue: IssueRef, accounts: dict[str, str]) -> dict[str, Any]:
    """The Converse request: system prompt, the issue as delimited data, the forced task tool, temperature 0."""
    return {
        "modelId": config.model_id,
        "system": [{"text": system_prompt(accounts)}],
        "messages": [{"role": "user", "content": [{"text": render_issue(issue)}]}],
        "toolConfig": tool_config(),
        "inferenceConfig": {"maxTokens": config.max_tokens, "temperature": 0.0},
    }


def _usage(response: dict[str, Any], wall_ms: int) -> Usage:
    usage = response.get("usage") or {}
    return Usage(
        input_tokens=int(usage.get("inputTokens") or 0),
        output_tokens=int(usage.get("outputTokens") or 0),
        latency_ms=int((response.get("metrics") or {}).get("latencyMs") or 0),
        wall_ms=wall_ms,
    )


def _call(client: Any, request: dict[str, Any]) -> tuple[dict[str, Any], int]:
    started = time.perf_counter()

    def elapsed() -> Usage:
        return Usage(wall_ms=int((time.perf_counter() - started) * 1000))

    try:
        response = client.converse(**request)
    except (ReadTimeoutError, ConnectTimeoutError) as exc:
        reason = f"Bedrock did not answer in time ({type(exc).__name__})"
        raise ModelUnavailable("timeout", reason, elapsed()) from exc
    except (EndpointConnectionError, ConnectionClosedError) as exc:
        reason = f"Bedrock endpoint unreachable ({type(exc).__name__})"
        raise ModelUnavailable("unreachable", reason, elapsed()) from exc
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
        message = str(exc.response.get("Error", {}).get("Message", ""))[:200]
        kind = "throttled" if code in THROTTLING_CODES else "model-error"
        raise ModelUnavailable(kind, f"{code}: {message}".rstrip(": "), elapsed()) from exc
    return response, int((time.perf_counter() - started) * 1000)


def _describe(exc: ValidationError, limit: int = 4) -> str:
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in exc.errors()[:limit]]
    return "; ".join(parts)


def parse_response(response: dict[str, Any], usage: Usage) -> tuple[ModelProposal, str]:
    """The tool call in a Converse response, validated strictly against the task tool's schema."""
    stop_reason = str(response.get("stopReason") or "")
    content = ((response.get("output") or {}).get("message") or {}).get("content") or []
    calls = [block["toolUse"] for block in content if isinstance(block, dict) and "toolUse" in block]
    if not calls:
        kinds = ", ".join(sorted({k for block in content if isinstance(block, dict) for k in block})) or "nothing"
        raise ModelOutputInvalid(
            "invalid-output", f"no {TOOL_NAME} tool call in the answer (stopReason {stop_reason!r}, got {kinds})", usage
        )
    if len(calls) > 1 or calls[0].get("name") != TOOL_NAME:
        names = [str(c.get("name"))[:40] for c in calls]
        raise ModelOutputInvalid("invalid-output", f"expected one {TOOL_NAME} call, got {names}", usage)
    if stop_reason != "tool_use":
        raise ModelOutputInvalid("invalid-output", f"the answer stopped with {stop_reason!r}, not 'tool_use'", usage)
    arguments = calls[0].get("input")
    if not isinstance(arguments, dict):
        raise ModelOutputInvalid("invalid-output", f"tool input is {type(arguments).__name__}, not an object", usage)
    try:
        # Strict JSON validation: "0.9" is not a number and "yes" is not a boolean; unknown fields are refused.
        proposal = ModelProposal.model_validate_json(json.dumps(arguments), strict=True)
    except ValidationError as exc:
        reason = f"tool input fails the task schema: {_describe(exc)}"
        raise ModelOutputInvalid("schema-violation", reason, usage) from exc
    return proposal, stop_reason


def read_issue(client: Any, config: BedrockConfig, issue: IssueRef, accounts: dict[str, str]) -> ModelReading:
    """Ask the model for the issue's task: one Converse call, its answer validated."""
    response, wall_ms = _call(client, converse_request(config, issue, accounts))
    usage = _usage(response, wall_ms)
    proposal, stop_reason = parse_response(response, usage)
    return ModelReading(proposal=proposal, usage=usage, model_id=config.model_id, stop_reason=stop_reason)
