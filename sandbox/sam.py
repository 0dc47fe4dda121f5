"""The SAM transform, offline: the CloudFormation that AWS would create from template.yaml.

samtranslator needs a region and S3 artifact URIs (toolchain.md §"Item 2"); the template checks
(tests/infra) and the embedded stack's IAM (sandbox/iam) translate through here.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from importlib.metadata import version
from pathlib import Path
from typing import Any

TRANSFORM_REGION = "eu-north-1"
CACHE_DIR = Path(__file__).resolve().parent.parent / ".local" / "cache" / "sam-transform"


class ForbiddenPolicyLoader:
    """Managed-policy loader for samtranslator. `load()` means an unknown managed policy name,
    which SAM would resolve with iam:ListPolicies at deploy time: the template must not need it."""

    def __init__(self) -> None:
        self.calls = 0

    def load(self) -> dict[str, str]:
        self.calls += 1
        raise AssertionError("samtranslator asked IAM for a managed policy that is not in its bundled map")


def with_s3_artifacts(template: dict[str, Any]) -> dict[str, Any]:
    """What `sam package` does: local CodeUri/ContentUri become S3 URIs (the translator needs them)."""
    packaged = copy.deepcopy(template)
    for logical_id, resource in packaged["Resources"].items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://artifacts/{logical_id}.zip"
    return packaged


def transform(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """`template` (long-form intrinsics) translated by samtranslator, as CloudFormation would receive it."""
    from samtranslator.translator.transform import transform as sam_transform

    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = TRANSFORM_REGION
    try:
        return sam_transform(with_s3_artifacts(template), dict(parameters), ForbiddenPolicyLoader())  # type: ignore[no-any-return]
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous


def cached_transform(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """`transform`, kept on disk per template content, parameters and translator version: the stack
    starts many times (tests, the IAM mutation run) from few templates."""
    text = json.dumps([template, parameters, version("aws-sam-translator")], sort_keys=True, default=str)
    path = CACHE_DIR / f"{hashlib.sha256(text.encode()).hexdigest()}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        pass
    result = transform(template, parameters)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result), encoding="utf-8")
    tmp.replace(path)
    return result
