"""Fault injection into the embedded AWS: throttling and 5xx on a seeded fraction of calls, Lambda service errors,
an account whose role cannot be assumed. Each injector counts what it injected.

Faults are raised inside moto's backends, so the agent sees real error responses over HTTP (status, code, body) and
botocore's retry handler and the state machine's Retry treat them as they would AWS's:
- throttling (`SlowDown`, `RequestLimitExceeded`, `ThrottlingException`) is rejected before anything happens;
- a 5xx on a write may also come *after* the write was applied (DynamoDB), which is what makes retried writes
  interesting: conditional writes and idempotent puts must absorb the replay.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException


class _XmlServerError(HTTPException):
    """A 500 with an XML error body (S3 / EC2 shape): botocore retries it by its status."""

    code = 500

    def __init__(self, body: str) -> None:
        super().__init__()
        self.description = body

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [("Content-Type", "application/xml")]


def _s3_throttle() -> Exception:
    from moto.s3.exceptions import S3ClientError

    return S3ClientError("SlowDown", "Please reduce your request rate.")


def _s3_500() -> Exception:
    return _XmlServerError(
        "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"
    )


def _ec2_throttle() -> Exception:
    from moto.ec2.exceptions import EC2ClientError

    return EC2ClientError("RequestLimitExceeded", "Request limit exceeded.")


def _ec2_500() -> Exception:
    return _XmlServerError(
        "<Response><Errors><Error><Code>InternalError</Code><Message>An internal error has occurred</Message>"
        "</Error></Errors><RequestID>rel</RequestID></Response>"
    )


def _ddb_throttle() -> Exception:
    from moto.dynamodb.exceptions import DynamodbException

    return DynamodbException("com.amazonaws.dynamodb.v20120810#ThrottlingException", "Rate of requests exceeds")


def _ddb_500() -> Exception:
    from moto.dynamodb.exceptions import DynamodbException

    class InternalServerError(DynamodbException):
        code = 500

    return InternalServerError("com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error")


def _events_throttle() -> Exception:
    from moto.core.exceptions import JsonRESTError

    return JsonRESTError("ThrottlingException", "Rate exceeded")


@dataclass
class Fault:
    """One injection point: a moto backend method, what it raises, and whether the call happens first."""

    target: str  # "s3.create_bucket"
    make: Callable[[], Exception]
    label: str  # "SlowDown"
    after_effect: bool = False  # the call is applied, then the error is returned


def _targets() -> list[tuple[type, str, list[Fault]]]:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.ec2.models import EC2Backend
    from moto.events.models import EventsBackend
    from moto.s3.models import S3Backend

    def s3(method: str) -> tuple[type, str, list[Fault]]:
        return (
            S3Backend,
            method,
            [Fault(f"s3.{method}", _s3_throttle, "SlowDown"), Fault(f"s3.{method}", _s3_500, "500 InternalError")],
        )

    def ec2(method: str) -> tuple[type, str, list[Fault]]:
        return (
            EC2Backend,
            method,
            [
                Fault(f"ec2.{method}", _ec2_throttle, "RequestLimitExceeded"),
                Fault(f"ec2.{method}", _ec2_500, "500 InternalError"),
            ],
        )

    def ddb(method: str) -> tuple[type, str, list[Fault]]:
        return (
            DynamoDBBackend,
            method,
            [
                Fault(f"dynamodb.{method}", _ddb_throttle, "ThrottlingException"),
                Fault(f"dynamodb.{method}", _ddb_500, "500 after the write", after_effect=True),
            ],
        )

    return [
        s3("create_bucket"),
        s3("put_bucket_tagging"),
        s3("get_bucket_tagging"),
        s3("put_bucket_encryption"),
        ec2("run_instances"),
        ec2("describe_instances"),
        ec2("create_tags"),
        ddb("put_item"),
        ddb("update_item"),
        ddb("transact_write_items"),
        (EventsBackend, "put_events", [Fault("events.put_events", _events_throttle, "ThrottlingException")]),
    ]


@dataclass
class FaultPlan:
    """Fail a seeded fraction `rate` of the targeted calls; `injected` counts (target, label)."""

    rate: float
    seed: int = 8
    injected: Counter[tuple[str, str]] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def pick(self, target: str, faults: list[Fault]) -> Fault | None:
        with self._lock:
            self.calls[target] += 1
            if self._rng.random() >= self.rate:
                return None
            fault = self._rng.choice(faults)
            self.injected[(fault.target, fault.label)] += 1
            return fault

    @property
    def total(self) -> int:
        return sum(self.injected.values())


_inside = threading.local()


@contextmanager
def aws_faults(plan: FaultPlan, only: Callable[[str], bool] = lambda target: True) -> Iterator[FaultPlan]:
    """Inject `plan` into the emulator's S3, EC2, DynamoDB and EventBridge backends while active."""
    patched: list[tuple[type, str, Any]] = []
    for cls, method, faults in _targets():
        if not only(faults[0].target):
            continue
        original = getattr(cls, method)

        def make_wrapper(original: Any = original, faults: list[Fault] = faults) -> Any:
            def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
                if getattr(_inside, "depth", 0):  # a backend call made by another one (TransactWriteItems → PutItem)
                    return original(self, *args, **kwargs)
                fault = plan.pick(faults[0].target, faults)
                _inside.depth = 1
                try:
                    if fault is None:
                        return original(self, *args, **kwargs)
                    if fault.after_effect:
                        original(self, *args, **kwargs)
                finally:
                    _inside.depth = 0
                raise fault.make()

            return wrapper

        setattr(cls, method, make_wrapper())
        patched.append((cls, method, original))
    try:
        yield plan
    finally:
        for cls, method, original in patched:
            setattr(cls, method, original)
        # The storm left botocore's adaptive rate limiters of the runtime's shared clients throttled down: later
        # tests start from fresh clients, as a new Lambda container would.
        from aws_agent.pipeline.runtime import runtime

        runtime.cache_clear()


