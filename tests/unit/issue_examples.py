"""Example GitHub issues and what the rule-based analyzer must read from them (data for test_analysis_rules)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aws_agent.model import AwsResourceType as R
from aws_agent.model import AwsTaskType as T

#: The account directory the examples are analysed with (AgentConfig.accounts: name -> account id).
ACCOUNTS: dict[str, str] = {
    "Zeus": "111111111111",
    "Apollo": "222222222222",
    "Cerberus": "333333333333",
    "Athena": "444444444444",
}

_UNSET: Any = object()


@dataclass(frozen=True)
class IssueExample:
    """One issue and the expected analysis (or the expected error substring)."""

    id: str
    title: str
    body: str = ""
    labels: tuple[str, ...] = ()
    task_type: T | None = None
    resource_type: R | None = None
    parameters: dict[str, Any] = field(default_factory=dict)  # a subset the analysis must contain
    account_name: str | None = _UNSET
    account_id: str | None = _UNSET
    region: str | None = _UNSET
    error: str | None = None  # substring of the TaskAnalysisError message
    absent: tuple[str, ...] = ()  # parameters that must NOT be present

    @property
    def expects_error(self) -> bool:
        return self.error is not None


E = IssueExample

NOISY_TEMPLATE = """\
<!-- Thanks for filing a request! Please fill in every section.
     Do NOT write "delete" here unless you really mean it. resource_type: S3Bucket -->

## Summary :rocket:

