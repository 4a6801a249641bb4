"""Least privilege for the edge providers (SNS, Route 53, API Gateway, ECS, CloudFront, Lambda@Edge).

Customer managed policies, not inline: a role's inline policies share a 10,240-character quota that the baseline
policy already uses, while each managed policy holds 6,144 characters of its own. The actions are split into two
policies (messaging/DNS/API, then containers/CDN/edge) so each stays well under that size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .nag import acknowledge, rendered, wildcard
from .settings import managed_condition

MANAGED_POLICY_MAX_CHARS = 6144


class EdgeProviderPolicies(Construct):
    """Two managed policies with the edge providers' actions, attached to the resource steps' roles."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Iterable[lambda_.Function] = (),
        roles: Sequence[iam.IRole] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        own = f"arn:{Aws.PARTITION}"
        account = Aws.ACCOUNT_ID
        topics = f"{own}:sns:*:{account}:*"
        zones = f"{own}:route53:::hostedzone/*"
        changes = f"{own}:route53:::change/*"
        apis = [f"{own}:apigateway:*::/apis", f"{own}:apigateway:*::/restapis"]
        api_items = [f"{own}:apigateway:*::/apis/*", f"{own}:apigateway:*::/restapis/*"]
        api_tags = f"{own}:apigateway:*::/tags/*"
        clusters = f"{own}:ecs:*:{account}:cluster/*"
        services = f"{own}:ecs:*:{account}:service/*/*"
        task_definitions = f"{own}:ecs:*:{account}:task-definition/*:*"
        distributions = f"{own}:cloudfront::{account}:distribution/*"
        edge_functions = f"{own}:lambda:us-east-1:{account}:function:*"
        edge_versions = f"{own}:lambda:us-east-1:{account}:function:*:*"
        roles = [*roles, *(fn.role for fn in functions if fn.role is not None)]

        messaging = [
            # SNS: creation only with the managed tag in the request; every change only on a managed topic.
            iam.PolicyStatement(
                sid="SnsCreateTaggedOnly",
                actions=["sns:CreateTopic", "sns:TagResource"],
                resources=[topics],
                conditions=managed_condition("aws:RequestTag"),
            ),
            iam.PolicyStatement(
                sid="SnsChangeManagedOnly",
                actions=["sns:SetTopicAttributes", "sns:DeleteTopic", "sns:TagResource"],
                resources=[topics],
                conditions=managed_condition(),
            ),
            iam.PolicyStatement(
                sid="SnsRead", actions=["sns:GetTopicAttributes", "sns:ListTagsForResource"], resources=[topics]
            ),
            iam.PolicyStatement(sid="SnsList", actions=["sns:ListTopics"], resources=["*"]),
            # Route 53 has no aws:ResourceTag / aws:RequestTag condition keys: the provider checks MiyabiManaged=true
            # before every change, and the grant is limited to hosted zones (no domains, health checks, resolvers).
            iam.PolicyStatement(
                sid="Route53Zones",
                actions=[
                    "route53:GetHostedZone",
                    "route53:ListResourceRecordSets",
                    "route53:ListTagsForResource",
                    "route53:ListTagsForResources",
                    "route53:ChangeResourceRecordSets",
                    "route53:ChangeTagsForResource",
                    "route53:UpdateHostedZoneComment",
                    "route53:DeleteHostedZone",
                    "route53:AssociateVPCWithHostedZone",  # CreateHostedZone of a private zone
                ],
                resources=[zones],
            ),
            iam.PolicyStatement(sid="Route53Changes", actions=["route53:GetChange"], resources=[changes]),
            iam.PolicyStatement(
                sid="Route53CreateAndList",
                actions=["route53:CreateHostedZone", "route53:ListHostedZones", "route53:ListHostedZonesByName"],
                resources=["*"],
            ),
            # API Gateway authorizes by HTTP verb on resource paths: POST on the collections creates (tagged only),
            # PATCH/DELETE on an API changes it (managed only).
            iam.PolicyStatement(
                sid="ApiGatewayCreateTaggedOnly",
                actions=["apigateway:POST"],
                resources=apis,
                conditions=managed_condition("aws:RequestTag"),
            ),
            iam.PolicyStatement(
                sid="ApiGatewayChangeManagedOnly",
                actions=["apigateway:PATCH", "apigateway:DELETE"],
                resources=api_items,
                conditions=managed_condition(),
            ),
            iam.PolicyStatement(sid="ApiGatewayRead", actions=["apigateway:GET"], resources=[*apis, *api_items]),
            # TagResource is POST (HTTP APIs) or PUT (REST APIs) on /tags/<arn>; tagging only adds tags, and the
            # providers refuse to set the agent's own tags on an update.
            iam.PolicyStatement(
                sid="ApiGatewayTags",
                actions=["apigateway:POST", "apigateway:PUT", "apigateway:GET"],
                resources=[api_tags],
            ),
        ]

        containers = [
            iam.PolicyStatement(
                sid="EcsCreateTaggedOnly",
                actions=["ecs:CreateCluster", "ecs:CreateService", "ecs:RegisterTaskDefinition", "ecs:TagResource"],
                resources=[clusters, services, task_definitions],
                conditions=managed_condition("aws:RequestTag"),
            ),
            iam.PolicyStatement(
                sid="EcsChangeManagedOnly",
                actions=["ecs:UpdateService", "ecs:DeleteService", "ecs:TagResource"],
                resources=[services],
                conditions=managed_condition(),
            ),
            # Read-only calls without resource-level permissions (ListClusters, DescribeTaskDefinition).
            iam.PolicyStatement(
                sid="EcsRead",
                actions=[
                    "ecs:DescribeClusters",
                    "ecs:DescribeServices",
                    "ecs:DescribeTaskDefinition",
                    "ecs:ListClusters",
                    "ecs:ListServices",
                ],
                resources=["*"],
            ),
            iam.PolicyStatement(
                sid="EcsPassTaskRoles",
                actions=["iam:PassRole"],
                resources=[f"{own}:iam::{account}:role/*"],
                conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
            ),
            iam.PolicyStatement(
                sid="CloudFrontCreateTaggedOnly",
                actions=["cloudfront:CreateDistribution", "cloudfront:TagResource"],
                resources=[distributions],
                conditions=managed_condition("aws:RequestTag"),
            ),
            iam.PolicyStatement(
                sid="CloudFrontChangeManagedOnly",
                actions=["cloudfront:UpdateDistribution", "cloudfront:DeleteDistribution", "cloudfront:TagResource"],
                resources=[distributions],
                conditions=managed_condition(),
            ),
            iam.PolicyStatement(
                sid="CloudFrontRead",
                actions=[
                    "cloudfront:GetDistribution",
                    "cloudfront:GetDistributionConfig",
                    "cloudfront:ListTagsForResource",
                ],
                resources=[distributions],
            ),
            iam.PolicyStatement(sid="CloudFrontList", actions=["cloudfront:ListDistributions"], resources=["*"]),
            # Lambda@Edge: create/update/delete/tag are the baseline Lambda grants; these add versions and the
            # replication CloudFront performs when a managed function version is associated.
            iam.PolicyStatement(
                sid="EdgePublishManagedOnly",
                actions=["lambda:PublishVersion", "lambda:EnableReplication", "lambda:DisableReplication"],
                resources=[edge_functions, edge_versions],
                conditions=managed_condition(),
            ),
            iam.PolicyStatement(
                sid="EdgeVersionsRead", actions=["lambda:ListVersionsByFunction"], resources=[edge_functions]
            ),
            iam.PolicyStatement(
                sid="EdgeServiceLinkedRoles",
                actions=["iam:CreateServiceLinkedRole"],
                resources=[f"{own}:iam::{account}:role/aws-service-role/*"],
                conditions={
                    "StringEquals": {
                        "iam:AWSServiceName": [
                            "replicator.lambda.amazonaws.com",
                            "logger.cloudfront.amazonaws.com",
                            "ecs.amazonaws.com",
                        ]
                    }
                },
            ),
        ]

        self.policies = [
            iam.ManagedPolicy(
                self,
                "MessagingDnsApi",
                description="Miyabi agent: SNS topics, Route 53 hosted zones, API Gateway APIs (tag-scoped)",
                statements=messaging,
                roles=roles,
            ),
            iam.ManagedPolicy(
                self,
                "ContainersCdnEdge",
                description="Miyabi agent: ECS Fargate services, CloudFront distributions, Lambda@Edge (tag-scoped)",
                statements=containers,
                roles=roles,
            ),
        ]
        reasons = {
            wildcard("*"): "sns:ListTopics, route53:CreateHostedZone/ListHostedZones*, ecs:List*/Describe* and "
            "cloudfront:ListDistributions support no resource-level permissions.",
            wildcard(
                rendered(topics)
            ): "Topic names are chosen per task; creation needs the MiyabiManaged=true request "
            "tag and every change the MiyabiManaged=true resource tag.",
            wildcard(rendered(zones)): "Zone ids are assigned by Route 53, which offers no tag condition keys; the "
            "provider refuses zones without MiyabiManaged=true.",
            wildcard(rendered(changes)): "GetChange of the record changes the provider submits (ids assigned by AWS).",
            wildcard(rendered(api_tags)): "Tag paths of APIs (ids assigned by API Gateway); adding tags only.",
            wildcard(rendered(clusters)): "Clusters the agent creates, only with the MiyabiManaged=true request tag.",
            wildcard(rendered(services)): "Services of the account: creation tagged, changes only when managed.",
            wildcard(rendered(task_definitions)): "Task definition revisions the agent registers, tagged at creation.",
            wildcard(
                rendered(f"{own}:iam::{account}:role/*")
            ): "PassRole of the task and execution roles a task names, only to ecs-tasks.amazonaws.com.",
            wildcard(rendered(distributions)): "Distribution ids are assigned by CloudFront; creation tagged, changes "
            "only when tagged MiyabiManaged=true.",
            wildcard(rendered(edge_functions)): "Edge functions (names chosen per task) in us-east-1; publishing and "
            "replication only for MiyabiManaged=true functions.",
            wildcard(rendered(edge_versions)): "Versions of those functions (numbers assigned by Lambda).",
            wildcard(rendered(f"{own}:iam::{account}:role/aws-service-role/*")): "Only the Lambda@Edge replicator, "
            "CloudFront logger and ECS service-linked roles (iam:AWSServiceName condition).",
        }
        for resource in (*apis, *api_items):
            reasons[wildcard(rendered(resource))] = (
                "API Gateway paths in any region: creation needs the MiyabiManaged=true request tag, "
                "changes the MiyabiManaged=true resource tag."
            )
        for policy in self.policies:
            acknowledge(policy, reasons)
