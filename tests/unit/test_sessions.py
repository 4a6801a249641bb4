"""Assumed-role sessions: the right account, the task in the session name, external id, a bounded credentials cache."""

from __future__ import annotations

import gc
from datetime import timedelta
from typing import Any

import pytest

from aws_agent.aws import RETRY_CONFIG, SessionFactory, Target

pytestmark = pytest.mark.usefixtures("mocked_aws")

ZEUS, APOLLO, CERBERUS, ATHENA = "123456789012", "222222222222", "333333333333", "444444444444"
REGIONS = ("us-east-1", "eu-west-1")


def recorder(factory: SessionFactory) -> list[dict[str, Any]]:
    """Every AssumeRole request the factory sends (a botocore hook on the base session, as CloudTrail would see)."""
    calls: list[dict[str, Any]] = []

    def hook(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    factory._base.events.register("provide-client-params.sts.AssumeRole", hook)
    return calls


def test_each_account_sees_only_its_own_resources() -> None:
    factory = SessionFactory(ZEUS, "MiyabiAgentRole")
    for account in (ZEUS, APOLLO, CERBERUS, ATHENA):
        for region in REGIONS:
            s3 = factory.client("s3", Target(account, region), session_name="miyabi-t1")
            config = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            s3.create_bucket(Bucket=f"b-{account}-{region}", **config)
    for account in (ZEUS, APOLLO, CERBERUS, ATHENA):
        client = factory.client("s3", Target(account, "us-east-1"), session_name="miyabi-t1")
        names = {b["Name"] for b in client.list_buckets()["Buckets"]}
        assert names == {f"b-{account}-{r}" for r in REGIONS}
        sts = factory.client("sts", Target(account, "eu-west-1"), session_name="miyabi-t1")
        assert sts.get_caller_identity()["Account"] == account
    # The Session path (kept for existing callers) lands in the same account.
    assert factory.session(APOLLO).client("sts").get_caller_identity()["Account"] == APOLLO


def test_session_name_carries_task_id_and_external_id_is_sent() -> None:
    factory = SessionFactory(ZEUS, "MiyabiAgentRole", external_id="miyabi-ext-1")
    calls = recorder(factory)
    factory.client("ec2", Target(APOLLO, "us-east-1"), session_name="miyabi-task:42/x")
    assert len(calls) == 1
    assert calls[0]["RoleArn"] == f"arn:aws:iam::{APOLLO}:role/MiyabiAgentRole"
    assert calls[0]["RoleSessionName"] == "miyabi-task-42-x"  # ':' and '/' are not allowed in session names
    assert calls[0]["ExternalId"] == "miyabi-ext-1"
    ids = factory.client("sts", Target(APOLLO, "us-east-1"), session_name="miyabi-task:42/x").get_caller_identity()
    assert ids["Arn"].endswith("/MiyabiAgentRole/miyabi-task-42-x")


def test_own_account_assumes_nothing_and_clients_share_the_retry_config() -> None:
    factory = SessionFactory(ZEUS, "MiyabiAgentRole")
    calls = recorder(factory)
    client = factory.client("s3", Target(None, "us-east-1"))
    factory.client("s3", Target(ZEUS, "us-east-1"))
    assert calls == []
    assert client.meta.config.retries == RETRY_CONFIG.retries
    assert client.meta.config.retries["mode"] == "adaptive"


def test_credentials_are_reused_within_validity() -> None:
    factory = SessionFactory(ZEUS, "MiyabiAgentRole")
    calls = recorder(factory)
    for _ in range(5):
        for region in REGIONS:
            factory.client("ec2", Target(APOLLO, region), session_name="miyabi-t7").describe_instances()
    assert len(calls) == 1  # one AssumeRole for 10 clients in two regions
    factory.client("ec2", Target(CERBERUS, "us-east-1"), session_name="miyabi-t7")
    factory.client("ec2", Target(APOLLO, "us-east-1"), session_name="miyabi-t8")
    assert len(calls) == 3  # another account, another task: their own sessions


def test_credentials_near_expiry_are_assumed_again() -> None:
    # moto issues one-hour credentials: with a margin above that they are always "near expiry".
    factory = SessionFactory(ZEUS, "MiyabiAgentRole", refresh_margin=timedelta(hours=2))
    calls = recorder(factory)
    factory.client("s3", Target(APOLLO, "us-east-1"))
    factory.client("s3", Target(APOLLO, "us-east-1"))
    assert len(calls) == 2
    assert len(factory._cache) == 0


def test_cache_is_bounded_lru() -> None:
    factory = SessionFactory(ZEUS, "MiyabiAgentRole", max_cached=3)
    calls = recorder(factory)
    for task in range(10):
        factory.client("s3", Target(APOLLO, "us-east-1"), session_name=f"miyabi-t{task}")
    assert len(factory._cache) == 3
    assert [name for _, name in factory._cache] == ["miyabi-t7", "miyabi-t8", "miyabi-t9"]
    factory.client("s3", Target(APOLLO, "us-east-1"), session_name="miyabi-t9")
    assert len(calls) == 10  # the most recent entry was a hit


def test_clients_share_one_model_loader() -> None:
    """No boto3.Session per account or task: every client comes from the base session (one loader, one model cache)."""
    import boto3

    factory = SessionFactory(ZEUS, "MiyabiAgentRole")
    gc.collect()
    before = sum(1 for o in gc.get_objects() if isinstance(o, boto3.Session))
    for task in range(20):
        factory.client("ec2", Target(APOLLO, "us-east-1"), session_name=f"miyabi-t{task}")
    gc.collect()
    after = sum(1 for o in gc.get_objects() if isinstance(o, boto3.Session))
    assert after == before
    loader = factory._base._session.get_component("data_loader")
    assert factory.session(APOLLO)._session.get_component("data_loader") is loader


def test_sts_is_called_in_the_target_region() -> None:
    factory = SessionFactory(ZEUS, "MiyabiAgentRole")
    factory.client("s3", Target(APOLLO, "eu-west-1"), session_name="miyabi-t1")
    assert factory._sts["eu-west-1"].meta.endpoint_url == "https://sts.eu-west-1.amazonaws.com"
    assert factory._sts["eu-west-1"].meta.config.retries["mode"] == "adaptive"
