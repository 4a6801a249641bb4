"""The provider registry: one provider per resource type of the spec, imported only when asked for."""

from __future__ import annotations

import subprocess
import sys

import pytest

from aws_agent.errors import UnsupportedResourceType
from aws_agent.model import AwsResourceType
from aws_agent.resources import ResourceProvider, provider_for, supported_types


@pytest.mark.parametrize("resource_type", list(AwsResourceType))
def test_every_resource_type_has_its_provider(resource_type: AwsResourceType) -> None:
    provider = provider_for(resource_type)
    assert isinstance(provider, ResourceProvider)
    assert provider.resource_type is resource_type
    assert provider_for(resource_type) is provider  # loaded once


def test_supported_types_are_all_twenty() -> None:
    assert set(supported_types()) == set(AwsResourceType)


def test_no_type_is_an_unsupported_type_error_naming_the_supported_ones() -> None:
    with pytest.raises(UnsupportedResourceType, match="supported: ApiGateway, AuroraCluster"):
        provider_for(None)


def test_asking_for_one_provider_imports_only_its_module() -> None:
    code = (
        "import sys; from aws_agent.resources import provider_for; from aws_agent.model import AwsResourceType; "
        "provider_for(AwsResourceType.S3_BUCKET); "
        "print(sorted(m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('aws_agent.resources.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert eval(out) == ["_common", "base", "s3"]
