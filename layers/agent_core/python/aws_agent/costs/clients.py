"""boto3 clients per account x region x service on one shared session: thread-safe, every HTTP request counted."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import boto3

from ..aws import RETRY_CONFIG, SessionFactory, Target


class Clients:
    """Client cache for a sweep. Credentials come from the SessionFactory (AssumeRole, cached per account);
    the clients are built on one boto3 Session so each service model is loaded once, not once per account."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions
        self._session = boto3.Session()
        self._lock = threading.Lock()
        self._clients: dict[tuple[str | None, str, str], Any] = {}
        self._counts: dict[tuple[str | None, str], Counter[str]] = {}
        self._own_account: str | None = None

    def client(self, service: str, target: Target) -> Any:
        """The client of `service` for the target (created once; boto3 clients are thread-safe once created)."""
        key = (target.account_id, target.region, service)
        cached = self._clients.get(key)
        if cached is not None:
            return cached
        credentials: dict[str, str] = {}
        if target.account_id is not None:
            assumed = self.sessions.session(target.account_id)  # may call sts:AssumeRole (own lock, cached)
            if assumed is not self.sessions.session(None):
                frozen = assumed.get_credentials().get_frozen_credentials()
                credentials = {
                    "aws_access_key_id": frozen.access_key,
                    "aws_secret_access_key": frozen.secret_key,
                    "aws_session_token": frozen.token,
                }
        with self._lock:  # boto3 Sessions are not thread-safe: create clients one at a time
            cached = self._clients.get(key)
            if cached is None:
                cached = self._session.client(service, region_name=target.region, config=RETRY_CONFIG, **credentials)
                counts = self._counts.setdefault((target.account_id, target.region), Counter())
                cached.meta.events.register("before-send", self._counter(counts))
                self._clients[key] = cached
            return cached

    def account_id(self, target: Target) -> str:
        """The target's account; for the caller's own credentials (account None) STS is asked once per sweep."""
        if target.account_id is not None:
            return target.account_id
        if self._own_account is None:
            identity = self.client("sts", target).get_caller_identity()
            self._own_account = str(identity["Account"])
        return self._own_account

    def _counter(self, counts: Counter[str]) -> Any:
        lock = self._lock

        def count(event_name: str, **_: Any) -> None:
            _prefix, service, operation = event_name.split(".", 2)
            with lock:
                counts[f"{service}.{operation}"] += 1

        return count

    def requests(self, target: Target | None = None) -> dict[str, int]:
        """HTTP requests sent (retries included) for one target, or for the whole sweep."""
        with self._lock:
            total: Counter[str] = Counter()
            for (account_id, region), counts in self._counts.items():
                if target is None or (account_id, region) == (target.account_id, target.region):
                    total.update(counts)
            return dict(sorted(total.items()))
