"""The intake asset ships the web market view's files with the code that serves them."""

from pathlib import Path

import pytest

from cdk import assets

# One worker runs every CDK test: each worker that synthesises starts its own jsii runtime, and
# the Lambda asset is built in one shared folder.
pytestmark = pytest.mark.xdist_group("cdk")

WEB = Path(__file__).resolve().parents[2] / "mercato" / "intake" / "web"


def test_the_intake_asset_holds_every_file_of_the_web_view() -> None:
    shipped = assets.source("intake") / "mercato" / "intake" / "web"

    expected = {path.name for path in WEB.iterdir()}
    assert {"index.html", "app.js", "style.css"} <= expected
    assert {path.name for path in shipped.iterdir()} == expected
    assert all((shipped / name).read_bytes() == (WEB / name).read_bytes() for name in expected)
