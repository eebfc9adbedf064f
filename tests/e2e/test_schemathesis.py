"""schemathesis against the embedded stack over HTTP: every documented operation, with data generated
from the OpenAPI document (valid and invalid), a trade or an admin token as the operation needs, and
every check schemathesis has (server errors, undocumented statuses, content types, headers, response
schemas, acceptance of valid and rejection of invalid data, auth, unsupported methods).

Bounded: ``MAX_EXAMPLES`` cases per operation keep it to well under two minutes on two busy cores.
"""

from collections.abc import Iterator
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from mercato.intake.app import build_app
from mercato.intake.auth import Scope, required_scope
from mercato.intake.openapi import openapi_document
from mercato.intake.service import Intake
from mercato.local.client import Client
from mercato.local.stack import EmbeddedStack

MAX_EXAMPLES = 25
SECRET = "a-schemathesis-secret-that-is-long-enough-0123"

pytestmark = pytest.mark.xdist_group("schemathesis")  # one worker starts the moto stack, not each


@pytest.fixture(scope="module")
def stack() -> Iterator[EmbeddedStack]:
    """The stack with the default catalog, players with coins and wheat, and a trade in wheat."""
    with EmbeddedStack(engine="moto", port=0, secret=SECRET, prefix="schemathesis") as stack:
        admin = stack.client("game-server", admin=True)
        for player in ("alice", "bob"):
            admin.deposit(player, "coins", 1_000_000, f"{player}-coins")
            admin.deposit(player, "wheat", 1_000, f"{player}-wheat")
        stack.client("bob").place("Sell", "wheat", 5, 20)
        stack.client("alice").place("Buy", "wheat", 5, 20)
        stack.drain()
        yield stack


def _operations() -> list[Any]:
    """The documented operations, from the document the intake handler serves (built here without a
    store: only the routes are needed; the stack serves the same document, which a test checks)."""
    loaded = schemathesis.openapi.from_dict(openapi_document(build_app(cast(Intake, None))))
    return [cast(Any, result).ok() for result in loaded.get_all_operations()]


OPERATIONS = _operations()


def test_the_stack_serves_the_document_the_cases_come_from(stack: EmbeddedStack) -> None:
    served = Client(stack.url).request("GET", "/openapi.json")

    assert served == openapi_document(build_app(cast(Intake, None)))


FRAMING = {"transfer-encoding", "content-length"}
"""Headers that frame the message, not the API's: negative cases generate arbitrary headers, and a
random ``Transfer-Encoding: 2T@`` is answered ``501 unsupported_transfer_coding``, as RFC 9112
§6.1 says a server should (a 5xx to schemathesis; a gate failed on it). The local server's framing
is tested on its own in ``tests/e2e/test_http_framing.py``."""

ACCEPTED = {200, 201, 202, 401, 403, 404, 409, 429}
"""What schema-valid data may be answered with (as schemathesis's own positive check, less 3xx/5xx)."""


def _semantic_422(operation: Any) -> set[str]:
    """The 422 codes an operation documents for rules a schema cannot state (a cursor this API did
    not issue, a range backwards, an expiry already past): schema-valid data may meet them."""
    documented = operation.definition.raw["responses"].get("422")
    if documented is None:
        return set()
    narrowed = documented["content"]["application/json"]["schema"]["allOf"][1]
    codes = narrowed["properties"]["error"]["properties"]["code"]["enum"]
    return set(codes) - {"invalid_field"}


def _accepts_valid_data(ctx: Any, response: Any, case: Any) -> bool | None:
    """Schemathesis's positive-data check, stricter on 422: only with a code the operation documents
    for a rule the schema cannot state."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code in ACCEPTED:
        return True
    code = response.json()["error"]["code"] if response.status_code == 422 else None
    if code == "invalid_field" and _spells_a_whole_float(case.body):
        return True  # 10.0 for an integer: refused by design (the document's description says so)
    assert code in _semantic_422(case.operation), (
        f"schema-valid data was refused with {response.status_code} {response.text}"
    )
    return True


def _spells_a_whole_float(body: Any) -> bool:
    """Whether a JSON body writes an integer as a float (``2.0``): JSON Schema's ``integer`` admits
    it, and schemathesis sends it on purpose; Mercato refuses any number written with a fraction or
    an exponent, so that money is never a float anywhere (its OpenAPI description states this)."""
    if isinstance(body, float):
        return True
    if isinstance(body, dict):
        return any(_spells_a_whole_float(value) for value in body.values())
    if isinstance(body, list):
        return any(_spells_a_whole_float(value) for value in body)
    return False


def _has_inputs(operation: Any) -> bool:
    return bool(operation.definition.raw.get("parameters") or operation.definition.raw.get("requestBody"))


CASES = [
    pytest.param(operation, mode, id=f"{operation.label} {mode}")
    for operation in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or _has_inputs(operation)
]


@pytest.mark.parametrize(("operation", "mode"), CASES)
def test_the_api_passes_every_schemathesis_check(
    stack: EmbeddedStack, operation: Any, mode: GenerationMode
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case: Any) -> None:
        for name in [name for name in case.headers or {} if name.lower() in FRAMING]:
            del case.headers[name]
        headers = {}
        scope = required_scope(case.operation.method, case.formatted_path)
        if scope is not None and "Authorization" in (case.headers or {}):
            # the case means to send a token: send a good one, of the scope the operation needs
            headers["Authorization"] = f"Bearer {stack.token('alice', admin=scope is Scope.ADMIN)}"
        case.call_and_validate(
            base_url=stack.url,
            headers=headers,
            excluded_checks=[positive_data_acceptance],
            additional_checks=[_accepts_valid_data],
        )

    check()


def test_the_stack_it_ran_against_had_traded(stack: EmbeddedStack) -> None:
    """The generated requests met a market with history, not only empty ones."""
    assert Client(stack.url).trades("wheat")["trades"]
