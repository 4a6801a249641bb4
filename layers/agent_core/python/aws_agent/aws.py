"""boto3 sessions and clients: one retry policy for every client, assumed-role sessions per target account."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .errors import AccessDenied, AwsCallFailed, TransientAwsError

# Adaptive mode adds client-side rate limiting on throttles on top of exponential backoff with jitter.
RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 5}, connect_timeout=5, read_timeout=30)

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "RequestTimeout",
    }
)
ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
# Reasons a DynamoDB transaction is cancelled that a retry can cure (ConditionalCheckFailed is not one of them).
TRANSIENT_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})

_REFRESH_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class Target:
    """Where a task acts: an account (the agent's own when None) and a region."""

    account_id: str | None
    region: str


class SessionFactory:
    """Sessions per target account: the agent's own credentials, or an assumed member role, cached until near expiry."""

    def __init__(
        self,
        agent_account_id: str | None,
        role_name: str,
        session_name: str = "aws-agent",
        role_arns: dict[str, str] | None = None,
    ) -> None:
        self._agent_account_id = agent_account_id
        self._role_name = role_name
        # Explicit role per account (an accounts file may name any role); otherwise <role_name> in that account.
        self._role_arns = dict(role_arns or {})
        self._session_name = session_name
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[boto3.Session, datetime]] = {}
        self._base = boto3.Session()

    def role_arn(self, account_id: str) -> str:
        return self._role_arns.get(account_id) or f"arn:aws:iam::{account_id}:role/{self._role_name}"

    def session(self, account_id: str | None, *, session_name: str | None = None) -> boto3.Session:
        if account_id is None or account_id == self._agent_account_id:
            return self._base
        name = _session_name(session_name or self._session_name)
        # One assumed session per account and task: the session name carries the task id into CloudTrail.
        key = f"{account_id}/{name}"
        with self._lock:
            cached = self._cache.get(key)
            if cached and cached[1] - _REFRESH_MARGIN > datetime.now(UTC):
                return cached[0]
            sts = self._base.client("sts", config=RETRY_CONFIG)
            try:
                creds = sts.assume_role(
                    RoleArn=self.role_arn(account_id),
                    RoleSessionName=name,
                )["Credentials"]
            except ClientError as exc:
                raise translate(exc, f"assume {self.role_arn(account_id)}") from exc
            session = boto3.Session(
                aws_access_key_id=creds["AccessKeyId"],
                aws_secret_access_key=creds["SecretAccessKey"],
                aws_session_token=creds["SessionToken"],
            )
            self._cache[key] = (session, creds["Expiration"])
            return session

    def client(self, service: str, target: Target, *, session_name: str | None = None) -> Any:
        return self.session(target.account_id, session_name=session_name).client(
            service, region_name=target.region, config=RETRY_CONFIG
        )


_SESSION_NAME_INVALID = re.compile(r"[^\w+=,.@-]")


def _session_name(name: str) -> str:
    """STS session names allow [\\w+=,.@-] and 2-64 characters; task ids may hold ':'."""
    return _SESSION_NAME_INVALID.sub("-", name)[:64].ljust(2, "-")


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def translate(exc: ClientError, doing: str) -> Exception:
    """Turn a botocore error into the pipeline's error classes (transient ones are retried by the state machine)."""
    code = error_code(exc)
    message = exc.response.get("Error", {}).get("Message", str(exc))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    text = f"{doing}: {code}: {message}"
    if code in THROTTLING_CODES or status >= 500:
        return TransientAwsError(text)
    if code == "TransactionCanceledException":
        reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", []) if isinstance(r, dict)}
        if reasons & TRANSIENT_CANCELLATIONS and not reasons & {"ConditionalCheckFailed", "ValidationError"}:
            return TransientAwsError(text)
    if code in ACCESS_DENIED_CODES:
        return AccessDenied(text)
    return AwsCallFailed(text)