LAMBDA_ERRORS = ("Lambda.TooManyRequestsException", "Lambda.ServiceException")


def lambda_faults(plan: FaultPlan, steps: dict[str, str], skip: frozenset[str] = frozenset({"intake"})) -> Callable:
    """An invocation wrapper (see rel_harness.wrap_invocations): a fraction of the state machine's Lambda calls
    fail with Lambda's own throttling / service errors before the handler runs (the state machine retries them)."""

    def wrapper(original: Callable[..., tuple[bool, Any]], name: str, payload: Any) -> tuple[bool, Any]:
        short = name.split(":function:")[-1].split(":")[0]
        step = steps.get(short, short)
        if step not in skip:
            faults = [Fault(f"lambda.{step}", lambda: RuntimeError(), error) for error in LAMBDA_ERRORS]
            fault = plan.pick("lambda.invoke", faults)
            if fault is not None:
                return False, {"errorType": fault.label, "errorMessage": f"injected {fault.label}", "stackTrace": []}
        return original(name, payload)

    return wrapper


@contextmanager
def unassumable(account_id: str, role_name: str = "MiyabiAgentRole") -> Iterator[list[str]]:
    """moto's STS grants every AssumeRole: refuse the agent's role in one account, as a missing trust would."""
    from moto.sts.exceptions import STSClientError
    from moto.sts.models import STSBackend

    original = STSBackend.assume_role
    refused: list[str] = []
    role_arn = f"arn:aws:iam::{account_id}:role/{role_name}"

    def assume_role(self: Any, *args: Any, **kwargs: Any) -> Any:
        arn = kwargs.get("role_arn", args[2] if len(args) > 2 else "")
        if arn == role_arn:
            refused.append(arn)
            raise STSClientError(
                "AccessDenied",
                f"User: arn:aws:sts::123456789012:assumed-role/agent is not authorized to perform: sts:AssumeRole "
                f"on resource: {arn}",
            )
        return original(self, *args, **kwargs)

    STSBackend.assume_role = assume_role  # type: ignore[method-assign]
    try:
        yield refused
    finally:
        STSBackend.assume_role = original  # type: ignore[method-assign]
