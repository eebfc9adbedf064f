"""A TypeScript client generated from the running stack's /openapi.json (openapi-typescript, types
for openapi-fetch), compiled with tsc, placing orders, handling two 409s and reading fills."""

import subprocess

from mercato.local.stack import EmbeddedStack
from tests.e2e.node_tools import TS, node, run_json

pytest_plugins = ["mercato.local.testing"]


def test_the_generated_typescript_client_trades_and_handles_conflicts(mercato: EmbeddedStack) -> None:
    runtime = node()
    bin_ = TS / "node_modules" / ".bin"
    generated = TS / "src" / "generated" / "mercato.ts"
    subprocess.run(
        # a field with a default (timeInForce) is optional to send: not required, as in a response
        [str(bin_ / "openapi-typescript"), f"{mercato.url}/openapi.json", "--output", str(generated),
         "--default-non-nullable", "false"],
        cwd=TS, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    compiled = subprocess.run(
        [str(bin_ / "tsc"), "-p", "tsconfig.json"], cwd=TS, capture_output=True, text=True, timeout=180
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr

    seen = run_json(
        [runtime, str(TS / "dist" / "client-e2e.js")],
        {
            "MERCATO_URL": mercato.url,
            "MERCATO_ADMIN_TOKEN": mercato.token("game-server", admin=True),
            "MERCATO_SELLER": "ts-seller",
            "MERCATO_SELLER_TOKEN": mercato.token("ts-seller"),
            "MERCATO_BUYER": "ts-buyer",
            "MERCATO_BUYER_TOKEN": mercato.token("ts-buyer"),
            "MERCATO_PAUPER_TOKEN": mercato.token("ts-pauper"),
        },
        timeout=120,
    )

    assert (seen["sell"]["status"], seen["buy"]["status"]) == (202, 202)
    assert seen["resend"] == {"status": 200, "orderId": seen["buy"]["orderId"]}
    assert seen["reusedClientOrderId"] == {"status": 409, "code": "client_order_id_reused"}
    assert seen["insufficientBalance"] == {"status": 409, "code": "insufficient_balance"}
    buy, sell = seen["buy"]["orderId"], seen["sell"]["orderId"]
    assert seen["buyerFills"] == [{"orderId": buy, "side": "Buy", "price": 30, "quantity": 5, "fee": 0}]
    assert seen["afterCursor"] == {"fills": 0, "sameCursor": True}
    assert seen["sellerFills"] == [{"orderId": sell, "side": "Sell", "price": 30, "quantity": 5, "fee": 3}]
    assert seen["filled"] == {"status": "filled", "filledQuantity": 5, "filledNotional": 150}
