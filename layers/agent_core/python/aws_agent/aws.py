"""boto3 sessions and clients: one retry policy for every client, assumed-role sessions per target account."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import botocore.session
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
# Assumed credentials are ~1 KB each: a few hundred entries cost nothing; an unbounded dict of Sessions did.
DEFAULT_CACHE_SIZE = 256


@dataclass(frozen=True)
class Target:
    """Where a task acts: an account (the agent's own when None) and a region."""

    account_id: str | None
    region: str


@dataclass(frozen=True)
class AssumedCredentials:
    """Temporary credentials of an assumed member role."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime

    def client_kwargs(self) -> dict[str, str]:
        return {
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
            "aws_session_token": self.session_token,
        }


class SessionFactory:
    """Clients per target account: the agent's own credentials, or an assumed member role.

    Only *credentials* are cached (LRU of `max_cached` entries, keyed by account and session name, until
    `refresh_margin` before expiry). Clients are built from the one base boto3 Session, so every client shares its
    botocore loader and the service models it caches (~30 MB with EC2's): a warm container that serves thousands of
    tasks stays flat instead of keeping one Session (and one loader) per account and task.
    """

    def __init__(
        self,
        agent_account_id: str | None,
        role_name: str,
        session_name: str = "aws-agent",
        role_arns: dict[str, str] | None = None,
        *,
        external_id: str | None = None,
        max_cached: int = DEFAULT_CACHE_SIZE,
        refresh_margin: timedelta = _REFRESH_MARGIN,
    ) -> None:
        self._agent_account_id = agent_account_id
        self._role_name = role_name
        # Explicit role per account (an accounts file may name any role); otherwise <role_name> in that account.
        self._role_arns = dict(role_arns or {})
        self._session_name = session_name
        self._external_id = external_id
        self._max_cached = max(1, max_cached)
        self._refresh_margin = refresh_margin
        self._lock = threading.Lock()
        # (account, session name) -> credentials, least recently used first.
        self._cache: OrderedDict[tuple[str, str], AssumedCredentials] = OrderedDict()
        self._base = boto3.Session()
        self._sts: dict[str, Any] = {}
        self.assume_role_calls = 0

    def role_arn(self, account_id: str) -> str:
        return self._role_arns.get(account_id) or f"arn:aws:iam::{account_id}:role/{self._role_name}"

    def is_own(self, account_id: str | None) -> bool:
        return account_id is None or account_id == self._agent_account_id

    def credentials(
        self, account_id: str, *, session_name: str | None = None, region: str | None = None
    ) -> AssumedCredentials:
        """The member role's credentials in `account_id`: cached, assumed again shortly before they expire."""
        name = _session_name(session_name or self._session_name)
        key = (account_id, name)
        now = datetime.now(UTC)
        with self._lock:
            self._evict_expired(now)
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
            creds = self._assume(account_id, name, region)
            if creds.expiration - self._refresh_margin > now:  # credentials that are already "near expiry" are not kept
                self._cache[key] = creds
            while len(self._cache) > self._max_cached:
                self._cache.popitem(last=False)
            return creds

    def _evict_expired(self, now: datetime) -> None:
        for key in [k for k, c in self._cache.items() if c.expiration - self._refresh_margin <= now]:
            del self._cache[key]

    def _assume(self, account_id: str, name: str, region: str | None) -> AssumedCredentials:
        request: dict[str, Any] = {"RoleArn": self.role_arn(account_id), "RoleSessionName": name}
        if self._external_id:
            request["ExternalId"] = self._external_id
        try:
            raw = self._sts_client(region).assume_role(**request)["Credentials"]
        except ClientError as exc:
            raise translate(exc, f"assume {self.role_arn(account_id)}") from exc
        self.assume_role_calls += 1
        expiration = raw["Expiration"]
        if expiration.tzinfo is None:
            expiration = expiration.replace(tzinfo=UTC)
        return AssumedCredentials(raw["AccessKeyId"], raw["SecretAccessKey"], raw["SessionToken"], expiration)

    def _sts_client(self, region: str | None) -> Any:
        # Regional STS endpoint of the target region (botocore's `sts_regional_endpoints` is `regional`): no
        # dependency on us-east-1, lower latency, and AWS_ENDPOINT_URL still wins for emulators.
        region = region or self._base.region_name or "us-east-1"
        client = self._sts.get(region)
        if client is None:
            client = self._base.client("sts", region_name=region, config=RETRY_CONFIG)
            self._sts[region] = client
        return client

    def session(self, account_id: str | None, *, session_name: str | None = None) -> boto3.Session:
        """A boto3 Session for callers that need one. It shares the base session's loader (model cache) and is not
        cached itself; prefer `client()`, which builds no Session at all."""
        if self.is_own(account_id):
            return self._base
        assert account_id is not None
        creds = self.credentials(account_id, session_name=session_name)
        core = botocore.session.Session()
        core.register_component("data_loader", self._base._session.get_component("data_loader"))
        return boto3.Session(
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
            aws_session_token=creds.session_token,
            region_name=self._base.region_name,
            botocore_session=core,
        )

    def client(self, service: str, target: Target, *, session_name: str | None = None) -> Any:
        """A client of `service` in the target's account and region, with the shared retry configuration."""
        credentials: dict[str, str] = {}
        if not self.is_own(target.account_id):
            assert target.account_id is not None
            creds = self.credentials(target.account_id, session_name=session_name, region=target.region)
            credentials = creds.client_kwargs()
        with self._lock:  # a boto3 Session is not thread-safe while it creates clients
            return self._base.client(service, region_name=target.region, config=RETRY_CONFIG, **credentials)


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
