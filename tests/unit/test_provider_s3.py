"""S3BucketProvider against moto."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from aws_agent.errors import (
    ResourceConflict,
    ResourceNotFound,
    ResourceNotManaged,
    TaskAnalysisError,
    UnsupportedOperation,
)
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.s3 import S3BucketProvider

MakeCtx = Callable[..., Any]  # the make_ctx fixture of conftest.py
AGENT_ACCOUNT = "123456789012"
S3 = AwsResourceType.S3_BUCKET
T = AwsTaskType
BUCKET = "miyabi-unit-bucket"
provider = S3BucketProvider()


def s3_client(region: str = "us-east-1") -> Any:
    return boto3.client("s3", region_name=region)


def tags_of(bucket: str) -> dict[str, str]:
    try:
        return {t["Key"]: t["Value"] for t in s3_client().get_bucket_tagging(Bucket=bucket)["TagSet"]}
    except ClientError:
        return {}


def bucket_names() -> list[str]:
    return [b["Name"] for b in s3_client().list_buckets()["Buckets"]]


def create(make_ctx: MakeCtx, name: str = BUCKET, task_id: str = "task-0001", **params: Any) -> Any:
    return provider.create(make_ctx(S3, {"bucket_name": name, **params}, task_id=task_id))


def test_registry_returns_the_s3_provider(mocked_aws: None) -> None:
    assert isinstance(provider_for(S3), S3BucketProvider)


# --- create ---------------------------------------------------------------------------------------------------------


def test_create_makes_an_encrypted_private_tagged_bucket(make_ctx: MakeCtx) -> None:
    outcome = create(make_ctx, tags={"Team": "web"}, versioning=True)

    assert outcome.id == BUCKET
    assert outcome.arn == f"arn:aws:s3:::{BUCKET}"
    assert outcome.state is ResourceState.ACTIVE and outcome.ready and outcome.managed
    assert outcome.metadata["versioning"] == "Enabled"
    s3 = s3_client()
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    assert tags_of(BUCKET) == {
        "Team": "web",
        "MiyabiManaged": "true",
        "MiyabiAgent": "SteveJobs",
        "MiyabiTask": "task-0001",
    }
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"


def test_create_without_versioning_leaves_it_off(make_ctx: MakeCtx) -> None:
    outcome = create(make_ctx)
    assert outcome.metadata["versioning"] == "Disabled"
    assert "Status" not in s3_client().get_bucket_versioning(Bucket=BUCKET)


def test_create_with_kms_key_uses_sse_kms(make_ctx: MakeCtx) -> None:
    create(make_ctx, kms_key_id="alias/miyabi-data")
    rule = s3_client().get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": "alias/miyabi-data",
    }


def test_create_outside_us_east_1_sets_the_location(make_ctx: MakeCtx) -> None:
    ctx = make_ctx(S3, {"bucket_name": BUCKET}, region="eu-west-1")
    outcome = provider.create(ctx)
    assert outcome.metadata["region"] == "eu-west-1"
    assert s3_client().get_bucket_location(Bucket=BUCKET)["LocationConstraint"] == "eu-west-1"


def test_create_without_a_name_derives_one_from_the_account_and_task(make_ctx: MakeCtx) -> None:
    ctx = make_ctx(S3, {}, task_id="issue-42")
    expected = f"miyabi-{AGENT_ACCOUNT}-{hashlib.sha256(b'issue-42').hexdigest()[:12]}"

    assert provider.resource_id(ctx) == expected
    assert provider.create(ctx).id == expected
    assert provider.create(make_ctx(S3, {}, task_id="issue-42")).id == expected
    assert bucket_names() == [expected]


def test_create_replay_returns_the_same_bucket(make_ctx: MakeCtx) -> None:
    first = create(make_ctx, versioning=True)
    second = create(make_ctx, versioning=True)
    assert second.id == first.id and second.tags == first.tags
    assert bucket_names() == [BUCKET]


def test_create_replay_finishes_a_partial_create(make_ctx: MakeCtx) -> None:
    # The first run created and tagged the bucket, then failed before encryption and the public access block.
    s3 = s3_client()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": [{"Key": "MiyabiTask", "Value": "task-0001"}]})

    outcome = create(make_ctx)

    assert outcome.managed
    assert s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
    assert s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]


def test_create_adopts_an_untagged_bucket_only_under_the_task_derived_name(make_ctx: MakeCtx) -> None:
    # The first run failed between CreateBucket and tagging: the name embeds this task's hash, so it is ours.
    ctx = make_ctx(S3, {}, task_id="issue-7")
    s3_client().create_bucket(Bucket=provider.derived_name(ctx))
    assert provider.create(ctx).tags["MiyabiTask"] == "issue-7"


def test_create_sends_the_tags_with_create_bucket(make_ctx: MakeCtx) -> None:
    ctx = make_ctx(S3, {"bucket_name": BUCKET, "tags": {"Team": "web"}}, task_id="task-0001")
    sent: list[dict[str, Any]] = []
    client = ctx.client("s3")
    client.meta.events.register("provide-client-params.s3.CreateBucket", lambda params, **_: sent.append(params))
    ctx.client = lambda service: client  # type: ignore[method-assign]
    provider.create(ctx)
    tags = {t["Key"]: t["Value"] for t in sent[0]["CreateBucketConfiguration"]["Tags"]}
    assert tags == {
        "Team": "web",
        "MiyabiManaged": "true",
        "MiyabiAgent": tags["MiyabiAgent"],
        "MiyabiTask": "task-0001",
    }


def test_create_whose_tagging_fails_for_good_removes_the_new_bucket(make_ctx: MakeCtx) -> None:
    """An untagged bucket under a chosen name could not be resumed by a replay: the create is undone instead."""
    ctx = make_ctx(S3, {"bucket_name": BUCKET}, task_id="task-0001")
    client = ctx.client("s3")

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "PutBucketTagging")

    client.meta.events.register("before-call.s3.PutBucketTagging", refuse)
    ctx.client = lambda service: client  # type: ignore[method-assign]
    with pytest.raises(Exception, match="tag bucket"):
        provider.create(ctx)
    assert BUCKET not in bucket_names()
    # The replay then creates the bucket afresh.
    assert create(make_ctx).tags["MiyabiTask"] == "task-0001"


def test_create_conflicts_with_another_tasks_bucket(make_ctx: MakeCtx) -> None:
    create(make_ctx, task_id="task-A")
    with pytest.raises(ResourceConflict, match="belongs to task task-A"):
        create(make_ctx, task_id="task-B")
    assert tags_of(BUCKET)["MiyabiTask"] == "task-A"


def test_create_conflicts_with_an_unmanaged_bucket_and_leaves_it_alone(make_ctx: MakeCtx) -> None:
    s3_client().create_bucket(Bucket=BUCKET)
    with pytest.raises(ResourceConflict, match="unmanaged"):
        create(make_ctx)
    assert tags_of(BUCKET) == {}
    with pytest.raises(ClientError):
        s3_client().get_public_access_block(Bucket=BUCKET)


def test_create_conflicts_with_a_bucket_of_another_account(make_ctx: MakeCtx) -> None:
    provider.create(make_ctx(S3, {"bucket_name": BUCKET}, account_id="222222222222", task_id="other"))
    with pytest.raises(ResourceConflict, match="another AWS account"):
        create(make_ctx)


@pytest.mark.parametrize(
    "name",
    ["ab", "x" * 64, "Upper-Case", "under_score", "-leading", "trailing-", "two..dots", "192.168.10.1", "xn--bucket"],
)
def test_invalid_bucket_names_are_rejected_before_any_call(make_ctx: MakeCtx, name: str) -> None:
    with pytest.raises(TaskAnalysisError, match="bucket_name"):
        create(make_ctx, name=name)
    assert bucket_names() == []


def test_invalid_parameters_name_the_parameter(make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskAnalysisError, match="versioning"):
        create(make_ctx, versioning="maybe")
    with pytest.raises(TaskAnalysisError, match="missing parameter 'bucket_name'"):
        provider.resource_id(make_ctx(S3, {}, task_type=T.DELETE_RESOURCE))


# --- status ---------------------------------------------------------------------------------------------------------


def test_status_reports_tags_and_settings(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    outcome = provider.status(make_ctx(S3, {}), BUCKET)
    assert outcome.state is ResourceState.ACTIVE and outcome.managed
    assert outcome.metadata == {"bucket_name": BUCKET, "region": "us-east-1", "versioning": "Disabled"}


def test_status_of_an_untagged_bucket_has_no_tags(make_ctx: MakeCtx) -> None:
    s3_client().create_bucket(Bucket=BUCKET)
    outcome = provider.status(make_ctx(S3, {}), BUCKET)
    assert outcome.tags == {} and not outcome.managed


def test_status_of_a_missing_bucket_is_resource_not_found(make_ctx: MakeCtx) -> None:
    with pytest.raises(ResourceNotFound, match="S3 bucket nope-bucket does not exist"):
        provider.status(make_ctx(S3, {}), "nope-bucket")


# --- update ---------------------------------------------------------------------------------------------------------


def update_ctx(make_ctx: MakeCtx, **params: Any) -> Any:
    return make_ctx(S3, {"bucket_name": BUCKET, **params}, task_id="task-upd", task_type=T.UPDATE_RESOURCE)


def test_update_turns_versioning_on_and_off(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    assert provider.update(update_ctx(make_ctx, versioning=True), BUCKET).metadata["versioning"] == "Enabled"
    assert provider.update(update_ctx(make_ctx, versioning=False), BUCKET).metadata["versioning"] == "Suspended"


def test_update_merges_tags_and_keeps_the_creating_task(make_ctx: MakeCtx) -> None:
    create(make_ctx, tags={"Team": "web"})
    outcome = provider.update(update_ctx(make_ctx, tags={"Env": "prod"}), BUCKET)
    assert outcome.tags == {
        "Team": "web",
        "Env": "prod",
        "MiyabiManaged": "true",
        "MiyabiAgent": "SteveJobs",
        "MiyabiTask": "task-0001",
    }


def test_update_refuses_to_set_the_agents_own_tags(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    with pytest.raises(TaskAnalysisError, match="MiyabiTask"):
        provider.update(update_ctx(make_ctx, tags={"MiyabiTask": "hijack"}), BUCKET)


def test_update_uploads_an_object(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    upload = {"key": "site/index.html", "content": "<h1>hello</h1>"}
    outcome = provider.update(update_ctx(make_ctx, upload=upload), BUCKET)

    assert outcome.metadata["uploaded"]["key"] == "site/index.html"
    assert outcome.metadata["uploaded"]["size_bytes"] == len("<h1>hello</h1>")
    obj = s3_client().get_object(Bucket=BUCKET, Key="site/index.html")
    assert obj["Body"].read() == b"<h1>hello</h1>"
    assert obj["ContentType"] == "text/html"


def test_update_upload_honours_content_type_and_caps_size(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    provider.update(
        update_ctx(make_ctx, upload={"key": "a", "content": "{}", "content_type": "application/json"}), BUCKET
    )
    assert s3_client().get_object(Bucket=BUCKET, Key="a")["ContentType"] == "application/json"
    too_big = {"key": "big", "content": "x" * (1024 * 1024 + 1)}
    with pytest.raises(TaskAnalysisError, match=r"upload\.content"):
        provider.update(update_ctx(make_ctx, upload=too_big), BUCKET)
    with pytest.raises(TaskAnalysisError, match=r"upload\.key"):
        provider.update(update_ctx(make_ctx, upload={"content": "x"}), BUCKET)


def test_update_without_changes_is_an_analysis_error(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    with pytest.raises(TaskAnalysisError, match="versioning, tags, upload"):
        provider.update(update_ctx(make_ctx), BUCKET)


def test_update_refuses_an_unmanaged_bucket(make_ctx: MakeCtx) -> None:
    s3_client().create_bucket(Bucket=BUCKET)
    with pytest.raises(ResourceNotManaged):
        provider.update(update_ctx(make_ctx, versioning=True), BUCKET)
    assert "Status" not in s3_client().get_bucket_versioning(Bucket=BUCKET)


# --- delete ---------------------------------------------------------------------------------------------------------


def delete_ctx(make_ctx: MakeCtx) -> Any:
    return make_ctx(S3, {"bucket_name": BUCKET}, task_id="task-del", task_type=T.DELETE_RESOURCE)


def test_delete_removes_an_empty_managed_bucket(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    outcome = provider.delete(delete_ctx(make_ctx), BUCKET)
    assert outcome.state is ResourceState.TERMINATED and outcome.ready
    assert bucket_names() == []


def test_delete_refuses_a_non_empty_bucket_and_never_deletes_objects(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    s3_client().put_object(Bucket=BUCKET, Key="keep-me", Body=b"data")
    s3_client().put_object(Bucket=BUCKET, Key="and-me", Body=b"data")
    with pytest.raises(ResourceConflict, match=r"is not empty \(2 objects\)"):
        provider.delete(delete_ctx(make_ctx), BUCKET)
    assert s3_client().list_objects_v2(Bucket=BUCKET)["KeyCount"] == 2


def test_delete_refuses_an_unmanaged_bucket(make_ctx: MakeCtx) -> None:
    s3_client().create_bucket(Bucket=BUCKET)
    with pytest.raises(ResourceNotManaged, match="MiyabiManaged=true"):
        provider.delete(delete_ctx(make_ctx), BUCKET)
    assert bucket_names() == [BUCKET]


def test_delete_of_a_missing_bucket_is_resource_not_found(make_ctx: MakeCtx) -> None:
    with pytest.raises(ResourceNotFound):
        provider.delete(delete_ctx(make_ctx), BUCKET)


# --- discover and tag -----------------------------------------------------------------------------------------------


def test_discover_finds_managed_and_unmanaged_buckets_of_the_region(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    s3_client().create_bucket(Bucket="someone-elses-bucket")
    s3_client("eu-west-1").create_bucket(
        Bucket="bucket-in-ireland", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )

    found = {o.id: o for o in provider.discover(make_ctx(S3, {}, task_type=T.DISCOVER_RESOURCES))}

    assert set(found) == {BUCKET, "someone-elses-bucket"}
    assert found[BUCKET].managed and not found["someone-elses-bucket"].managed


def test_tag_merges_with_existing_tags(make_ctx: MakeCtx) -> None:
    s3_client().create_bucket(Bucket=BUCKET)
    s3_client().put_bucket_tagging(Bucket=BUCKET, Tagging={"TagSet": [{"Key": "Owner", "Value": "ops"}]})
    provider.tag(make_ctx(S3, {}), BUCKET, {"MiyabiManaged": "true", "Owner": "platform"})
    assert tags_of(BUCKET) == {"Owner": "platform", "MiyabiManaged": "true"}


# --- plan -----------------------------------------------------------------------------------------------------------


def test_plan_create_validates_and_changes_nothing(make_ctx: MakeCtx) -> None:
    plan = provider.plan(make_ctx(S3, {"bucket_name": BUCKET, "versioning": True}))
    assert plan["operation"] == "create" and plan["resource_id"] == BUCKET
    assert plan["calls"] == [
        "s3:CreateBucket",
        "s3:PutBucketTagging",
        "s3:PutBucketEncryption",
        "s3:PutPublicAccessBlock",
        "s3:PutBucketVersioning",
    ]
    assert plan["parameters"]["encryption"] == "AES256"
    assert plan["parameters"]["tags"]["MiyabiManaged"] == "true"
    assert bucket_names() == []


def test_plan_create_reports_conflicts_and_replays(make_ctx: MakeCtx) -> None:
    create(make_ctx, task_id="task-A")
    with pytest.raises(ResourceConflict):
        provider.plan(make_ctx(S3, {"bucket_name": BUCKET}, task_id="task-B"))
    replay = provider.plan(make_ctx(S3, {"bucket_name": BUCKET}, task_id="task-A"))
    assert replay["parameters"]["replay"] is True
    assert "s3:CreateBucket" not in replay["calls"]


def test_plan_update_delete_and_discover(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    update = provider.plan(update_ctx(make_ctx, versioning=True, upload={"key": "k", "content": "v"}))
    assert update["calls"] == ["s3:PutBucketVersioning", "s3:PutObject"]
    assert "content" not in update["parameters"]["upload"]
    assert provider.plan(delete_ctx(make_ctx))["calls"] == ["s3:DeleteBucket"]
    discover = provider.plan(make_ctx(S3, {}, task_type=T.DISCOVER_RESOURCES))
    assert discover["operation"] == "discover"
    assert "Status" not in s3_client().get_bucket_versioning(Bucket=BUCKET)
    assert bucket_names() == [BUCKET]


def test_plan_delete_of_a_non_empty_bucket_fails_like_delete(make_ctx: MakeCtx) -> None:
    create(make_ctx)
    s3_client().put_object(Bucket=BUCKET, Key="k", Body=b"v")
    with pytest.raises(ResourceConflict, match="not empty"):
        provider.plan(delete_ctx(make_ctx))


def test_plan_of_a_non_resource_task_is_unsupported(make_ctx: MakeCtx) -> None:
    with pytest.raises(UnsupportedOperation):
        provider.plan(make_ctx(S3, {}, task_type=T.OPTIMIZE_COSTS))


# --- cross-account --------------------------------------------------------------------------------------------------


def test_create_in_a_member_account_through_the_assumed_role(make_ctx: MakeCtx) -> None:
    member = "222222222222"
    outcome = provider.create(make_ctx(S3, {"bucket_name": BUCKET}, account_id=member, task_id="task-x"))
    assert outcome.managed

    creds = boto3.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{member}:role/MiyabiAgentRole", RoleSessionName="verify"
    )["Credentials"]
    member_s3 = boto3.client(
        "s3",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    assert [b["Name"] for b in member_s3.list_buckets()["Buckets"]] == [BUCKET]
    assert bucket_names() == []  # the agent's own account does not own it
