"""Synthesis for the template tests: assets are referenced where they are built instead of copied.

A staged synthesis copies each function's dependency layer (about 55 MB with boto3) into a new
``cdk.out`` folder under the system temp directory, and CDK never removes it; a dozen syntheses per
run filled a CI machine's disk. With staging disabled (the context key SAM uses) the template is
the same except for the assets' local paths, and the assembly goes to one folder removed at exit.
"""

import atexit
import shutil
import tempfile

from aws_cdk import App

from cdk.app import build as build_app

_ASSEMBLY = tempfile.mkdtemp(prefix="mercato-cdk-test-")
atexit.register(shutil.rmtree, _ASSEMBLY, ignore_errors=True)

NO_STAGING: dict[str, object] = {"aws:cdk:disable-asset-staging": True}


def build(context: dict[str, object] | None = None) -> App:
    return build_app({**NO_STAGING, **(context or {})}, outdir=_ASSEMBLY)
