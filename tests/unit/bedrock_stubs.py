"""Realistic Bedrock Converse responses and helpers for the Bedrock analyzer tests (botocore Stubber, real client)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from botocore.stub import Stubber

from aws_agent.analysis.bedrock import bedrock_client, converse_request
from aws_agent.config import BedrockConfig
from aws_agent.events import IssueRef

MODEL_ID = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
CONFIG = BedrockConfig(enabled=True, model_id=MODEL_ID, confidence_threshold=0.7)
ACCOUNTS = {"Apollo": "222222222222", "Athena": "444444444444"}


def issue(title: str, body: str = "", labels: tuple[str, ...] = (), number: int = 42) -> IssueRef:
    return IssueRef(number=number, title=title, body=body, labels=list(labels))


def tool_input(task_type: str, resource_type: str | None, confidence: float = 0.95, **extra: Any) -> dict[str, Any]:
    """A tool input as Claude writes it: every field it chose to fill, JSON types."""
    out: dict[str, Any] = {"task_type": task_type, "confidence": confidence, "instructions_in_request": False}
    if resource_type is not None:
        out["resource_type"] = resource_type
    out.setdefault("parameters", {})
    out.update(extra)
    out.setdefault("summary", f"{task_type} {resource_type}")
    return out


def converse_response(
    tool: dict[str, Any] | None,
    *,
    text: str | None = "I'll record the task described in the issue.",
    stop_reason: str = "tool_use",
    tool_name: str = "record_task",
    input_tokens: int = 1187,
    output_tokens: int = 143,
    latency_ms: int = 1342,
) -> dict[str, Any]:
    """A Converse response shaped like Bedrock's: assistant message with text and toolUse blocks, usage, metrics."""
    content: list[dict[str, Any]] = []
    if text is not None:
        content.append({"text": text})
    if tool is not None:
        content.append({"toolUse": {"toolUseId": "tooluse_Xq2bV8sTQ9GkR1m4c7LpZw", "name": tool_name, "input": tool}})
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason,
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": latency_ms},
    }


def client_for(config: BedrockConfig = CONFIG) -> Any:
    """The very client the analyzer uses (cached per configuration), so a Stubber on it is what the code calls."""
    return bedrock_client(config, "us-east-1")


@contextmanager
def stubbed(config: BedrockConfig = CONFIG) -> Iterator[Stubber]:
    client = client_for(config)
    with Stubber(client) as stub:
        yield stub
        stub.assert_no_pending_responses()


def expect(stub: Stubber, response: dict[str, Any], request_issue: IssueRef, accounts: dict[str, str]) -> None:
    """Queue a response for exactly the request the analyzer must send for this issue."""
    stub.add_response("converse", response, converse_request(CONFIG, request_issue, accounts))


@contextmanager
def network_failure(error: type[Exception], config: BedrockConfig = CONFIG) -> Iterator[list[int]]:
    """The HTTP layer fails the way botocore reports timeouts (raised at send time, after signing and retries)."""
    client = client_for(config)
    calls: list[int] = []

    def fail(request: Any, **_: Any) -> None:
        calls.append(1)
        if error is ReadTimeoutError:
            raise ReadTimeoutError(endpoint_url=request.url)
        raise ConnectTimeoutError(endpoint_url=request.url)

    handler: Callable[..., None] = fail
    client.meta.events.register_first("before-send.bedrock-runtime.Converse", handler)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-send.bedrock-runtime.Converse", handler)
