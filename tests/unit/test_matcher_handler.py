"""The matcher handler settles each material once per batch and reports failures per record."""

from typing import Any

from mercato.matcher.handler import handle_batch
from mercato.matcher.service import Matcher, Settled
from mercato.testing.events import kinesis_event, stream_insert


def order_insert(material: str, sk: str, tif: str) -> dict[str, Any]:
    return stream_insert(material, {"sk": sk, "timeInForce": tif})


class ScriptedMatcher(Matcher):
    def __init__(self, failing: set[str]) -> None:
        super().__init__(store=None)  # type: ignore[arg-type]
        self.failing = failing
        self.calls: list[tuple[str, list[str]]] = []

    def settle(self, material: str, hints: Any = ()) -> Settled:
        self.calls.append((material, list(hints)))
        if material in self.failing:
            raise RuntimeError(f"{material} is unavailable")
        return Settled(material, 0, 0, 0, 1)


def test_each_material_is_settled_once_with_its_ioc_and_fok_hints() -> None:
    matcher = ScriptedMatcher(failing=set())
    event = kinesis_event(
        [
            ("wheat", order_insert("wheat", "BUY#1", "GTC")),
            ("copper", order_insert("copper", "SELL#2", "IOC")),
            ("wheat", order_insert("wheat", "SELL#3", "FOK")),
            ("copper", {"not": "an order"}),
        ]
    )

    response = handle_batch(matcher, event)

    assert response == {"batchItemFailures": []}
    assert matcher.calls == [("wheat", ["SELL#3"]), ("copper", ["SELL#2"])]


def test_a_failing_material_reports_each_of_its_records_and_the_others_succeed() -> None:
    matcher = ScriptedMatcher(failing={"copper"})
    event = kinesis_event([("wheat", {}), ("copper", {}), ("wheat", {}), ("copper", {})])

    response = handle_batch(matcher, event)

    assert response == {"batchItemFailures": [{"itemIdentifier": "49001"}, {"itemIdentifier": "49003"}]}
    assert [material for material, _ in matcher.calls] == ["wheat", "copper"], (
        "copper is tried once per batch"
    )
