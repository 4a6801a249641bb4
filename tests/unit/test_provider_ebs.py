"""EbsVolumeProvider against moto: encrypted by default, idempotent, ModifyVolume updates, safe deletes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from aws_agent.errors import ResourceConflict, ResourceNotManaged, TaskAnalysisError
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.base import ProviderContext
from aws_agent.resources.ebs import EbsVolumeProvider

MakeCtx = Callable[..., Any]
EBS = AwsResourceType.EBS_VOLUME
T = AwsTaskType
provider = EbsVolumeProvider()


def ec2() -> Any:
    return boto3.client("ec2", region_name="us-east-1")


def volumes() -> list[dict[str, Any]]:
    return list(ec2().describe_volumes()["Volumes"])


def op(make_ctx: MakeCtx, task_type: AwsTaskType, volume_id: str, **params: Any) -> ProviderContext:
    return make_ctx(EBS, {"volume_id": volume_id, **params}, task_id="task-op", task_type=task_type)


def test_registry_returns_the_ebs_provider(mocked_aws: None) -> None:
    assert isinstance(provider_for(EBS), EbsVolumeProvider)


def test_create_encrypted_gp3_tagged_at_creation(make_ctx: MakeCtx) -> None:
    outcome = provider.create(make_ctx(EBS, {"size": 20, "name": "data", "tags": {"Team": "db"}}))
    assert outcome.id.startswith("vol-") and outcome.state is ResourceState.ACTIVE
    (volume,) = volumes()
    assert volume["Encrypted"] is True and volume["VolumeType"] == "gp3" and volume["Size"] == 20
    assert volume["AvailabilityZone"] == "us-east-1a"
    tags = {t["Key"]: t["Value"] for t in volume["Tags"]}
    assert tags == {
        "Team": "db",
        "Name": "data",
        "MiyabiManaged": "true",
        "MiyabiAgent": "BillGates",
        "MiyabiTask": "task-0001",
    }


def test_create_is_idempotent_per_task(make_ctx: MakeCtx) -> None:
    first = provider.create(make_ctx(EBS, {"size": 8}))
    assert provider.create(make_ctx(EBS, {"size": 8})).id == first.id
    assert len(volumes()) == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"encrypted": False}, "encrypted volumes only"),
        ({"volume_type": "gp9"}, "volume_type"),
        ({"size": 0}, "between"),
        ({"volume_type": "st1", "size": 10}, "between 125"),
        ({"availability_zone": "eu-west-1a"}, "not a zone of us-east-1"),
    ],
)
def test_bad_parameters(make_ctx: MakeCtx, params: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskAnalysisError, match=message):
        provider.create(make_ctx(EBS, params))
    assert volumes() == []


def test_plan_changes_nothing(make_ctx: MakeCtx) -> None:
    plan = provider.plan(make_ctx(EBS, {"size": 30}))
    assert plan["calls"] == ["ec2:CreateVolume"] and plan["parameters"]["Size"] == 30
    assert volumes() == []


def test_update_modifies_size_and_type(make_ctx: MakeCtx) -> None:
    volume_id = provider.create(make_ctx(EBS, {"size": 10})).id
    outcome = provider.update(op(make_ctx, T.UPDATE_RESOURCE, volume_id, size=50, volume_type="gp2"), volume_id)
    assert outcome.metadata["size"] == 50 and outcome.metadata["volume_type"] == "gp2"
    assert outcome.metadata["modification_state"] in ("completed", "optimizing")
    assert outcome.ready


def test_update_refuses_to_shrink(make_ctx: MakeCtx) -> None:
    volume_id = provider.create(make_ctx(EBS, {"size": 10})).id
    with pytest.raises(TaskAnalysisError, match="only grow"):
        provider.update(op(make_ctx, T.UPDATE_RESOURCE, volume_id, size=5), volume_id)


def test_modifying_volume_is_updating_until_optimizing(make_ctx: MakeCtx) -> None:
    volume = {"VolumeId": "vol-0123456789abcdef0", "State": "in-use", "Size": 10, "VolumeType": "gp3", "Tags": []}
    ctx = make_ctx(EBS, {})
    assert provider._outcome(ctx, volume, {"ModificationState": "modifying"}).state is ResourceState.UPDATING
    optimizing = provider._outcome(ctx, volume, {"ModificationState": "optimizing"})
    assert optimizing.state is ResourceState.ACTIVE and optimizing.ready


def test_delete_refuses_attached_volume_unless_asked(make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch) -> None:
    volume_id = provider.create(make_ctx(EBS, {"size": 8})).id
    image = ec2().describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2().run_instances(ImageId=image, MinCount=1, MaxCount=1, Placement={"AvailabilityZone": "us-east-1a"})
    ec2().attach_volume(VolumeId=volume_id, InstanceId=instance["Instances"][0]["InstanceId"], Device="/dev/sdf")
    with pytest.raises(ResourceConflict, match="force_detach"):
        provider.delete(op(make_ctx, T.DELETE_RESOURCE, volume_id), volume_id)
    assert len([v for v in volumes() if v["VolumeId"] == volume_id]) == 1
    monkeypatch.setattr(provider, "detach_wait", {"attempts": 3, "delay": 0.0})
    outcome = provider.delete(op(make_ctx, T.DELETE_RESOURCE, volume_id, force_detach=True), volume_id)
    assert outcome.state is ResourceState.DELETING
    assert [v for v in volumes() if v["VolumeId"] == volume_id] == []


def test_delete_managed_volume(make_ctx: MakeCtx) -> None:
    volume_id = provider.create(make_ctx(EBS, {"size": 8})).id
    assert provider.delete(op(make_ctx, T.DELETE_RESOURCE, volume_id), volume_id).ready is False
    assert volumes() == []


def test_unmanaged_volume_is_never_deleted(make_ctx: MakeCtx) -> None:
    volume_id = ec2().create_volume(Size=8, AvailabilityZone="us-east-1a")["VolumeId"]
    with pytest.raises(ResourceNotManaged):
        provider.delete(op(make_ctx, T.DELETE_RESOURCE, volume_id), volume_id)
    assert len(volumes()) == 1


def test_discover_and_tag(make_ctx: MakeCtx) -> None:
    managed = provider.create(make_ctx(EBS, {"size": 8})).id
    ec2().create_volume(Size=8, AvailabilityZone="us-east-1a")
    found = {o.id: o for o in provider.discover(make_ctx(EBS, {}, task_type=T.DISCOVER_RESOURCES))}
    assert len(found) == 2 and found[managed].managed
    provider.tag(make_ctx(EBS, {}), managed, {"Backup": "daily"})
    assert provider.status(make_ctx(EBS, {}), managed).tags["Backup"] == "daily"