Our **checkout** service needs more headroom. See the [runbook](https://wiki.example.com/runbooks/delete-me).

### Operation
- [ ] Create
- [x] Update
- [ ] Delete

### Resource type

LambdaFunction

### Details
Increase memory to 1024 MB and set the timeout to 60 seconds.
Runtime: python3.12

### Checklist
- [ ] I have read the guidelines about terminating resources
- [x] Cost estimate reviewed
"""

ISSUE_FORM = """\
### Operation

Create

### Resource type

S3 bucket

### AWS Region

us-east-1

### Account

Apollo

### Bucket name

acme-static-assets

### Tags

| Key | Value |
|-----|-------|
| Env | prod |
| Team | web |

### Anything else?

_No response_
"""

YAML_LAMBDA = """\
Please deploy the image resizer. Details below 👇

```yaml
runtime: nodejs20.x
memory: 512
timeout: 30
handler: index.handler
tags:
  Team: media
  Env: staging
```

Thanks! 🙏
"""

DYNAMO_BODY = """\
## Table

We need a table for orders.

```yaml
region: ap-northeast-1
name: orders
```

## Tags
- Owner: alice
- CostCenter: 1234
"""

JAPANESE_BODY = """\
### 概要
静的ファイル用のバケットを作成してください。

バケット名: jp-assets-2024
リージョン: 東京
"""

EXAMPLES: list[IssueExample] = [
    # --- the specification's example and plain English requests
    E(
        "spec-deploy-lambda",
        "Deploy Lambda function for API endpoint",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.LAMBDA_FUNCTION,
        account_name=None,
        region=None,
    ),
    E(
        "create-bucket-named",
        "Create S3 bucket named acme-logs-2024 in eu-west-3",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.S3_BUCKET,
        parameters={"bucket_name": "acme-logs-2024"},
        region="eu-west-3",
    ),
    E(
        "terminate-ec2",
        "Terminate EC2 instance i-0abc1234def567890",
        task_type=T.DELETE_RESOURCE,
        resource_type=R.EC2_INSTANCE,
        parameters={"instance_id": "i-0abc1234def567890"},
    ),
    E(
        "stop-ec2-apollo",
        "Stop EC2 instance i-0123456789abcdef0 in the Apollo account",
        task_type=T.UPDATE_RESOURCE,
        resource_type=R.EC2_INSTANCE,
        parameters={"action": "stop", "instance_id": "i-0123456789abcdef0"},
        account_name="Apollo",
        account_id="222222222222",
    ),
    E(
        "start-server-body-id",
        "Start the staging web server",
        body="Instance: i-0fedcba9876543210",
        task_type=T.UPDATE_RESOURCE,
        resource_type=R.EC2_INSTANCE,
        parameters={"action": "start", "instance_id": "i-0fedcba9876543210"},
    ),
    E(
        "resize-rds",
        "Resize RDS postgres instance to db.m5.large",
        task_type=T.UPDATE_RESOURCE,
        resource_type=R.RDS_INSTANCE,
        parameters={"instance_type": "db.m5.large"},
    ),
    E(
        "aurora-wins-over-rds",
        "Create Aurora PostgreSQL cluster for the billing service",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.AURORA_CLUSTER,
    ),
    E(
        "lambda-edge",
        "Deploy Lambda@Edge function for header rewriting",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.LAMBDA_EDGE,
    ),
    E(
        "cloudfront-function",
        "Add CloudFront function to rewrite URLs",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.LAMBDA_EDGE,
    ),
    E(
        "cloudfront-in-front-of-s3",
        "Set up CloudFront distribution in front of S3 bucket assets-prod",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.CLOUDFRONT_DISTRIBUTION,
    ),
    E(
        "dynamodb-yaml-and-tags",
        "Create DynamoDB table",
        body=DYNAMO_BODY,
        task_type=T.CREATE_RESOURCE,
        resource_type=R.DYNAMODB_TABLE,
        region="ap-northeast-1",
        parameters={"name": "orders", "tags": {"Owner": "alice", "CostCenter": "1234"}},
    ),
    E(
        "delete-stack",
        "Delete CloudFormation stack legacy-api",
        task_type=T.DELETE_RESOURCE,
        resource_type=R.CLOUDFORMATION_STACK,
    ),
    E(
        "cdk-app",
        "Deploy CDK app for the payments service",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.CLOUDFORMATION_STACK,
    ),
    E("vpc", "Create VPC with two private subnets", task_type=T.CREATE_RESOURCE, resource_type=R.VPC_NETWORK),
    E("new-rest-api", "New REST API for mobile clients", task_type=T.CREATE_RESOURCE, resource_type=R.API_GATEWAY),
    E(
        "scale-asg",
        "Scale auto scaling group web-asg to 6 instances",
        task_type=T.UPDATE_RESOURCE,
        resource_type=R.AUTO_SCALING_GROUP,
    ),
    E(
        "alb",
        "Create application load balancer for the web tier",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.LOAD_BALANCER,
    ),
    E(
        "cloudwatch-alarm",
        "Add CloudWatch alarm for high CPU on EC2",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.CLOUDWATCH,
    ),
    E("xray", "Enable X-Ray tracing for the orders service", task_type=T.UPDATE_RESOURCE, resource_type=R.XRAY),
    E("sns", "Create SNS topic for deployment notifications", task_type=T.CREATE_RESOURCE, resource_type=R.SNS),
    E(
        "ecs-fargate",
        "Deploy ECS Fargate service for the checkout API",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.ECS_SERVICE,
    ),
    E(
        "ebs-volumes",
        "Delete unattached EBS volumes in us-west-2",
        task_type=T.DELETE_RESOURCE,
        resource_type=R.EBS_VOLUME,
        region="us-west-2",
    ),
    E("efs", "Create EFS file system for shared uploads", task_type=T.CREATE_RESOURCE, resource_type=R.EFS_FILE_SYSTEM),
    E(
        "route53",
        "Create Route 53 hosted zone for example.com",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.ROUTE53_HOSTED_ZONE,
    ),
    E(
        "serverless-function",
        "Create serverless function for image thumbnails",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.LAMBDA_FUNCTION,
    ),
    E("spin-up-vms", "Spin up 2 VMs for load testing", task_type=T.CREATE_RESOURCE, resource_type=R.EC2_INSTANCE),
    E(
        "tear-down-stack",
        "Tear down the staging stack",
        task_type=T.DELETE_RESOURCE,
        resource_type=R.CLOUDFORMATION_STACK,
    ),
    # --- sweeps: no resource type needed
    E(
        "discover-zeus",
        "Discover all resources in the Zeus account",
        task_type=T.DISCOVER_RESOURCES,
        resource_type=None,
        account_name="Zeus",
        account_id="111111111111",
    ),
    E(
        "optimize-athena",
        "Optimize costs for the Athena account",
        task_type=T.OPTIMIZE_COSTS,
        resource_type=None,
        account_name="Athena",
        account_id="444444444444",
    ),
    E(
        "audit-cerberus",
        "Security audit of the Cerberus account",
        task_type=T.SECURITY_AUDIT,
        resource_type=None,
        account_name="Cerberus",
        account_id="333333333333",
    ),
    E(
        "health-lambda",
        "Run health check on production Lambda functions",
        task_type=T.HEALTH_CHECK,
        resource_type=R.LAMBDA_FUNCTION,
    ),
    E("health-alb", "Health check for the public ALB", task_type=T.HEALTH_CHECK, resource_type=R.LOAD_BALANCER),
    E(
        "list-buckets-apollo",
        "List all S3 buckets in Apollo",
        task_type=T.DISCOVER_RESOURCES,
        resource_type=R.S3_BUCKET,
        account_name="Apollo",
        account_id="222222222222",
    ),
    E(
        "rightsize-rds",
        "Rightsize over-provisioned RDS instances",
        task_type=T.OPTIMIZE_COSTS,
        resource_type=R.RDS_INSTANCE,
    ),
    E(
        "reduce-costs-context",
        "Reduce costs by stopping idle EC2 instances",
        task_type=T.OPTIMIZE_COSTS,
        resource_type=R.EC2_INSTANCE,
        absent=("action",),
    ),
    E(
        "security-review-s3",
        "Security review of S3 bucket policies",
        task_type=T.SECURITY_AUDIT,
        resource_type=R.S3_BUCKET,
    ),
    # --- AnalyzeBilling: the consolidated billing report (the task type added beyond the spec's seven)
    E(
        "billing-last-month",
        "Billing report for last month",
        task_type=T.ANALYZE_BILLING,
        resource_type=None,
        parameters={"period": "last-month"},
    ),
    E(
        "billing-cost-by-account-ec2",
        "Cost by account and EC2 spend for Apollo, month to date",
        task_type=T.ANALYZE_BILLING,
        resource_type=None,  # a service named in a billing request is context, not the task's resource
        parameters={"period": "month-to-date"},
        account_name="Apollo",
        account_id="222222222222",
    ),
    E(
        "billing-japanese-refresh",
        "先月の請求レポート",
        body="refresh: true",
        task_type=T.ANALYZE_BILLING,
        resource_type=None,
        parameters={"period": "last-month", "refresh": True},
    ),
    E(
        "billing-bad-period",
        "Consolidated billing",
        body="period: next year",
        error="invalid period 'next year' (expected month-to-date or last-month)",
    ),
    # --- operation words that are context, not the request
    E(
        "update-to-reduce-cost",
        "Update Lambda memory to reduce cost",
        task_type=T.UPDATE_RESOURCE,
        resource_type=R.LAMBDA_FUNCTION,
    ),
    E(
        "upgrade-instance-type",
        "Upgrade instance i-0123456789abcdef0 from t3.micro to t3.large",
        task_type=T.UPDATE_RESOURCE,
        resource_type=R.EC2_INSTANCE,
        parameters={"instance_type": "t3.large", "instance_id": "i-0123456789abcdef0"},
    ),
    E(
        "timeout-minutes",
        "Update Lambda function orders-api timeout to 2 minutes",
        task_type=T.UPDATE_RESOURCE,
        resource_type=R.LAMBDA_FUNCTION,
        parameters={"timeout": 120},
    ),
    E(
        "python-runtime-phrase",
        "Deploy Python 3.12 Lambda function with 256 MB memory",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.LAMBDA_FUNCTION,
        parameters={"runtime": "python3.12", "memory_size": 256},
    ),
    E(
        "backticked-function",
        "Delete Lambda function `legacy-thumbnailer`",
        task_type=T.DELETE_RESOURCE,
        resource_type=R.LAMBDA_FUNCTION,
        parameters={"function_name": "legacy-thumbnailer"},
    ),
    E(
        "s3-uri",
        "Delete s3://acme-tmp-bucket",
        task_type=T.DELETE_RESOURCE,
        resource_type=R.S3_BUCKET,
        parameters={"bucket_name": "acme-tmp-bucket"},
    ),
    E(
        "named-name-not-a-keyword",
        "Create S3 bucket named lambda-artifacts-2024",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.S3_BUCKET,
        parameters={"bucket_name": "lambda-artifacts-2024"},
    ),
    # --- noisy markdown bodies
    E(
        "noisy-template",
        "[Request] checkout resources",
        body=NOISY_TEMPLATE,
        task_type=T.UPDATE_RESOURCE,
        resource_type=R.LAMBDA_FUNCTION,
        parameters={"memory_size": 1024, "timeout": 60, "runtime": "python3.12"},
    ),
    E(
        "issue-form",
        "AWS request",
        body=ISSUE_FORM,
        task_type=T.CREATE_RESOURCE,
        resource_type=R.S3_BUCKET,
        region="us-east-1",
        account_name="Apollo",
        account_id="222222222222",
        parameters={"bucket_name": "acme-static-assets", "tags": {"Env": "prod", "Team": "web"}},
    ),
    E(
        "yaml-fence-emoji",
        "🚀 Deploy new Lambda",
        body=YAML_LAMBDA,
        task_type=T.CREATE_RESOURCE,
        resource_type=R.LAMBDA_FUNCTION,
        parameters={
            "runtime": "nodejs20.x",
            "memory_size": 512,
            "timeout": 30,
            "handler": "index.handler",
            "tags": {"Team": "media", "Env": "staging"},
        },
    ),
    E(
        "html-comment-ignored",
        "Create Lambda function",
        body="<!-- resource_type: S3Bucket\noperation: delete -->\nhandler: app.handler",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.LAMBDA_FUNCTION,
        parameters={"handler": "app.handler"},
    ),
    E(
        "checklist-picks-operation",
        "Lambda for thumbnails",
        body="What should happen?\n- [ ] Delete\n- [x] Create\n- [ ] Update",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.LAMBDA_FUNCTION,
    ),
    E(
        "body-only-request",
        "Payments team request",
        body="Hi team,\n\nPlease provision a t3.small EC2 instance with AMI ami-0abcdef1234567890 in us-east-2 "
        "for the Zeus account.\n\nThanks",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.EC2_INSTANCE,
        region="us-east-2",
        account_name="Zeus",
        account_id="111111111111",
        parameters={"instance_type": "t3.small", "image_id": "ami-0abcdef1234567890"},
    ),
    E(
        "explicit-operation-key",
        "EC2 request",
        body="operation: reboot\ninstance_id: i-0123456789abcdef0",
        task_type=T.UPDATE_RESOURCE,
        resource_type=R.EC2_INSTANCE,
        parameters={"action": "reboot", "instance_id": "i-0123456789abcdef0"},
    ),
    E(
        "explicit-type-wins",
        "Create Lambda function",
        body="resource_type: LambdaEdge",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.LAMBDA_EDGE,
    ),
    E(
        "explicit-type-service",
        "Deploy the new checkout service",
        body="**Type:** EcsService\n",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.ECS_SERVICE,
    ),
    E(
        "free-text-tag",
        "Create SNS topic for alerts",
        body="Please tag Owner=alice and Env=dev.",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.SNS,
        parameters={"tags": {"Owner": "alice", "Env": "dev"}},
    ),
    # --- labels
    E(
        "label-operation",
        "Old logs bucket is no longer needed",
        body="bucket: acme-old-logs",
        labels=("aws:delete", "good first issue"),
        task_type=T.DELETE_RESOURCE,
        resource_type=R.S3_BUCKET,
        parameters={"bucket_name": "acme-old-logs"},
    ),
    E(
        "label-resource",
        "Decommission the legacy box",
        labels=("aws:ec2",),
        task_type=T.DELETE_RESOURCE,
        resource_type=R.EC2_INSTANCE,
    ),
    E(
        "label-create-dynamo",
        "Orders DynamoDB table",
        labels=("aws:create",),
        task_type=T.CREATE_RESOURCE,
        resource_type=R.DYNAMODB_TABLE,
    ),
    # --- account ids
    E(
        "account-id-reverse",
        "Delete bucket tmp-scratch-01",
        body="Account: 333333333333",
        task_type=T.DELETE_RESOURCE,
        resource_type=R.S3_BUCKET,
        account_name="Cerberus",
        account_id="333333333333",
        parameters={"bucket_name": "tmp-scratch-01"},
    ),
    # --- non-English fragments
    E(
        "ja-create-bucket",
        "S3バケットを作成",
        body=JAPANESE_BODY,
        task_type=T.CREATE_RESOURCE,
        resource_type=R.S3_BUCKET,
        region="ap-northeast-1",
        parameters={"bucket_name": "jp-assets-2024"},
    ),
    E("ja-deploy-lambda", "Lambda関数をデプロイ", task_type=T.CREATE_RESOURCE, resource_type=R.LAMBDA_FUNCTION),
    E(
        "ja-stop-ec2",
        "EC2インスタンスを停止",
        task_type=T.UPDATE_RESOURCE,
        resource_type=R.EC2_INSTANCE,
        parameters={"action": "stop"},
    ),
    E("ja-delete-function", "不要なLambda関数を削除", task_type=T.DELETE_RESOURCE, resource_type=R.LAMBDA_FUNCTION),
    E(
        "ja-list-apollo",
        "Apolloアカウントのリソース一覧",
        task_type=T.DISCOVER_RESOURCES,
        resource_type=None,
        account_name="Apollo",
        account_id="222222222222",
    ),
    E("es-create-bucket", "Crear bucket S3 para logs", task_type=T.CREATE_RESOURCE, resource_type=R.S3_BUCKET),
    E(
        "es-delete-instance",
        "Eliminar instancia EC2 i-0aaaabbbbccccdddd",
        task_type=T.DELETE_RESOURCE,
        resource_type=R.EC2_INSTANCE,
        parameters={"instance_id": "i-0aaaabbbbccccdddd"},
    ),
    E(
        "fr-delete-bucket",
        "Supprimer le bucket old-reports-2019",
        task_type=T.DELETE_RESOURCE,
        resource_type=R.S3_BUCKET,
        parameters={"bucket_name": "old-reports-2019"},
    ),
    E(
        "fr-deploy-function",
        "Déployer une fonction Lambda",
        task_type=T.CREATE_RESOURCE,
        resource_type=R.LAMBDA_FUNCTION,
    ),
    E("de-delete-function", "Lambda-Funktion löschen", task_type=T.DELETE_RESOURCE, resource_type=R.LAMBDA_FUNCTION),
    E("de-create-instance", "EC2-Instanz erstellen", task_type=T.CREATE_RESOURCE, resource_type=R.EC2_INSTANCE),
    # --- refused, with a message that says why
    E("ambiguous-operation", "Create or delete bucket", error="ambiguous operation"),
    E(
        "ambiguous-resource",
        "Create S3 bucket and EC2 instance",
        error="ambiguous resource type: both S3Bucket and Ec2Instance are named",
    ),
    E(
        "unknown-account",
        "Deploy Lambda function in account Hermes",
        error="unknown account 'Hermes'; known: Apollo, Athena, Cerberus, Zeus",
    ),
    E(
        "unknown-account-key",
        "Create S3 bucket",
        body="account: Hermes",
        error="unknown account 'Hermes'; known: Apollo, Athena, Cerberus, Zeus",
    ),
    E("ambiguous-account", "Delete idle buckets in Apollo and Athena", error="ambiguous account"),
    E(
        "account-id-mismatch",
        "Deploy Lambda function to the Apollo account 111111111111",
        error="account 'Apollo' is 222222222222",
    ),
    E(
        "no-operation",
        "Question about S3",
        body="Is S3 Intelligent-Tiering worth it for us?",
        error="no operation recognised in the issue",
    ),
    E("no-resource", "Create something shiny", error="no resource type recognised"),
    E(
        "unknown-explicit-type",
        "Create a thing",
        body="resource_type: Mainframe",
        error="unknown resource type 'Mainframe'",
    ),
    E("memory-out-of-range", "Deploy Lambda function with 64 MB memory", error="memory_size 64 MB is out of range"),
    E("timeout-out-of-range", "Update Lambda timeout to 20 minutes", error="timeout 20 minutes is out of range"),
    E("reserved-tag", "Create S3 bucket", body="tags: aws:owner=alice", error="reserved 'aws:' prefix"),
    E("invalid-bucket-name", "Create S3 bucket named My_Bucket", error="invalid S3 bucket name 'My_Bucket'"),
    E(
        "sweep-with-two-types",
        "Inventory EC2 and RDS in Zeus",
        error="ambiguous resource type: both Ec2Instance and RdsInstance are named",
    ),
    E(
        "conflicting-explicit-ops",
        "Bucket request",
        body="operation: create\naction: delete",
        error="ambiguous operation",
    ),
]
