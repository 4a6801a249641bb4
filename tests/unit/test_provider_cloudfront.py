"""CloudFrontDistributionProvider against moto: tagged create, InProgress -> Deployed, ETag updates, 2-step delete."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest

from aws_agent.errors import ResourceConflict, ResourceNotFound, ResourceNotManaged, TaskAnalysisError
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.cloudfront import CACHING_OPTIMIZED, CloudFrontDistributionProvider

MakeCtx = Callable[..., Any]
CF = AwsResourceType.CLOUDFRONT_DISTRIBUTION
T = AwsTaskType
ORIGIN = "assets-bucket.s3.us-east-1.amazonaws.com"
provider = CloudFrontDistributionProvider()


def cf() -> Any:
    return boto3.client("cloudfront", region_name="us-east-1")


def distributions() -> list[dict[str, Any]]:
    return list(cf().list_distributions()["DistributionList"].get("Items", []))


def create(make_ctx: MakeCtx, task_id: str = "task-0001", **params: Any) -> Any:
    return provider.create(make_ctx(CF, {"origin_domain": ORIGIN, **params}, task_id=task_id))


def op(make_ctx: MakeCtx, task_type: AwsTaskType, distribution_id: str, **params: Any) -> Any:
    return make_ctx(CF, {"distribution_id": distribution_id, **params}, task_id="task-op", task_type=task_type)


def settle(ctx: Any, distribution_id: str, polls: int = 5) -> Any:
    """What the state machine's wait loop does: poll status until ready."""
    for _ in range(polls):
        outcome = provider.status(ctx, distribution_id)
        if outcome.ready:
            return outcome
    raise AssertionError("never ready")


def unmanaged() -> str:
    config = {
        "CallerReference": "human",
        "Comment": "",
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "o",
                    "DomainName": "example.com",
                    "CustomOriginConfig": {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"},
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "o",
            "ViewerProtocolPolicy": "allow-all",
            "CachePolicyId": CACHING_OPTIMIZED,
        },
    }
    return str(cf().create_distribution(DistributionConfig=config)["Distribution"]["Id"])


def test_registry_and_long_running_settings(mocked_aws: None) -> None:
    assert isinstance(provider_for(CF), CloudFrontDistributionProvider)
    assert CloudFrontDistributionProvider.poll_seconds == 30
    assert CloudFrontDistributionProvider.deadline_seconds == 2700


def test_create_is_in_progress_then_deployed(make_ctx: MakeCtx) -> None:
    ctx = make_ctx(
        CF,
        {
            "origin_domain": ORIGIN,
            "price_class": "PriceClass_200",
            "tags": {"Team": "web"},
            "default_root_object": "index.html",
        },
    )
    outcome = provider.create(ctx)

    assert outcome.state is ResourceState.CREATING and not outcome.ready
    assert outcome.arn == f"arn:aws:cloudfront::123456789012:distribution/{outcome.id}"
    config = cf().get_distribution_config(Id=outcome.id)["DistributionConfig"]
    assert config["CallerReference"] == "task-0001" and config["Enabled"] is True
    assert config["PriceClass"] == "PriceClass_200" and config["DefaultRootObject"] == "index.html"
    assert config["Origins"]["Items"][0]["DomainName"] == ORIGIN
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    tags = {t["Key"]: t["Value"] for t in cf().list_tags_for_resource(Resource=outcome.arn)["Tags"]["Items"]}
    assert tags["MiyabiManaged"] == "true" and tags["MiyabiTask"] == "task-0001" and tags["Team"] == "web"
    deployed = settle(ctx, outcome.id)
    assert deployed.state is ResourceState.ACTIVE and deployed.metadata["distribution_status"] == "Deployed"
    assert deployed.metadata["domain_name"].endswith(".cloudfront.net")


def test_create_replay_finds_the_distribution_by_caller_reference(make_ctx: MakeCtx) -> None:
    first = create(make_ctx)
    second = create(make_ctx)
    assert first.id == second.id and len(distributions()) == 1


def test_create_with_a_caller_reference_of_someone_else_conflicts(make_ctx: MakeCtx) -> None:
    config = cf().get_distribution_config(Id=unmanaged())["DistributionConfig"]
    assert config["CallerReference"] == "human"
    with pytest.raises(ResourceConflict, match="not made by this task"):
        create(make_ctx, task_id="human")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"origin_domain": None}, "origin_domain"),
        ({"origin_domain": "not a host"}, "not a host name"),
        ({"origin_path": "assets/"}, "origin_path"),
        ({"price_class": "PriceClass_Cheap"}, "price_class"),
    ],
)
def test_create_rejects_bad_parameters(make_ctx: MakeCtx, params: dict[str, Any], message: str) -> None:
    with pytest.raises(TaskAnalysisError, match=message):
        create(make_ctx, **params)
    assert distributions() == []


