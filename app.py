#!/usr/bin/env python3
"""CDK entry point: synthesizes the AwsAgent stack (checked by cdk-nag's AWS Solutions rules) into cdk.out."""

import os

from infrastructure.app import build_app
from infrastructure.settings import PROJECT_ROOT

if __name__ == "__main__":
    # The CDK CLI (and the local runtime) choose the output directory through CDK_OUTDIR; a plain
    # `python app.py` writes to ./cdk.out like `cdk synth` does.
    app, _ = build_app(outdir=os.environ.get("CDK_OUTDIR") or str(PROJECT_ROOT / "cdk.out"))
    app.synth()
