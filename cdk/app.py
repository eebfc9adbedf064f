"""The CDK app: ``cdk synth`` / ``cdk deploy`` from the repository root (see ``cdk.json``)."""

import os
import sys
from pathlib import Path

# Run as a script, Python puts cdk/ itself first on the path; the repository root is what the app's
# imports (cdk.*, mercato.*) are relative to.
_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [str(Path(_HERE).parent)] + [p for p in sys.path if Path(p or ".").resolve() != Path(_HERE)]
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from aws_cdk import App  # noqa: E402  (after the path fix above)

from cdk.deploy_stack import DeployStack  # noqa: E402
from cdk.read_stack import ReadRegionStack  # noqa: E402
from cdk.settings import DeploySettings  # noqa: E402
from cdk.stack import MercatoStack  # noqa: E402


def build(context: dict[str, object] | None = None, outdir: str | None = None) -> App:
    app = App(context=context or {}, outdir=outdir)
    settings = DeploySettings.from_context(app.node.try_get_context)
    home = MercatoStack(app, f"Mercato-{settings.stage}", settings=settings)
    if settings.read_region is not None:
        reads = ReadRegionStack(
            app, f"MercatoRead-{settings.stage}", settings=settings, region=settings.read_region
        )
        reads.add_stack_dependency(home)  # the replicas and the secret's replica come with the home stack
    if settings.github_repository is not None:
        DeployStack(app, "MercatoDeploy", settings=settings, repository=settings.github_repository)
    return app


if __name__ == "__main__":
    build().synth()