def test_update_goes_through_the_etag_and_redeploys(make_ctx: MakeCtx) -> None:
    distribution_id = create(make_ctx).id
    ctx = op(
        make_ctx, T.UPDATE_RESOURCE, distribution_id, comment="v2", price_class="PriceClass_All", tags={"Env": "prod"}
    )
    outcome = provider.update(ctx, provider.resource_id(ctx))
    # Real CloudFront answers InProgress (Updating, not ready); moto keeps a deployed distribution Deployed.
    status = outcome.metadata["distribution_status"]
    assert (outcome.state, outcome.ready) == (
        (ResourceState.ACTIVE, True) if status == "Deployed" else (ResourceState.UPDATING, False)
    )
    config = cf().get_distribution_config(Id=distribution_id)["DistributionConfig"]
    assert (config["Comment"], config["PriceClass"]) == ("v2", "PriceClass_All")
    assert config["Origins"]["Items"][0]["DomainName"] == ORIGIN  # the rest of the config is kept
    assert settle(ctx, distribution_id).tags["Env"] == "prod"


def test_update_needs_something(make_ctx: MakeCtx) -> None:
    distribution_id = create(make_ctx).id
    with pytest.raises(TaskAnalysisError, match="at least one"):
        provider.update(op(make_ctx, T.UPDATE_RESOURCE, distribution_id), distribution_id)


def test_unmanaged_distributions_are_left_alone(make_ctx: MakeCtx) -> None:
    distribution_id = unmanaged()
    with pytest.raises(ResourceNotManaged):
        provider.update(op(make_ctx, T.UPDATE_RESOURCE, distribution_id, comment="x"), distribution_id)
    with pytest.raises(ResourceNotManaged):
        provider.delete(op(make_ctx, T.DELETE_RESOURCE, distribution_id), distribution_id)
    assert cf().get_distribution_config(Id=distribution_id)["DistributionConfig"]["Enabled"] is True


def test_delete_disables_then_the_wait_loop_deletes_once_deployed(make_ctx: MakeCtx) -> None:
    distribution_id = create(make_ctx).id
    ctx = op(make_ctx, T.DELETE_RESOURCE, distribution_id)
    plan = provider.plan(ctx)
    assert plan["calls"][0] == "cloudfront:UpdateDistribution (Enabled=false)"

    outcome = provider.delete(ctx, distribution_id)
    assert outcome.state is ResourceState.DELETING and not outcome.ready
    assert cf().get_distribution_config(Id=distribution_id)["DistributionConfig"]["Enabled"] is False
    assert len(distributions()) == 1  # disabled, deploying: not deleted yet

    done = settle(ctx, distribution_id)  # polls: InProgress (Deleting), then Deployed -> DeleteDistribution
    assert done.state is ResourceState.TERMINATED and done.metadata["deleted"]
    assert distributions() == []
    with pytest.raises(ResourceNotFound):  # a later poll: gone, which the wait loop records as Terminated
        provider.status(ctx, distribution_id)


def test_delete_of_a_disabled_deployed_distribution_is_immediate(make_ctx: MakeCtx) -> None:
    distribution_id = create(make_ctx, enabled=False).id
    settle(make_ctx(CF, {}), distribution_id)
    outcome = provider.delete(op(make_ctx, T.DELETE_RESOURCE, distribution_id), distribution_id)
    assert outcome.state is ResourceState.TERMINATED and distributions() == []


def test_status_outside_a_delete_task_never_deletes(make_ctx: MakeCtx) -> None:
    distribution_id = create(make_ctx, enabled=False).id
    outcome = settle(op(make_ctx, T.UPDATE_RESOURCE, distribution_id), distribution_id)
    assert outcome.state is ResourceState.ACTIVE and len(distributions()) == 1


def test_discover_lists_all_distributions(make_ctx: MakeCtx) -> None:
    mine = create(make_ctx).id
    other = unmanaged()
    found = {o.id: o.managed for o in provider.discover(make_ctx(CF, {}, task_type=T.DISCOVER_RESOURCES))}
    assert found == {mine: True, other: False}


def test_tag_adds_tags(make_ctx: MakeCtx) -> None:
    distribution_id = create(make_ctx).id
    provider.tag(make_ctx(CF, {}), distribution_id, {"Cost": "cc"})
    assert provider.status(make_ctx(CF, {}), distribution_id).tags["Cost"] == "cc"


def test_plan_create_changes_nothing(make_ctx: MakeCtx) -> None:
    plan = provider.plan(make_ctx(CF, {"origin_domain": "example.com"}))
    assert plan["calls"] == ["cloudfront:CreateDistributionWithTags"]
    assert "CustomOriginConfig" in plan["parameters"]["origin"]
    assert distributions() == []
