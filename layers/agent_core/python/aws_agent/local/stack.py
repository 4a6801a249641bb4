"""Creates the synthesized stack's stateful resources and its state machine in the emulator, from the template."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from .emulator import Emulator, load_handler
from .template import Resolver, resources_of

_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass
class EventSource:
    """The template's SQS → Lambda event-source mapping, which the local poller plays."""

    queue_url: str
    function_name: str
    batch_size: int
    report_batch_item_failures: bool


@dataclass
class DeployedStack:
    outputs: dict[str, str]
    environment: dict[str, str]
    event_sources: list[EventSource] = field(default_factory=list)
    functions: dict[str, str] = field(default_factory=dict)  # function name -> step


def _name(logical_id: str, limit: int = 64) -> str:
    return f"AwsAgent-{logical_id}"[:limit]


def deploy(template: dict[str, Any], emulator: Emulator, root: Path, account_id: str, region: str) -> DeployedStack:
    """Create what the pipeline needs (tables, queues, bus, rules, functions, state machine) as the template says."""
    session = boto3.Session(region_name=region)
    resolver = Resolver(account_id=account_id, region=region)
    role_arn = session.client("iam").create_role(
        RoleName="aws-agent-local-execution", AssumeRolePolicyDocument=json.dumps(_TRUST)
    )["Role"]["Arn"]

    create_tables(session, template, resolver)
    _queues(session, template, resolver, account_id, region)
    for logical, res in resources_of(template, "AWS::Events::EventBus").items():
        name = res["Properties"]["Name"]
        arn = session.client("events").create_event_bus(Name=name)["EventBusArn"]
        resolver.refs[logical] = name
        resolver.attrs[(logical, "Arn")] = arn
        resolver.attrs[(logical, "Name")] = name

    functions = resources_of(template, "AWS::Lambda::Function")
    for logical in functions:  # ARNs first: the state machine and the functions refer to each other
        name = _name(logical)
        resolver.refs[logical] = name
        resolver.attrs[(logical, "Arn")] = f"arn:aws:lambda:{region}:{account_id}:function:{name}"
    machines = resources_of(template, "AWS::StepFunctions::StateMachine")
    for logical in machines:
        name = _name(logical, 80)
        arn = f"arn:aws:states:{region}:{account_id}:stateMachine:{name}"
        resolver.refs[logical] = arn
        resolver.attrs[(logical, "Arn")] = arn
        resolver.attrs[(logical, "Name")] = name

    environment: dict[str, str] = {}
    steps: dict[str, str] = {}
    lambda_client = session.client("lambda")
    for logical, res in functions.items():
        props = res["Properties"]
        variables = resolver.resolve(props.get("Environment", {}).get("Variables", {}))
        step = variables.get("AGENT_STEP")
        if step is None:
            continue  # CDK's own helper functions (e.g. custom resources) are not part of the pipeline
        name = resolver.refs[logical]
        lambda_client.create_function(
            FunctionName=name,
            Runtime=props.get("Runtime", "python3.13"),
            Role=role_arn,
            Handler=props.get("Handler", "handler.handler"),
            Code={"ZipFile": _placeholder_zip()},
            Environment={"Variables": variables},
            Timeout=int(props.get("Timeout", 60)),
            MemorySize=int(props.get("MemorySize", 512)),
        )
        for key, value in variables.items():
            if key != "AGENT_STEP" and environment.get(key, value) != value:
                raise ValueError(f"functions disagree on {key}; the in-process runtime shares one environment")
            environment[key] = value
        steps[name] = step
        emulator.register(name, load_handler(root / "functions" / step / "handler.py", f"aws_agent_fn_{step}"))
    environment.pop("AGENT_STEP", None)

    sfn = session.client("stepfunctions")
    for logical, res in machines.items():
        props = res["Properties"]
        definition = resolver.resolve(props["DefinitionString"])
        sfn.create_state_machine(
            name=resolver.attrs[(logical, "Name")],
            definition=definition if isinstance(definition, str) else json.dumps(definition),
            roleArn=role_arn,
            type=props.get("StateMachineType", "STANDARD"),
        )

    _rules(session, template, resolver)
    sources = [
        EventSource(
            queue_url=resolver.refs[_logical_of(m["Properties"]["EventSourceArn"])],
            function_name=resolver.resolve(m["Properties"]["FunctionName"]),
            batch_size=int(m["Properties"].get("BatchSize", 10)),
            report_batch_item_failures="ReportBatchItemFailures" in m["Properties"].get("FunctionResponseTypes", []),
        )
        for m in resources_of(template, "AWS::Lambda::EventSourceMapping").values()
    ]
    outputs = {k: str(resolver.resolve(v["Value"])) for k, v in template.get("Outputs", {}).items()}
    return DeployedStack(outputs=outputs, environment=environment, event_sources=sources, functions=steps)


def _logical_of(value: Any) -> str:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    raise ValueError(f"unsupported event source reference {value!r}")


def create_tables(session: boto3.Session, template: dict[str, Any], resolver: Resolver) -> None:
    ddb = session.client("dynamodb")
    kinds = ("AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable")
    for logical, res in [item for kind in kinds for item in resources_of(template, kind).items()]:
        props = res["Properties"]
        name = props.get("TableName") or _name(logical, 255)
        args: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        indexes = [
            {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
            for gsi in props.get("GlobalSecondaryIndexes", [])
        ]
        if indexes:
            args["GlobalSecondaryIndexes"] = indexes
        arn = ddb.create_table(**args)["TableDescription"]["TableArn"]
        resolver.refs[logical] = name
        resolver.attrs[(logical, "Arn")] = arn


def _queues(session: boto3.Session, template: dict[str, Any], resolver: Resolver, account: str, region: str) -> None:
    sqs = session.client("sqs")
    queues = resources_of(template, "AWS::SQS::Queue")
    for logical, res in queues.items():
        props = res.get("Properties", {})
        name = props.get("QueueName") or _name(logical, 80)
        attributes = {
            key: str(props[key])
            for key in ("VisibilityTimeout", "MessageRetentionPeriod", "ReceiveMessageWaitTimeSeconds")
            if key in props
        }
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        resolver.refs[logical] = url
        resolver.attrs[(logical, "Arn")] = f"arn:aws:sqs:{region}:{account}:{name}"
        resolver.attrs[(logical, "QueueName")] = name
        resolver.attrs[(logical, "QueueUrl")] = url
    for logical, res in queues.items():  # redrive policies once every queue exists
        redrive = res.get("Properties", {}).get("RedrivePolicy")
        if redrive:
            sqs.set_queue_attributes(
                QueueUrl=resolver.refs[logical], Attributes={"RedrivePolicy": json.dumps(resolver.resolve(redrive))}
            )


def _rules(session: boto3.Session, template: dict[str, Any], resolver: Resolver) -> None:
    events = session.client("events")
    for logical, res in resources_of(template, "AWS::Events::Rule").items():
        if "EventPattern" not in res["Properties"]:
            continue  # scheduled rules never fire in moto; the local runtime triggers scheduled work itself
        props = resolver.resolve(res["Properties"])
        bus = props.get("EventBusName", "default")
        name = props.get("Name") or _name(logical)
        events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(props["EventPattern"]))
        targets = [{"Id": t["Id"], "Arn": t["Arn"]} for t in props.get("Targets", []) if ":sqs:" in t["Arn"]]
        if targets:
            events.put_targets(Rule=name, EventBusName=bus, Targets=targets)


def _placeholder_zip() -> bytes:
    """moto wants a code package; the emulator never runs it, it calls functions/<step>/handler.py in-process."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()
