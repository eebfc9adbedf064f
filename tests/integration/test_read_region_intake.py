"""Intake in a read region: reads are served (and say where from), writes answer 421 wrong_region
with the home region's URL and change nothing."""

from mercato.intake.regions import WRITE_URL_HEADER, read_only
from tests.integration.conftest import Api


def test_a_read_region_serves_reads_and_refuses_writes_without_touching_anything(api: Api) -> None:
    api.list_market("wheat")
    api.deposit("alice", "coins", 1_000)
    before = api.snapshot()
    reads = Api(
        read_only(api.handler, region="eu-west-1", write_url="https://home.example"), api.client, api.tables
    )

    refused = reads.order("alice", "Buy", 1, 10)
    cancel = reads.call("DELETE", "/orders/019e7044-8800-7000-8000-000000000001", player="alice")
    served = reads.call("GET", "/markets/wheat")

    assert (refused.status, refused.code) == (421, "wrong_region")
    assert refused.headers[WRITE_URL_HEADER] == "https://home.example"
    assert "https://home.example" in refused.body["error"]["message"]
    assert cancel.status == 421
    assert api.snapshot() == before
    assert served.status == 200
    assert served.headers["Mercato-Region"] == "eu-west-1"
    assert reads.call("GET", "/accounts/me", player="alice").body["balances"]["coins"]["available"] == 1_000
