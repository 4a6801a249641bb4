"""Resource providers and the registry that maps a resource type to its provider."""

from __future__ import annotations

from importlib import import_module

from ..errors import UnsupportedResourceType
from ..model import AwsResourceType
from .base import ProviderContext, ResourceOutcome, ResourceProvider

__all__ = ["ProviderContext", "ResourceOutcome", "ResourceProvider", "provider_for", "supported_types"]


# One provider per resource type, as "<module>:<class>": a handler imports only the provider its task needs, so a cold
# start pays for one service's code, not twenty.
_PROVIDERS: dict[AwsResourceType, str] = {
    AwsResourceType.S3_BUCKET: "s3:S3BucketProvider",
    AwsResourceType.EC2_INSTANCE: "ec2:Ec2InstanceProvider",
    AwsResourceType.LAMBDA_FUNCTION: "lambda_function:LambdaFunctionProvider",
    AwsResourceType.RDS_INSTANCE: "rds:RdsInstanceProvider",
    AwsResourceType.AURORA_CLUSTER: "rds:AuroraClusterProvider",
    AwsResourceType.DYNAMODB_TABLE: "dynamodb:DynamoDbTableProvider",
    AwsResourceType.CLOUDFORMATION_STACK: "cloudformation:CloudFormationStackProvider",
    AwsResourceType.SNS: "sns:SnsTopicProvider",
    AwsResourceType.ROUTE53_HOSTED_ZONE: "route53:Route53HostedZoneProvider",
    AwsResourceType.API_GATEWAY: "apigateway:ApiGatewayProvider",
    AwsResourceType.ECS_SERVICE: "ecs:EcsServiceProvider",
    AwsResourceType.CLOUDFRONT_DISTRIBUTION: "cloudfront:CloudFrontDistributionProvider",
    AwsResourceType.LAMBDA_EDGE: "lambda_edge:LambdaEdgeProvider",
    AwsResourceType.VPC_NETWORK: "vpc:VpcNetworkProvider",
    AwsResourceType.EBS_VOLUME: "ebs:EbsVolumeProvider",
    AwsResourceType.EFS_FILE_SYSTEM: "efs:EfsFileSystemProvider",
    AwsResourceType.AUTO_SCALING_GROUP: "autoscaling:AutoScalingGroupProvider",
    AwsResourceType.LOAD_BALANCER: "elbv2:LoadBalancerProvider",
    AwsResourceType.CLOUDWATCH: "cloudwatch:CloudWatchProvider",
    AwsResourceType.XRAY: "xray:XRayProvider",
}
_LOADED: dict[AwsResourceType, ResourceProvider] = {}


def provider_for(resource_type: AwsResourceType | None) -> ResourceProvider:
    """The provider of a resource type, or UnsupportedResourceType naming the supported ones."""
    if resource_type is None or resource_type not in _PROVIDERS:
        supported = ", ".join(sorted(t.value for t in _PROVIDERS))
        name = resource_type.value if resource_type else "none"
        raise UnsupportedResourceType(f"no provider for resource type {name}; supported: {supported}")
    provider = _LOADED.get(resource_type)
    if provider is None:
        module, cls = _PROVIDERS[resource_type].split(":")
        provider = getattr(import_module(f"{__name__}.{module}"), cls)()
        assert provider.resource_type is resource_type, (resource_type, provider)
        _LOADED[resource_type] = provider
    return provider


def supported_types() -> list[AwsResourceType]:
    return sorted(_PROVIDERS, key=lambda t: t.value)
