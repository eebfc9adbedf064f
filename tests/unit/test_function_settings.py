"""Each function's settings model, read once from its environment: a complete environment gives
the values, a missing or invalid variable is refused with an error naming it, and no function
module outside its settings model reads the environment."""

import ast
from pathlib import Path
from typing import Any

import pytest

import mercato
from mercato.environment import SettingsError, env_var
from mercato.feed.settings import FeedSettings
from mercato.intake.settings import IntakeSettings
from mercato.leaderboard.settings import LeaderboardSettings
from mercato.matcher.settings import MatcherSettings
from mercato.resources import LEADERBOARD, TABLES
from mercato.storage.names import TableNames
from mercato.tracing import TRACE_FILE_ENV

TABLE_ENV = {spec.env_var: f"mercato-test-{spec.logical_name}" for spec in TABLES}
NAMES = TableNames(**{spec.logical_name: f"mercato-test-{spec.logical_name}" for spec in TABLES})
COMPLETE: dict[type[Any], dict[str, str]] = {
    IntakeSettings: TABLE_ENV | {"MERCATO_AUTH_SECRET_ARN": "arn:aws:secretsmanager:x"},
    MatcherSettings: TABLE_ENV,
    FeedSettings: TABLE_ENV | {"MERCATO_FEED_API_KEY_ARN": "arn:aws:secretsmanager:y"},
    LeaderboardSettings: TABLE_ENV | {"MERCATO_LEADERBOARD_TABLE": "mercato-test-leaderboard"},
}
"""The least environment each function starts with."""
PACKAGE = Path(mercato.__file__).resolve().parent


def test_the_matcher_reads_its_tables_and_an_optional_span_file() -> None:
    settings = MatcherSettings.from_env(TABLE_ENV | {"PATH": "/usr/bin"})
    assert (settings.tables, settings.trace_file) == (NAMES, None)

    traced = MatcherSettings.from_env(TABLE_ENV | {TRACE_FILE_ENV: "/tmp/spans.jsonl"})
    assert traced.trace_file == Path("/tmp/spans.jsonl")


def test_the_feed_reads_its_key_and_competition() -> None:
    settings = FeedSettings.from_env(COMPLETE[FeedSettings])
    assert (settings.tables, settings.api_key_arn, settings.competition) == (
        NAMES,
        "arn:aws:secretsmanager:y",
        "WC",
    )
    assert (
        FeedSettings.from_env(COMPLETE[FeedSettings] | {"MERCATO_FEED_COMPETITION": "PL"}).competition == "PL"
    )


def test_the_rollup_reads_the_leaderboard_table() -> None:
    settings = LeaderboardSettings.from_env(COMPLETE[LeaderboardSettings])
    assert (settings.tables, settings.leaderboard_table) == (NAMES, "mercato-test-leaderboard")


def test_intake_reads_its_optional_parts() -> None:
    settings = IntakeSettings.from_env(
        COMPLETE[IntakeSettings]
        | {
            "MERCATO_LEADERBOARD_TABLE": "boards",
            "MERCATO_READ_REGION": "eu-west-1",
            "MERCATO_WRITE_URL": "https://home.example",
            "MERCATO_LIMITS_TABLE": "limits",
            "MERCATO_LIMIT_ORDERS": "40/10",
        }
    )
    assert (settings.leaderboard_table, settings.read_region, settings.write_url) == (
        "boards",
        "eu-west-1",
        "https://home.example",
    )
    assert settings.limits is not None
    assert settings.limits.orders.capacity == 40
    assert IntakeSettings.from_env(COMPLETE[IntakeSettings]).limits is None


@pytest.mark.parametrize("model", list(COMPLETE), ids=lambda model: model.__name__)
@pytest.mark.parametrize("dropped", [spec.env_var for spec in TABLES][::2])
def test_a_missing_table_name_is_named(model: Any, dropped: str) -> None:
    env = {name: value for name, value in COMPLETE[model].items() if name != dropped}

    with pytest.raises(SettingsError, match=f"^{model.__name__} from the environment: {dropped}: missing$"):
        model.from_env(env)


@pytest.mark.parametrize(
    ("model", "dropped"),
    [
        (FeedSettings, "MERCATO_FEED_API_KEY_ARN"),
        (LeaderboardSettings, "MERCATO_LEADERBOARD_TABLE"),
    ],
)
def test_a_missing_required_variable_is_named_and_an_empty_one_is_missing(model: Any, dropped: str) -> None:
    env = {name: value for name, value in COMPLETE[model].items() if name != dropped}

    with pytest.raises(SettingsError, match=f"{dropped}: missing"):
        model.from_env(env)
    with pytest.raises(SettingsError, match=f"{dropped}: missing"):
        model.from_env(env | {dropped: ""})


@pytest.mark.parametrize(
    ("model", "variable", "value", "complaint"),
    [
        (FeedSettings, "MERCATO_FEED_COMPETITION", "world cup", "should match pattern"),
        (LeaderboardSettings, "MERCATO_LEADERBOARD_TABLE", "lb", "at least 3 characters"),
        (IntakeSettings, "MERCATO_LIMIT_ORDERS", "lots", "CAPACITY/PER_SECOND"),
    ],
)
def test_an_invalid_variable_is_named(model: Any, variable: str, value: str, complaint: str) -> None:
    env = COMPLETE[model] | {variable: value, "MERCATO_LIMITS_TABLE": "limits"}

    with pytest.raises(SettingsError, match=f"{variable}: .*{complaint}"):
        model.from_env(env)


def test_every_problem_is_named_at_once_and_no_value_is_repeated() -> None:
    env = {"MERCATO_FEED_COMPETITION": "secret-looking value"}

    with pytest.raises(SettingsError) as refused:
        FeedSettings.from_env(env)

    message = str(refused.value)
    assert all(f"{spec.env_var}: missing" in message for spec in TABLES)
    assert "MERCATO_FEED_API_KEY_ARN: missing" in message
    assert "MERCATO_FEED_COMPETITION: String should match pattern" in message
    assert "secret-looking value" not in message


def test_intake_needs_exactly_one_secret_source() -> None:
    with pytest.raises(SettingsError, match="exactly one of MERCATO_AUTH_SECRET and MERCATO_AUTH_SECRET_ARN"):
        IntakeSettings.from_env(TABLE_ENV)


def test_names_shared_with_other_modules_are_the_models_own() -> None:
    assert env_var(LeaderboardSettings, "leaderboard_table") == LEADERBOARD.env_var
    assert env_var(IntakeSettings, "leaderboard_table") == LEADERBOARD.env_var
    assert env_var(MatcherSettings, "trace_file") == env_var(IntakeSettings, "trace_file") == TRACE_FILE_ENV
    with pytest.raises(TypeError, match="names no environment variable"):
        env_var(MatcherSettings, "tables")


FUNCTION_PACKAGES = ("intake", "matcher", "feed", "leaderboard")


def environment_reads(path: Path) -> list[str]:
    """Where ``path`` reads the process environment (``os.environ``, ``os.getenv``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
            found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [
                f"{path.relative_to(PACKAGE)}:{node.lineno}"
                for alias in node.names
                if alias.name in ("environ", "getenv")
            ]
    return found


def test_only_the_settings_models_read_the_environment() -> None:
    reads = [
        found
        for package in FUNCTION_PACKAGES
        for path in sorted((PACKAGE / package).rglob("*.py"))
        if path.name != "settings.py"
        for found in environment_reads(path)
    ]

    assert reads == []
    assert all(environment_reads(PACKAGE / package / "settings.py") for package in FUNCTION_PACKAGES)
