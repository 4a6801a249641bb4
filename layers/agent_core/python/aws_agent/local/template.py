"""The CDK app's synthesized template, loaded and its intrinsic functions resolved against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STACK_NAME = "AwsAgent"


def project_root() -> Path:
    """The repository holding app.py: from the editable install's location, else the working directory."""
    here = Path(__file__).resolve()
    for candidate in [*here.parents, Path.cwd(), *Path.cwd().parents]:
        if (candidate / "app.py").is_file() and (candidate / "cdk.json").is_file():
            return candidate
    raise FileNotFoundError("cannot find the project (app.py + cdk.json); run from the repository")


def synthesize(
    root: Path | None = None, out_dir: Path | None = None, context: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run the CDK app (offline, the same app `cdk deploy` uses) and return the agent stack's template.

    `context` is passed as the CDK CLI passes `-c key=value` (CDK_CONTEXT_JSON)."""
    root = root or project_root()
    out_dir = out_dir or root / "cdk.out" / "local"
    env = {
        **os.environ,
        "CDK_CONTEXT_JSON": json.dumps(context or {}),
        "CDK_OUTDIR": str(out_dir),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_VERSION_CHECK": "1",
        # The app imports aws_agent (config, policies): the project's own layer, not whichever copy is installed.
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(root / "layers" / "agent_core" / "python"), os.environ.get("PYTHONPATH")) if p
        ),
    }
    proc = subprocess.run(
        [sys.executable, "app.py"], cwd=root, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    if proc.returncode != 0:
        raise RuntimeError(f"CDK synthesis failed:\n{proc.stderr[-4000:]}")
    return load_template(out_dir / f"{STACK_NAME}.template.json")


def load_template(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


@dataclass
class Resolver:
    """Resolves Ref / Fn::GetAtt / Fn::Join / Fn::Sub / Fn::Select against values the emulator assigned."""

    account_id: str
    region: str
    refs: dict[str, Any] = field(default_factory=dict)  # logical id -> Ref value
    attrs: dict[tuple[str, str], Any] = field(default_factory=dict)  # (logical id, attribute) -> value

    def pseudo(self, name: str) -> str:
        values = {
            "AWS::AccountId": self.account_id,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": STACK_NAME,
            "AWS::NoValue": "",
        }
        return values[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            handler = self._intrinsics().get(key)
            if handler is not None:
                return handler(arg)
        return {k: self.resolve(v) for k, v in value.items()}

    def _intrinsics(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Join": lambda a: str(a[0]).join(str(self.resolve(p)) for p in self.resolve(a[1])),
            "Fn::Select": lambda a: self.resolve(a[1])[int(self.resolve(a[0]))],
            "Fn::Sub": self._sub,
        }

    def _ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name not in self.refs:
            raise KeyError(f"Ref to {name}, which the local runtime has not created")
        return self.refs[name]

    def _get_att(self, arg: Any) -> Any:
        logical, attribute = arg if isinstance(arg, list) else str(arg).split(".", 1)
        if (logical, attribute) not in self.attrs:
            raise KeyError(f"Fn::GetAtt {logical}.{attribute}, which the local runtime has not created")
        return self.attrs[(logical, attribute)]

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
        import re

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return str(self._get_att(name))
            return str(self._ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") == resource_type}
