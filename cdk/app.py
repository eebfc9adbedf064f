"""The CDK app: ``cdk synth`` / ``cdk deploy`` from the repository root (see ``cdk.json``)."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App

from cdk.settings import DeploySettings
from cdk.stack import MercatoStack


def build(context: dict[str, object] | None = None) -> App:
    app = App(context=context or {})
    settings = DeploySettings.from_context(app.node.try_get_context)
    MercatoStack(app, f"Mercato-{settings.stage}", settings=settings)
    return app


if __name__ == "__main__":
    build().synth()
