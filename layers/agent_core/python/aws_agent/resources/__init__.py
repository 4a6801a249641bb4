"""Resource providers and the registry that maps a resource type to its provider."""

from __future__ import annotations

from ..errors import UnsupportedResourceType
from ..model import AwsResourceType
from .base import ProviderContext, ResourceOutcome, ResourceProvider

__all__ = ["ProviderContext", "ResourceOutcome", "ResourceProvider", "provider_for", "supported_types"]


def _providers() -> dict[AwsResourceType, ResourceProvider]:
    # Imported lazily so a handler pays only for what it uses at cold start.
    from .ec2 import Ec2InstanceProvider
    from .lambda_function import LambdaFunctionProvider
    from .s3 import S3BucketProvider

    providers: list[ResourceProvider] = [S3BucketProvider(), Ec2InstanceProvider(), LambdaFunctionProvider()]
    # Edge and messaging types (issue 3, providers-edge).
    from .apigateway import ApiGatewayProvider
    from .cloudfront import CloudFrontDistributionProvider
    from .ecs import EcsServiceProvider
    from .lambda_edge import LambdaEdgeProvider
    from .route53 import Route53HostedZoneProvider
    from .sns import SnsTopicProvider

    providers += [SnsTopicProvider(), Route53HostedZoneProvider(), ApiGatewayProvider(), EcsServiceProvider()]
    providers += [CloudFrontDistributionProvider(), LambdaEdgeProvider()]
    from .cloudformation import CloudFormationStackProvider
    from .dynamodb import DynamoDbTableProvider
    from .rds import AuroraClusterProvider, RdsInstanceProvider

    providers += [
        RdsInstanceProvider(),
        AuroraClusterProvider(),
        DynamoDbTableProvider(),
        CloudFormationStackProvider(),
    ]
    return {p.resource_type: p for p in providers}
    providers += _net_providers()
    return {p.resource_type: p for p in providers}


def _net_providers() -> list[ResourceProvider]:
    """Network, storage, scaling and monitoring types (issue 3)."""
    from .autoscaling import AutoScalingGroupProvider
    from .cloudwatch import CloudWatchProvider
    from .ebs import EbsVolumeProvider
    from .efs import EfsFileSystemProvider
    from .elbv2 import LoadBalancerProvider
    from .vpc import VpcNetworkProvider
    from .xray import XRayProvider

    return [
        VpcNetworkProvider(),
        EbsVolumeProvider(),
        EfsFileSystemProvider(),
        AutoScalingGroupProvider(),
        LoadBalancerProvider(),
        CloudWatchProvider(),
        XRayProvider(),
    ]


_REGISTRY: dict[AwsResourceType, ResourceProvider] | None = None


def provider_for(resource_type: AwsResourceType | None) -> ResourceProvider:
    """The provider of a resource type, or UnsupportedResourceType naming the supported ones."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _providers()
    if resource_type is None or resource_type not in _REGISTRY:
        supported = ", ".join(sorted(t.value for t in _REGISTRY))
        name = resource_type.value if resource_type else "none"
        raise UnsupportedResourceType(f"no provider for resource type {name}; supported: {supported}")
    return _REGISTRY[resource_type]


def supported_types() -> list[AwsResourceType]:
    provider_for(AwsResourceType.S3_BUCKET)
    assert _REGISTRY is not None
    return sorted(_REGISTRY, key=lambda t: t.value)
