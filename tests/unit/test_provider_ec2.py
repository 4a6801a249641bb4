"""Ec2InstanceProvider against moto."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from aws_agent.errors import ResourceConflict, ResourceNotFound, ResourceNotManaged, TaskAnalysisError
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import ec2 as ec2_module
from aws_agent.resources import provider_for
from aws_agent.resources.ec2 import Ec2InstanceProvider, client_token

MakeCtx = Callable[..., Any]  # the make_ctx fixture of conftest.py
EC2 = AwsResourceType.EC2_INSTANCE
T = AwsTaskType
AL2023 = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{}"
provider = Ec2InstanceProvider()


def ec2_client() -> Any:
    return boto3.client("ec2", region_name="us-east-1")


def describe(instance_id: str) -> dict[str, Any]:
    return dict(ec2_client().describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0])


def tags_of(instance_id: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in describe(instance_id).get("Tags", [])}


def live_instances() -> list[dict[str, Any]]:
    pages = (
        ec2_client()
        .get_paginator("describe_instances")
        .paginate(Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}])
    )
    return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]


def al2023(arch: str = "x86_64") -> str:
    return str(boto3.client("ssm").get_parameter(Name=AL2023.format(arch))["Parameter"]["Value"])


def create(make_ctx: MakeCtx, task_id: str = "task-0001", **params: Any) -> Any:
    return provider.create(make_ctx(EC2, params, task_id=task_id))


def unmanaged_instance() -> str:
    response = ec2_client().run_instances(ImageId=al2023(), InstanceType="t3.micro", MinCount=1, MaxCount=1)
    return str(response["Instances"][0]["InstanceId"])


def ctx_for(make_ctx: MakeCtx, instance_id: str, task_type: AwsTaskType, **params: Any) -> Any:
    return make_ctx(EC2, {"instance_id": instance_id, **params}, task_id="task-op", task_type=task_type)


def test_registry_returns_the_ec2_provider(mocked_aws: None) -> None:
    assert isinstance(provider_for(EC2), Ec2InstanceProvider)


# --- create ---------------------------------------------------------------------------------------------------------


def test_create_launches_a_tagged_instance_of_the_latest_al2023(make_ctx: MakeCtx) -> None:
    outcome = create(make_ctx, name="web-1", tags={"Team": "api"})

    assert outcome.id.startswith("i-")
    assert outcome.arn == f"arn:aws:ec2:us-east-1:123456789012:instance/{outcome.id}"
    assert outcome.state is ResourceState.CREATING and not outcome.ready  # pending: the wait loop polls status
    assert outcome.metadata["instance_type"] == "t3.micro"  # AgentConfig.default_ec2_instance_type
    assert outcome.metadata["image_id"] == al2023()
    assert outcome.metadata["image_source"].startswith("ssm:")
    expected_tags = {
        "Team": "api",
        "MiyabiManaged": "true",
        "MiyabiAgent": "BillGates",
        "MiyabiTask": "task-0001",
        "Name": "web-1",
    }
    assert tags_of(outcome.id) == expected_tags
    instance = describe(outcome.id)
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    volumes = ec2_client().describe_volumes(Filters=[{"Name": "attachment.instance-id", "Values": [outcome.id]}])
    assert {t["Key"]: t["Value"] for t in volumes["Volumes"][0]["Tags"]} == expected_tags

    status = provider.status(make_ctx(EC2, {}), outcome.id)
    assert status.state is ResourceState.ACTIVE and status.ready
    assert status.metadata["instance_state"] == "running"


def test_create_picks_the_arm64_image_for_a_graviton_type(make_ctx: MakeCtx) -> None:
    outcome = create(make_ctx, instance_type="t4g.small")
    assert outcome.metadata["instance_type"] == "t4g.small"
    assert outcome.metadata["image_id"] == al2023("arm64")


def test_create_uses_the_given_image(make_ctx: MakeCtx) -> None:
    image = ec2_client().describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    assert create(make_ctx, image_id=image).metadata["image_id"] == image


def test_create_falls_back_to_describe_images_without_the_ssm_parameter(
    make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ec2_module, "AL2023_PARAMETER", "/aws/service/miyabi/does-not-exist-{arch}")
    outcome = create(make_ctx)
    image = ec2_client().describe_images(ImageIds=[outcome.metadata["image_id"]])["Images"][0]
    assert image["Name"].startswith("al2023-ami-2023.") and image["Architecture"] == "x86_64"
    assert outcome.metadata["image_source"] == "ec2:DescribeImages"


def test_create_replay_returns_the_same_instance(make_ctx: MakeCtx) -> None:
    first = create(make_ctx)
    second = create(make_ctx)
    assert second.id == first.id
    assert [i["InstanceId"] for i in live_instances()] == [first.id]


def test_create_for_another_task_launches_another_instance(make_ctx: MakeCtx) -> None:
    assert create(make_ctx, task_id="task-A").id != create(make_ctx, task_id="task-B").id
    assert len(live_instances()) == 2


def test_client_token_is_stable_per_task_and_within_ec2_limits() -> None:
    assert client_token("task-1") == client_token("task-1") != client_token("task-2")
    assert len(client_token("t" * 80)) <= 64


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"instance_type": "t9.enormous"}, "instance_type"),
        ({"instance_type": "not a type"}, "instance_type"),
        ({"image_id": "ubuntu"}, "image_id"),
        ({"subnet_id": "vpc-123"}, "subnet_id"),
        ({"security_group_ids": ["sg-12345678", "default"]}, "security_group_ids"),
        ({"count": 3}, "count"),
    ],
)
def test_create_rejects_invalid_parameters(make_ctx: MakeCtx, params: dict[str, Any], match: str) -> None:
    with pytest.raises(TaskAnalysisError, match=match):
        create(make_ctx, **params)
    assert live_instances() == []


# --- status ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ec2_state", "state", "ready"),
    [
        ("pending", ResourceState.CREATING, False),
        ("running", ResourceState.ACTIVE, True),
        ("stopping", ResourceState.ACTIVE, False),
        ("stopped", ResourceState.ACTIVE, True),
        ("shutting-down", ResourceState.DELETING, False),
        ("terminated", ResourceState.TERMINATED, True),
    ],
)
def test_ec2_states_map_to_resource_states(
    make_ctx: MakeCtx, ec2_state: str, state: ResourceState, ready: bool
) -> None:
    # moto moves instances between states at once, so the transitional ones are checked on the mapping itself.
    outcome = provider._outcome(make_ctx(EC2, {}), {"InstanceId": "i-0123456789abcdef0", "State": {"Name": ec2_state}})
    assert (outcome.state, outcome.ready, outcome.metadata["instance_state"]) == (state, ready, ec2_state)


def test_status_of_a_missing_instance_is_resource_not_found(make_ctx: MakeCtx) -> None:
    with pytest.raises(ResourceNotFound, match="i-0123456789abcdef0 does not exist"):
        provider.status(make_ctx(EC2, {}), "i-0123456789abcdef0")


def test_instance_id_parameter_is_required_and_checked(make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskAnalysisError, match="missing parameter 'instance_id'"):
        provider.resource_id(make_ctx(EC2, {}, task_type=T.DELETE_RESOURCE))
    with pytest.raises(TaskAnalysisError, match="instance_id"):
        provider.resource_id(make_ctx(EC2, {"instance_id": "web-1"}, task_type=T.DELETE_RESOURCE))


# --- update ---------------------------------------------------------------------------------------------------------


def test_update_stops_starts_and_reboots(make_ctx: MakeCtx) -> None:
    instance_id = create(make_ctx).id
    stopped = provider.update(ctx_for(make_ctx, instance_id, T.UPDATE_RESOURCE, action="stop"), instance_id)
    assert stopped.metadata["instance_state"] == "stopped" and stopped.state is ResourceState.ACTIVE
    started = provider.update(ctx_for(make_ctx, instance_id, T.UPDATE_RESOURCE, action="start"), instance_id)
    assert started.metadata["instance_state"] == "running"
    rebooted = provider.update(ctx_for(make_ctx, instance_id, T.UPDATE_RESOURCE, action="reboot"), instance_id)
    assert rebooted.metadata["instance_state"] == "running"


def test_update_reboot_of_a_stopped_instance_conflicts(make_ctx: MakeCtx) -> None:
    instance_id = create(make_ctx).id
    provider.update(ctx_for(make_ctx, instance_id, T.UPDATE_RESOURCE, action="stop"), instance_id)
    with pytest.raises(ResourceConflict, match="only a running instance reboots"):
        provider.update(ctx_for(make_ctx, instance_id, T.UPDATE_RESOURCE, action="reboot"), instance_id)


def test_update_instance_type_of_a_running_instance_restarts_it(make_ctx: MakeCtx) -> None:
    instance_id = create(make_ctx).id
    outcome = provider.update(ctx_for(make_ctx, instance_id, T.UPDATE_RESOURCE, instance_type="t3.small"), instance_id)
    assert outcome.metadata["instance_type"] == "t3.small"
    assert outcome.metadata["previous_instance_type"] == "t3.micro"
    assert describe(instance_id)["State"]["Name"] == "running"


def test_update_instance_type_of_a_stopped_instance_leaves_it_stopped(make_ctx: MakeCtx) -> None:
    instance_id = create(make_ctx).id
    ec2_client().stop_instances(InstanceIds=[instance_id])
    provider.update(ctx_for(make_ctx, instance_id, T.UPDATE_RESOURCE, instance_type="t3.medium"), instance_id)
    instance = describe(instance_id)
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("t3.medium", "stopped")


def test_update_merges_tags(make_ctx: MakeCtx) -> None:
    instance_id = create(make_ctx).id
    outcome = provider.update(ctx_for(make_ctx, instance_id, T.UPDATE_RESOURCE, tags={"Env": "prod"}), instance_id)
    assert outcome.tags["Env"] == "prod" and outcome.tags["MiyabiTask"] == "task-0001"


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({}, "needs parameter 'action'"),
        ({"action": "hibernate"}, "action"),
        ({"action": "stop", "instance_type": "t3.small"}, "not both"),
        ({"instance_type": "t9.enormous"}, "instance_type"),
    ],
)
def test_update_rejects_invalid_parameters(make_ctx: MakeCtx, params: dict[str, Any], match: str) -> None:
    instance_id = create(make_ctx).id
    with pytest.raises(TaskAnalysisError, match=match):
        provider.update(ctx_for(make_ctx, instance_id, T.UPDATE_RESOURCE, **params), instance_id)
    assert describe(instance_id)["InstanceType"] == "t3.micro"


def test_update_refuses_an_unmanaged_instance(make_ctx: MakeCtx) -> None:
    instance_id = unmanaged_instance()
    with pytest.raises(ResourceNotManaged):
        provider.update(ctx_for(make_ctx, instance_id, T.UPDATE_RESOURCE, action="stop"), instance_id)
    assert describe(instance_id)["State"]["Name"] == "running"


# --- delete ---------------------------------------------------------------------------------------------------------


def test_delete_terminates_a_managed_instance(make_ctx: MakeCtx) -> None:
    instance_id = create(make_ctx).id
    outcome = provider.delete(ctx_for(make_ctx, instance_id, T.DELETE_RESOURCE), instance_id)
    assert outcome.state in (ResourceState.DELETING, ResourceState.TERMINATED)
    assert outcome.ready is (outcome.state is ResourceState.TERMINATED)
    assert describe(instance_id)["State"]["Name"] in ("shutting-down", "terminated")
    again = provider.delete(ctx_for(make_ctx, instance_id, T.DELETE_RESOURCE), instance_id)
    assert again.state in (ResourceState.DELETING, ResourceState.TERMINATED)


def test_delete_refuses_an_unmanaged_instance(make_ctx: MakeCtx) -> None:
    instance_id = unmanaged_instance()
    with pytest.raises(ResourceNotManaged, match="MiyabiManaged=true"):
        provider.delete(ctx_for(make_ctx, instance_id, T.DELETE_RESOURCE), instance_id)
    assert describe(instance_id)["State"]["Name"] == "running"


def test_update_of_a_terminated_instance_conflicts(make_ctx: MakeCtx) -> None:
    instance_id = create(make_ctx).id
    provider.delete(ctx_for(make_ctx, instance_id, T.DELETE_RESOURCE), instance_id)
    with pytest.raises(ResourceConflict, match="cannot be updated"):
        provider.update(ctx_for(make_ctx, instance_id, T.UPDATE_RESOURCE, action="start"), instance_id)


# --- discover and tag -----------------------------------------------------------------------------------------------


def test_discover_finds_live_managed_and_unmanaged_instances(make_ctx: MakeCtx) -> None:
    managed = create(make_ctx).id
    unmanaged = unmanaged_instance()
    gone = create(make_ctx, task_id="task-gone").id
    ec2_client().terminate_instances(InstanceIds=[gone])

    found = {o.id: o for o in provider.discover(make_ctx(EC2, {}, task_type=T.DISCOVER_RESOURCES))}

    assert set(found) == {managed, unmanaged}
    assert found[managed].managed and not found[unmanaged].managed


def test_tag_adds_without_removing(make_ctx: MakeCtx) -> None:
    instance_id = unmanaged_instance()
    ec2_client().create_tags(Resources=[instance_id], Tags=[{"Key": "Owner", "Value": "ops"}])
    provider.tag(make_ctx(EC2, {}), instance_id, {"MiyabiManaged": "true"})
    assert tags_of(instance_id) == {"Owner": "ops", "MiyabiManaged": "true"}


# --- plan -----------------------------------------------------------------------------------------------------------


def test_plan_create_dry_runs_and_launches_nothing(make_ctx: MakeCtx) -> None:
    plan = provider.plan(make_ctx(EC2, {"instance_type": "t3.small", "name": "web"}))
    assert plan["operation"] == "create" and plan["resource_id"] is None
    assert plan["calls"] == ["ec2:RunInstances"]
    assert plan["parameters"]["instance_type"] == "t3.small"
    assert plan["parameters"]["image_id"] == al2023()
    assert plan["parameters"]["client_token"] == client_token("task-0001")
    assert plan["parameters"]["tags"]["Name"] == "web"
    assert live_instances() == []


def test_plan_create_of_a_replay_names_the_existing_instance(make_ctx: MakeCtx) -> None:
    instance_id = create(make_ctx).id
    plan = provider.plan(make_ctx(EC2, {}))
    assert plan["resource_id"] == instance_id and plan["calls"] == []


def test_plan_update_and_delete_change_nothing(make_ctx: MakeCtx) -> None:
    instance_id = create(make_ctx).id
    resize = provider.plan(ctx_for(make_ctx, instance_id, T.UPDATE_RESOURCE, instance_type="t3.large"))
    assert resize["calls"] == ["ec2:StopInstances", "ec2:ModifyInstanceAttribute", "ec2:StartInstances"]
    assert provider.plan(ctx_for(make_ctx, instance_id, T.DELETE_RESOURCE))["calls"] == ["ec2:TerminateInstances"]
    with pytest.raises(ResourceNotManaged):
        provider.plan(ctx_for(make_ctx, unmanaged_instance(), T.DELETE_RESOURCE))
    instance = describe(instance_id)
    assert (instance["InstanceType"], instance["State"]["Name"]) == ("t3.micro", "running")
