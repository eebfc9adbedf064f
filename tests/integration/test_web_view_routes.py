"""The web market view's files and the goal timeline it reads, served by intake on moto."""

import re
from typing import Any

import pytest

from mercato.emulators.function_url import function_url_event, response_body
from tests.integration.conftest import Api

WEB_FILES = ("app.js", "api.js", "chart.js", "style.css")


def get(api: Api, path: str) -> dict[str, Any]:
    response: dict[str, Any] = api.handler(function_url_event("GET", path), None)
    return response


def test_the_page_is_public_html_that_loads_only_its_own_files(api: Api) -> None:
    response = get(api, "/")

    assert response["statusCode"] == 200
    headers = response["headers"]
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "connect-src 'self'" in headers["Content-Security-Policy"]
    page = response_body(response).decode()
    assert '<script type="module" src="web/app.js"></script>' in page
    assert '<link rel="stylesheet" href="web/style.css">' in page


@pytest.mark.parametrize("path", ["/", "/web/app.js", "/openapi.json"])
def test_the_page_its_files_and_the_document_ignore_a_link_s_query_parameters(api: Api, path: str) -> None:
    """A shared link picks up ``?utm_source=…``: the page still opens (it answered a JSON 422 for the
    unknown parameter, as an API route does); API routes still refuse what they do not take."""
    event = function_url_event("GET", path, query={"utm_source": "chat", "fbclid": "x"})

    assert api.handler(event, None)["statusCode"] == 200
    assert api.call("GET", "/markets", query={"utm_source": "chat"}).code == "invalid_field"


@pytest.mark.parametrize("name", WEB_FILES)
def test_each_file_of_the_page_is_served_with_its_type(api: Api, name: str) -> None:
    response = get(api, f"/web/{name}")

    assert response["statusCode"] == 200
    kind = {"js": "text/javascript", "css": "text/css"}[name.rsplit(".", 1)[1]]
    assert response["headers"]["Content-Type"] == f"{kind}; charset=utf-8"
    assert response_body(response)


def test_every_module_the_page_imports_is_served(api: Api) -> None:
    imported = set()
    for name in WEB_FILES:
        source = response_body(get(api, f"/web/{name}")).decode()
        imported |= set(re.findall(r'from "\./([a-z0-9-]+\.js)"', source))

    assert imported == {"api.js", "chart.js"}
    assert {name: get(api, f"/web/{name}")["statusCode"] for name in imported} == dict.fromkeys(imported, 200)


def test_every_fetch_in_the_page_uses_a_relative_url(api: Api) -> None:
    """So the page works on the function URL and on `mercato up` alike."""
    sources = "".join(response_body(get(api, f"/web/{name}")).decode() for name in WEB_FILES)

    assert "http://" not in sources.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in sources
    assert re.findall(r'getJson\("/', sources) == []


@pytest.mark.parametrize(
    "path",
    ["/web/missing.js", "/web/app.py", "/web/.app.js", "/web/index.html", "/web/" + "a" * 300 + ".js"],
    ids=["missing", "python", "dot file", "the page", "a name longer than a file system's"],
)
def test_a_file_the_page_does_not_have_is_a_404_in_the_error_shape(api: Api, path: str) -> None:
    reply = api.call("GET", path)

    assert (reply.status, reply.code) == (404, "no_route")


def test_the_goal_timeline_lists_a_footballers_goals_in_posted_order(api: Api) -> None:
    api.list_footballer("lionel-messi")
    for event_id, minute in (("final:messi:1", 23), ("final:messi:2", 108)):
        goal = {"eventId": event_id, "material": "lionel-messi", "matchId": "final", "minute": minute}
        assert api.call("POST", "/events/goals", goal, admin=True).status == 202

    reply = api.call("GET", "/markets/lionel-messi/goals")

    assert reply.status == 200
    assert reply.body["material"] == "lionel-messi"
    goals = reply.body["goals"]
    assert [(g["eventId"], g["matchId"], g["minute"], g["applied"]) for g in goals] == [
        ("final:messi:1", "final", 23, False),
        ("final:messi:2", "final", 108, False),
    ]
    assert goals[0]["postedAt"] <= goals[1]["postedAt"]


def test_a_footballer_without_goals_has_an_empty_timeline(api: Api) -> None:
    api.list_footballer("lionel-messi")

    assert api.call("GET", "/markets/lionel-messi/goals").body == {"material": "lionel-messi", "goals": []}


@pytest.mark.parametrize(
    ("material", "status", "code"),
    [("wheat", 422, "not_a_footballer"), ("unobtainium", 404, "unknown_material")],
)
def test_only_a_listed_footballer_has_a_goal_timeline(
    api: Api, material: str, status: int, code: str
) -> None:
    api.list_market("wheat")

    reply = api.call("GET", f"/markets/{material}/goals")

    assert (reply.status, reply.code) == (status, code)
