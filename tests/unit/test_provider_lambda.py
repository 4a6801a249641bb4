"""LambdaFunctionProvider against moto (moto stores functions; nothing here invokes them)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from aws_agent.errors import (
    ResourceConflict,
    ResourceNotFound,
    ResourceNotManaged,
    TaskAnalysisError,
    TransientAwsError,
)
from aws_agent.model import AwsResourceType, AwsTaskType, ResourceState
from aws_agent.resources import provider_for
from aws_agent.resources.lambda_function import PLACEHOLDER_SOURCE, LambdaFunctionProvider, zip_source

MakeCtx = Callable[..., Any]  # the make_ctx fixture of conftest.py
LAMBDA = AwsResourceType.LAMBDA_FUNCTION
T = AwsTaskType
NAME = "orders-api"
SOURCE = "def handler(event, context):\n    return {'statusCode': 200, 'body': 'orders'}\n"
provider = LambdaFunctionProvider()


def lambda_client() -> Any:
    return boto3.client("lambda", region_name="us-east-1")


def function_names() -> list[str]:
    pages = lambda_client().get_paginator("list_functions").paginate()
    return sorted(f["FunctionName"] for page in pages for f in page["Functions"])


def create(make_ctx: MakeCtx, task_id: str = "task-0001", **params: Any) -> Any:
    return provider.create(make_ctx(LAMBDA, {"function_name": NAME, **params}, task_id=task_id))


def unmanaged_function(role_arn: str, name: str = NAME) -> None:
    lambda_client().create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn,
        Handler="index.handler",
        Code={"ZipFile": zip_source(SOURCE)},
    )


def ctx_for(make_ctx: MakeCtx, task_type: AwsTaskType, **params: Any) -> Any:
    return make_ctx(LAMBDA, {"function_name": NAME, **params}, task_id="task-op", task_type=task_type)


def test_registry_returns_the_lambda_provider(mocked_aws: None) -> None:
    assert isinstance(provider_for(LAMBDA), LambdaFunctionProvider)


# --- create ---------------------------------------------------------------------------------------------------------


def test_create_deploys_a_tagged_placeholder_with_defaults(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    outcome = create(make_ctx)

    assert outcome.id == NAME
    assert outcome.arn == f"arn:aws:lambda:us-east-1:123456789012:function:{NAME}"
    assert outcome.state is ResourceState.ACTIVE and outcome.ready and outcome.managed
    assert outcome.metadata["code_source"] == "placeholder"
    config = lambda_client().get_function(FunctionName=NAME)
    conf = config["Configuration"]
    assert (conf["Runtime"], conf["Handler"], conf["MemorySize"], conf["Timeout"]) == (
        "python3.12",
        "index.handler",
        128,
        10,
    )
    assert conf["Architectures"] == ["arm64"]
    assert conf["Role"] == lambda_execution_role
    assert conf["Version"] == "$LATEST"
    assert [v["Version"] for v in lambda_client().list_versions_by_function(FunctionName=NAME)["Versions"]] == [
        "$LATEST",
        "1",
    ]  # Publish=True
    assert config["Tags"] == {"MiyabiManaged": "true", "MiyabiAgent": "BillGates", "MiyabiTask": "task-0001"}


def test_placeholder_package_is_index_py_answering_ok() -> None:
    with zipfile.ZipFile(io.BytesIO(zip_source(PLACEHOLDER_SOURCE))) as archive:
        assert archive.namelist() == ["index.py"]
        namespace: dict[str, Any] = {}
        exec(archive.read("index.py").decode(), namespace)
    assert namespace["handler"]({}, None) == {"statusCode": 200, "body": "ok"}
    assert zip_source(PLACEHOLDER_SOURCE) == zip_source(PLACEHOLDER_SOURCE)  # stable bytes: same CodeSha256


def test_create_with_inline_code_and_settings(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    outcome = create(
        make_ctx,
        code=SOURCE,
        memory_size=512,
        timeout=30,
        architecture="x86_64",
        runtime="python3.13",
        environment={"TABLE": "s3cr3t-value"},
    )
    conf = lambda_client().get_function_configuration(FunctionName=NAME)
    assert (conf["MemorySize"], conf["Timeout"], conf["Architectures"], conf["Runtime"]) == (
        512,
        30,
        ["x86_64"],
        "python3.13",
    )
    assert conf["Environment"]["Variables"] == {"TABLE": "s3cr3t-value"}
    assert outcome.metadata["environment_keys"] == ["TABLE"]
    assert "s3cr3t" not in str(outcome.metadata)  # environment values never reach metadata
    assert conf["CodeSha256"] == outcome.metadata["code_sha256"]


def test_create_from_an_s3_object(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="artifacts-bucket")
    s3.put_object(Bucket="artifacts-bucket", Key="orders.zip", Body=zip_source(SOURCE))
    outcome = create(make_ctx, s3_bucket="artifacts-bucket", s3_key="orders.zip")
    assert outcome.metadata["code_source"] == "s3"
    assert function_names() == [NAME]


def test_create_without_a_name_derives_one_from_the_task(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    ctx = make_ctx(LAMBDA, {}, task_id="issue-9")
    expected = f"miyabi-{hashlib.sha256(b'issue-9').hexdigest()[:12]}"
    assert provider.create(ctx).id == expected
    assert function_names() == [expected]


def test_create_with_an_explicit_role(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="custom-fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    create(make_ctx, role_arn=role)
    assert lambda_client().get_function_configuration(FunctionName=NAME)["Role"] == role


def test_create_without_the_execution_role_explains_the_bootstrap(make_ctx: MakeCtx) -> None:
    with pytest.raises(ResourceNotFound, match=r"MiyabiLambdaExecutionRole does not exist.*bootstrap"):
        create(make_ctx)
    assert function_names() == []


def test_create_replay_returns_the_same_function(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    first = create(make_ctx, code=SOURCE)
    second = create(make_ctx, code=SOURCE)
    assert second.id == first.id and second.metadata["code_sha256"] == first.metadata["code_sha256"]
    assert function_names() == [NAME]
    assert len(lambda_client().list_versions_by_function(FunctionName=NAME)["Versions"]) == 2  # no new version


def test_create_conflicts_with_another_tasks_function(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    create(make_ctx, task_id="task-A")
    with pytest.raises(ResourceConflict, match="belongs to task task-A"):
        create(make_ctx, task_id="task-B")


def test_create_conflicts_with_an_unmanaged_function(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    unmanaged_function(lambda_execution_role)
    with pytest.raises(ResourceConflict, match="unmanaged"):
        create(make_ctx)
    assert lambda_client().list_tags(Resource=f"arn:aws:lambda:us-east-1:123456789012:function:{NAME}")["Tags"] == {}


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"function_name": "has space"}, "function_name"),
        ({"function_name": "x" * 65}, "function_name"),
        ({"memory_size": 64}, "memory_size"),
        ({"memory_size": 20000}, "memory_size"),
        ({"timeout": 901}, "timeout"),
        ({"timeout": "soon"}, "timeout"),
        ({"architecture": "sparc"}, "architecture"),
        ({"environment": {"TABLE": 1}}, "environment"),
        ({"environment": {"1BAD": "x"}}, "environment"),
        ({"code": "x" * (256 * 1024 + 1)}, "code"),
        ({"code": SOURCE, "s3_bucket": "b", "s3_key": "k"}, "not both"),
        ({"s3_bucket": "artifacts"}, "s3_key"),
        ({"runtime": "nodejs20.x"}, "runtime"),
        ({"code": SOURCE, "handler": "app.main"}, "handler"),
        ({"role_arn": "MyRole"}, "role_arn"),
        ({"role_arn": "arn:aws:iam::999999999999:role/x"}, "role_arn"),
    ],
)
def test_create_rejects_invalid_parameters(
    make_ctx: MakeCtx, lambda_execution_role: str, params: dict[str, Any], match: str
) -> None:
    with pytest.raises(TaskAnalysisError, match=match):
        create(make_ctx, **params)
    assert function_names() == []


def test_missing_function_name_outside_create_is_an_analysis_error(make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskAnalysisError, match="missing parameter 'function_name'"):
        provider.resource_id(make_ctx(LAMBDA, {}, task_type=T.DELETE_RESOURCE))


# --- status ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configuration", "state", "ready"),
    [
        ({"State": "Pending"}, ResourceState.CREATING, False),
        ({"State": "Active", "LastUpdateStatus": "Successful"}, ResourceState.ACTIVE, True),
        ({"State": "Active", "LastUpdateStatus": "InProgress"}, ResourceState.UPDATING, False),
        ({"State": "Active", "LastUpdateStatus": "Failed"}, ResourceState.FAILED, True),
        ({"State": "Failed", "StateReason": "role is invalid"}, ResourceState.FAILED, True),
        ({"State": "Inactive"}, ResourceState.ACTIVE, True),
        ({}, ResourceState.ACTIVE, True),
    ],
)
def test_lambda_states_map_to_resource_states(
    make_ctx: MakeCtx, configuration: dict[str, Any], state: ResourceState, ready: bool
) -> None:
    outcome = provider._outcome(make_ctx(LAMBDA, {}), {"FunctionName": NAME, **configuration}, {})
    assert (outcome.state, outcome.ready) == (state, ready)
    if "StateReason" in configuration:
        assert outcome.metadata["state_reason"] == "role is invalid"


def test_status_of_a_missing_function_is_resource_not_found(make_ctx: MakeCtx) -> None:
    with pytest.raises(ResourceNotFound, match="Lambda function ghost does not exist"):
        provider.status(make_ctx(LAMBDA, {}), "ghost")


# --- update ---------------------------------------------------------------------------------------------------------


def test_update_configuration(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    create(make_ctx)
    ctx = ctx_for(make_ctx, T.UPDATE_RESOURCE, memory_size=1024, timeout=60, environment={"MODE": "prod"})
    outcome = provider.update(ctx, NAME)
    assert (outcome.metadata["memory_size"], outcome.metadata["timeout"]) == (1024, 60)
    conf = lambda_client().get_function_configuration(FunctionName=NAME)
    assert conf["Environment"]["Variables"] == {"MODE": "prod"}
    assert outcome.tags["MiyabiTask"] == "task-0001"  # an update never re-owns the function


def test_update_code_publishes_a_new_version(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    before = create(make_ctx).metadata["code_sha256"]
    outcome = provider.update(ctx_for(make_ctx, T.UPDATE_RESOURCE, code=SOURCE), NAME)
    assert outcome.metadata["code_sha256"] != before
    versions = [v["Version"] for v in lambda_client().list_versions_by_function(FunctionName=NAME)["Versions"]]
    assert versions == ["$LATEST", "1", "2"]


def test_update_with_inline_code_must_fit_the_existing_handler(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="artifacts-bucket")
    s3.put_object(Bucket="artifacts-bucket", Key="app.zip", Body=zip_source(SOURCE))
    create(make_ctx, s3_bucket="artifacts-bucket", s3_key="app.zip", handler="app.handler")
    with pytest.raises(TaskAnalysisError, match="handler"):
        provider.update(ctx_for(make_ctx, T.UPDATE_RESOURCE, code=SOURCE), NAME)
    provider.update(ctx_for(make_ctx, T.UPDATE_RESOURCE, code=SOURCE, handler="index.handler"), NAME)
    assert lambda_client().get_function_configuration(FunctionName=NAME)["Handler"] == "index.handler"


def test_update_configuration_and_code_together(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    create(make_ctx)
    outcome = provider.update(ctx_for(make_ctx, T.UPDATE_RESOURCE, code=SOURCE, memory_size=256), NAME)
    assert outcome.metadata["memory_size"] == 256
    assert (
        outcome.metadata["code_sha256"]
        == lambda_client().get_function(FunctionName=NAME)["Configuration"]["CodeSha256"]
    )


def test_update_tags_merge(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    create(make_ctx)
    outcome = provider.update(ctx_for(make_ctx, T.UPDATE_RESOURCE, tags={"Env": "prod"}), NAME)
    assert outcome.tags == {
        "MiyabiManaged": "true",
        "MiyabiAgent": "BillGates",
        "MiyabiTask": "task-0001",
        "Env": "prod",
    }


def test_update_without_changes_is_an_analysis_error(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    create(make_ctx)
    with pytest.raises(TaskAnalysisError, match="needs at least one"):
        provider.update(ctx_for(make_ctx, T.UPDATE_RESOURCE), NAME)


def test_update_refuses_an_unmanaged_function(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    unmanaged_function(lambda_execution_role)
    with pytest.raises(ResourceNotManaged):
        provider.update(ctx_for(make_ctx, T.UPDATE_RESOURCE, memory_size=2048), NAME)
    assert lambda_client().get_function_configuration(FunctionName=NAME)["MemorySize"] == 128


def test_update_of_a_function_still_being_created_is_transient(
    make_ctx: MakeCtx, lambda_execution_role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    create(make_ctx)
    pending = provider._outcome(make_ctx(LAMBDA, {}), {"FunctionName": NAME, "State": "Pending"}, {})
    pending.tags = {"MiyabiManaged": "true"}
    monkeypatch.setattr(provider, "status", lambda ctx, resource_id: pending)
    with pytest.raises(TransientAwsError, match="Creating"):
        provider.update(ctx_for(make_ctx, T.UPDATE_RESOURCE, memory_size=256), NAME)


# --- delete ---------------------------------------------------------------------------------------------------------


def test_delete_removes_a_managed_function(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    create(make_ctx)
    outcome = provider.delete(ctx_for(make_ctx, T.DELETE_RESOURCE), NAME)
    assert outcome.state is ResourceState.TERMINATED and outcome.ready
    assert function_names() == []


def test_delete_refuses_an_unmanaged_function(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    unmanaged_function(lambda_execution_role)
    with pytest.raises(ResourceNotManaged, match="MiyabiManaged=true"):
        provider.delete(ctx_for(make_ctx, T.DELETE_RESOURCE), NAME)
    assert function_names() == [NAME]


# --- discover and tag -----------------------------------------------------------------------------------------------


def test_discover_finds_managed_and_unmanaged_functions(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    create(make_ctx)
    unmanaged_function(lambda_execution_role, name="legacy-cron")
    found = {o.id: o for o in provider.discover(make_ctx(LAMBDA, {}, task_type=T.DISCOVER_RESOURCES))}
    assert set(found) == {NAME, "legacy-cron"}
    assert found[NAME].managed and not found["legacy-cron"].managed
    assert found[NAME].metadata["runtime"] == "python3.12"


def test_tag_adds_without_removing(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    create(make_ctx, tags={"Owner": "api-team"})
    provider.tag(make_ctx(LAMBDA, {}), NAME, {"CostCenter": "42"})
    tags = lambda_client().get_function(FunctionName=NAME)["Tags"]
    assert tags["Owner"] == "api-team" and tags["CostCenter"] == "42" and tags["MiyabiManaged"] == "true"


# --- plan -----------------------------------------------------------------------------------------------------------


def test_plan_create_changes_nothing(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    plan = provider.plan(make_ctx(LAMBDA, {"function_name": NAME, "code": SOURCE, "environment": {"K": "secret"}}))
    assert plan["operation"] == "create" and plan["resource_id"] == NAME
    assert plan["calls"] == ["lambda:CreateFunction"]
    assert plan["parameters"]["role_arn"] == lambda_execution_role
    assert plan["parameters"]["code_source"] == "inline"
    assert plan["parameters"]["environment_keys"] == ["K"] and "secret" not in str(plan)
    assert function_names() == []


def test_plan_create_reports_conflicts_and_replays(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    create(make_ctx, task_id="task-A")
    with pytest.raises(ResourceConflict):
        provider.plan(make_ctx(LAMBDA, {"function_name": NAME}, task_id="task-B"))
    assert provider.plan(make_ctx(LAMBDA, {"function_name": NAME}, task_id="task-A"))["calls"] == []


def test_plan_update_and_delete_change_nothing(make_ctx: MakeCtx, lambda_execution_role: str) -> None:
    create(make_ctx)
    update = provider.plan(ctx_for(make_ctx, T.UPDATE_RESOURCE, memory_size=256, code=SOURCE))
    assert update["calls"] == ["lambda:UpdateFunctionConfiguration", "lambda:UpdateFunctionCode"]
    assert update["parameters"]["configuration"] == {"MemorySize": 256}
    assert provider.plan(ctx_for(make_ctx, T.DELETE_RESOURCE))["calls"] == ["lambda:DeleteFunction"]
    assert lambda_client().get_function_configuration(FunctionName=NAME)["MemorySize"] == 128
    assert function_names() == [NAME]
