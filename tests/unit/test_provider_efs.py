"""EfsFileSystemProvider against moto (UpdateFileSystem through botocore's Stubber: moto lacks it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from aws_agent.errors import ResourceNotManaged, TaskAnalysisError, TransientAwsError
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.efs import EfsFileSystemProvider
from aws_agent.resources.vpc import VpcNetworkProvider

MakeCtx = Callable[..., Any]
EFS = AwsResourceType.EFS_FILE_SYSTEM
T = AwsTaskType


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> EfsFileSystemProvider:
    instance = EfsFileSystemProvider()
    monkeypatch.setattr(instance, "wait", {"attempts": 2, "delay": 0.0})
    return instance


@pytest.fixture
def subnets(make_ctx: MakeCtx) -> list[str]:
    vpc = VpcNetworkProvider().create(make_ctx(AwsResourceType.VPC_NETWORK, {"az_count": 2}, task_id="net"))
    return list(vpc.metadata["private_subnet_ids"])


def efs() -> Any:
    return boto3.client("efs", region_name="us-east-1")


def file_systems() -> list[dict[str, Any]]:
    return list(efs().describe_file_systems()["FileSystems"])


def test_registry_returns_the_efs_provider(mocked_aws: None) -> None:
    assert isinstance(provider_for(EFS), EfsFileSystemProvider)


def test_create_encrypted_with_mount_targets_and_lifecycle(
    make_ctx: MakeCtx, provider: Any, subnets: list[str]
) -> None:
    outcome = provider.create(
        make_ctx(EFS, {"subnet_ids": subnets, "transition_to_ia": "after_30_days", "name": "shared"})
    )
    assert outcome.id.startswith("fs-") and outcome.state is ResourceState.ACTIVE and outcome.ready
    assert outcome.arn.endswith(f"file-system/{outcome.id}")
    (fs,) = file_systems()
    assert fs["Encrypted"] is True and fs["CreationToken"] == "task-0001"
    tags = {t["Key"]: t["Value"] for t in fs["Tags"]}
    assert tags["MiyabiManaged"] == "true" and tags["MiyabiTask"] == "task-0001" and tags["Name"] == "shared"
    assert sorted(outcome.metadata["subnet_ids"]) == sorted(subnets)
    assert outcome.metadata["lifecycle_policies"] == [{"TransitionToIA": "AFTER_30_DAYS"}]


def test_create_is_idempotent_per_task(make_ctx: MakeCtx, provider: Any, subnets: list[str]) -> None:
    first = provider.create(make_ctx(EFS, {"subnet_ids": subnets}))
    second = provider.create(make_ctx(EFS, {"subnet_ids": subnets}))
    assert second.id == first.id and len(file_systems()) == 1
    assert len(efs().describe_mount_targets(FileSystemId=first.id)["MountTargets"]) == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"encrypted": "false"}, "encrypted file systems only"),
        ({"throughput_mode": "fast"}, "throughput_mode"),
        ({"throughput_mode": "provisioned"}, "provisioned_throughput"),
        ({"subnet_ids": ["nope"]}, "invalid subnet"),
        ({"transition_to_ia": "AFTER_2_DAYS"}, "transition_to_ia"),
    ],
)
def test_bad_parameters(make_ctx: MakeCtx, provider: Any, params: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskAnalysisError, match=message):
        provider.create(make_ctx(EFS, params))
    assert file_systems() == []


def test_plan_changes_nothing(make_ctx: MakeCtx, provider: Any, subnets: list[str]) -> None:
    plan = provider.plan(make_ctx(EFS, {"subnet_ids": subnets}))
    assert plan["calls"].count("elasticfilesystem:CreateMountTarget") == 2
    assert file_systems() == []


def test_update_lifecycle_and_tags(make_ctx: MakeCtx, provider: Any) -> None:
    fs_id = provider.create(make_ctx(EFS, {})).id
    ctx = make_ctx(
        EFS,
        {"file_system_id": fs_id, "transition_to_ia": "AFTER_7_DAYS", "tags": {"Env": "dev"}},
        task_type=T.UPDATE_RESOURCE,
    )
    outcome = provider.update(ctx, fs_id)
    assert outcome.metadata["lifecycle_policies"] == [{"TransitionToIA": "AFTER_7_DAYS"}]
    assert outcome.tags["Env"] == "dev"


def test_update_throughput_calls_update_file_system(make_ctx: MakeCtx, provider: Any) -> None:
    """moto has no UpdateFileSystem: the call is checked against the real service model with Stubber."""
    fs_id = provider.create(make_ctx(EFS, {})).id
    ctx = make_ctx(
        EFS,
        {"file_system_id": fs_id, "throughput_mode": "provisioned", "provisioned_throughput": 64},
        task_type=T.UPDATE_RESOURCE,
    )
    stubbed = boto3.client("efs", region_name="us-east-1")
    stubber = Stubber(stubbed)
    stubber.add_response(
        "update_file_system",
        {
            "OwnerId": "123456789012",
            "CreationToken": "t",
            "FileSystemId": fs_id,
            "CreationTime": "2026-01-01",
            "LifeCycleState": "updating",
            "NumberOfMountTargets": 0,
            "SizeInBytes": {"Value": 0},
            "PerformanceMode": "generalPurpose",
            "Tags": [],
        },
        {"FileSystemId": fs_id, "ThroughputMode": "provisioned", "ProvisionedThroughputInMibps": 64},
    )
    moto_client = ctx.client("efs")

    class Split:
        """UpdateFileSystem to the stubbed client (validated against the real model), the rest to moto."""

        def __getattr__(self, name: str) -> Any:
            return getattr(stubbed if name == "update_file_system" else moto_client, name)

    ctx.client = lambda service: Split() if service == "efs" else None  # type: ignore[method-assign]
    with stubber:
        outcome = provider.update(ctx, fs_id)
    stubber.assert_no_pending_responses()
    assert outcome.id == fs_id


def test_delete_removes_mount_targets_then_the_file_system(
    make_ctx: MakeCtx, provider: Any, subnets: list[str]
) -> None:
    fs_id = provider.create(make_ctx(EFS, {"subnet_ids": subnets})).id
    plan = provider.plan(make_ctx(EFS, {"file_system_id": fs_id}, task_type=T.DELETE_RESOURCE))
    assert plan["calls"] == ["elasticfilesystem:DeleteMountTarget"] * 2 + ["elasticfilesystem:DeleteFileSystem"]
    outcome = provider.delete(make_ctx(EFS, {"file_system_id": fs_id}, task_type=T.DELETE_RESOURCE), fs_id)
    assert outcome.state is ResourceState.DELETING and not outcome.ready
    assert file_systems() == []


def test_delete_waits_boundedly_for_mount_targets(
    make_ctx: MakeCtx, provider: Any, subnets: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fs_id = provider.create(make_ctx(EFS, {"subnet_ids": subnets})).id
    lingering = [{"MountTargetId": "fsmt-1", "SubnetId": subnets[0], "LifeCycleState": "deleting"}]
    monkeypatch.setattr(EfsFileSystemProvider, "_mount_targets", staticmethod(lambda efs, fs: lingering))
    with pytest.raises(TransientAwsError, match="mount targets"):
        provider.delete(make_ctx(EFS, {"file_system_id": fs_id}, task_type=T.DELETE_RESOURCE), fs_id)
    assert len(file_systems()) == 1  # nothing deleted before the mount targets are gone


def test_unmanaged_file_system_is_never_deleted(make_ctx: MakeCtx, provider: Any) -> None:
    fs_id = efs().create_file_system(CreationToken="someone-else")["FileSystemId"]
    with pytest.raises(ResourceNotManaged):
        provider.delete(make_ctx(EFS, {"file_system_id": fs_id}, task_type=T.DELETE_RESOURCE), fs_id)
    assert len(file_systems()) == 1


def test_discover_and_tag(make_ctx: MakeCtx, provider: Any) -> None:
    managed = provider.create(make_ctx(EFS, {})).id
    efs().create_file_system(CreationToken="other")
    found = {o.id: o for o in provider.discover(make_ctx(EFS, {}, task_type=T.DISCOVER_RESOURCES))}
    assert len(found) == 2 and found[managed].managed
    provider.tag(make_ctx(EFS, {}), managed, {"Backup": "daily"})
    assert provider.status(make_ctx(EFS, {}), managed).tags["Backup"] == "daily"
