"""Command-line values the CLI cannot use are refused by argparse (one line, exit status 2), never a
traceback from deep inside a start-up or a run that reports nonsense."""

import json

import pytest

from mercato.local.cli import build_parser


@pytest.mark.parametrize(
    "argv",
    [
        ["up", "--port", "70000"],
        ["up", "--port", "-1"],
        ["up", "--rate-limit-orders", "abc"],
        ["up", "--rate-limit-orders", "0/5"],
        ["up", "--rate-limit-orders", "20/5", "--rate-limit-reads", "x/y"],
        ["up", "--rate-limit-orders", "20/5", "--rate-limit-reads", "off"],
        ["up", "--replay-speed", "nan"],
        ["up", "--replay-speed", "-1"],
        ["demo", "--seconds", "0"],
        ["demo", "--seconds", "-3"],
        ["demo", "--seconds", "nan"],
        ["bench", "stack", "--rounds", "0"],
        ["token", "bad player/"],
        ["token", "house.lionel-messi"],
        ["token", "alice", "--ttl", "-5"],
        ["balances", "--player", "a" * 65],
        ["token", "me"],
        ["token", "alice", "--ttl", "abc"],
        ["up", "--port", "abc"],
        ["bench", "core", "--runs", "0"],
        ["bench", "spike", "--fans", "0"],
        ["bench", "stack", "--clients", "0"],
        ["bench", "stack", "--offered", "0"],
        ["sim", "--sessions", "0"],
        ["sim", "--steps", "-1"],
        ["sim", "--fault-rate", "2"],
        ["sim", "--fault-rate", "-0.1"],
        ["order", "buy", "wheat", "1", "1", "--tif", "DAY"],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_a_value_the_command_cannot_use_is_one_argparse_error(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)

    assert exit_.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("mercato ")
    assert "error: argument" in error
    assert "Traceback" not in error
    assert "invalid _" not in error, "the message names the value, not one of our functions"


@pytest.mark.parametrize(
    "argv",
    [
        ["up", "--port", "0"],
        ["up", "--port", "65535", "--replay-speed", "inf"],
        ["up", "--rate-limit-orders", "20/5", "--rate-limit-reads", "60/20"],
        ["demo", "--seconds", "0.5"],
        ["token", "game-server.eu:1", "--admin", "--ttl", "60"],
        ["balances", "--player", "alice_2"],
        ["order", "buy", "wheat", "1", "1", "--tif", "ioc"],
        ["sim", "--fault-rate", "0.2", "--session", "0"],
    ],
)
def test_values_the_command_can_use_are_taken(argv: list[str]) -> None:
    build_parser().parse_args(argv)


def test_a_read_limit_without_an_order_limit_is_refused_rather_than_ignored() -> None:
    from mercato.local.cli import main

    with pytest.raises(SystemExit, match="only with --rate-limit-orders"):
        main(["up", "--rate-limit-reads", "5/1"])


def test_a_command_that_needs_dynamodb_local_where_it_cannot_start_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A reviewer's ``bench spike --dynamodb-local`` in a checkout without the jar ended in a traceback."""
    from mercato.local.cli import main

    monkeypatch.setenv("MERCATO_DYNAMODB_LOCAL_JAR", "/nonexistent/DynamoDBLocal.jar")

    assert main(["bench", "spike", "--fans", "1", "--dynamodb-local"]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("mercato: DynamoDB Local cannot start: ")


def test_bench_spike_keeps_its_tables_in_moto_where_dynamodb_local_cannot_start_and_says_why(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unasked, the spike takes DynamoDB Local where it can start: on moto, which scans a table for
    each query, the default 2,000 fans ran for over 19 minutes without a word."""
    from mercato.local.cli import main

    monkeypatch.setenv("MERCATO_DYNAMODB_LOCAL_JAR", "/nonexistent/DynamoDBLocal.jar")

    assert main(["bench", "spike", "--fans", "2", "--sellers", "1", "--json"]) == 0
    captured = capsys.readouterr()
    why_not, storage = captured.err.splitlines()[:2]
    assert why_not == (
        "mercato: not in DynamoDB Local (DynamoDB Local cannot start:"
        " MERCATO_DYNAMODB_LOCAL_JAR names /nonexistent/DynamoDBLocal.jar, which is not a file)"
    )
    assert storage.startswith("mercato: the tables are in moto")
    assert json.loads(captured.out)["fills"] >= 1


def test_bench_spike_unasked_runs_on_moto_when_dynamodb_local_fails_to_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Java on the PATH and the jar present, but the start fails (a Java older than 17, say): the
    unasked spike exited 1 where before it had run on moto (a reviewer's find)."""
    from mercato.emulators.dynamodb_local import DynamoDBLocal, DynamoDBLocalUnavailable
    from mercato.local.cli import main

    def fails(self: DynamoDBLocal, **_: object) -> DynamoDBLocal:
        raise DynamoDBLocalUnavailable("DynamoDB Local exited at start: UnsupportedClassVersionError")

    monkeypatch.setattr(DynamoDBLocal, "start", fails)

    assert main(["bench", "spike", "--fans", "2", "--sellers", "1", "--json"]) == 0
    why_not, storage = capsys.readouterr().err.splitlines()[:2]
    assert why_not == (
        "mercato: not in DynamoDB Local (DynamoDB Local exited at start: UnsupportedClassVersionError)"
    )
    assert storage.startswith("mercato: the tables are in moto")
    assert main(["bench", "spike", "--fans", "2", "--dynamodb-local"]) == 1  # asked for: refused


def test_bench_spike_takes_dynamodb_local_unasked_where_it_can_start(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mercato.emulators import dynamodb_local
    from mercato.local.cli import main

    if (why_not := dynamodb_local.missing()) is not None:
        pytest.skip(f"DynamoDB Local cannot start here: {why_not}")

    assert main(["bench", "spike", "--fans", "2", "--sellers", "1", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines()[0] == "mercato: the tables are in DynamoDB Local"
    assert json.loads(captured.out)["fills"] >= 1
