"""A game's conftest names ``mercato.local.testing``; that path must keep giving it the fixtures."""

import pytest

pytest_plugins = ["pytester"]


def test_the_documented_plugin_path_provides_the_mercato_fixtures(pytester: pytest.Pytester) -> None:
    # Given a project whose conftest names the plugin by its documented path
    pytester.makeconftest('pytest_plugins = ["mercato.local.testing"]\n')
    pytester.makepyfile("def test_uses_it(mercato):\n    pass\n")
    # When pytest lists the fixtures a test there can request (none is started), with the
    # plugin's own command-line option
    listed = pytester.runpytest_subprocess("--fixtures", "--mercato-engine", "moto", "-p", "no:cacheprovider")
    # Then the option was known and both fixtures are there, defined in the test-helper package
    assert listed.ret == 0
    listed.stdout.fnmatch_lines(
        [
            "*fixtures defined from mercato.testing.pytest_plugin*",
            "mercato_engine [[]session scope[]] -- *mercato/testing/pytest_plugin.py:*",
            "mercato -- *mercato/testing/pytest_plugin.py:*",
        ]
    )


def test_a_missing_plugin_path_gives_no_mercato_fixture(pytester: pytest.Pytester) -> None:
    # The check above can fail: without the plugin, the fixture is not found.
    pytester.makepyfile("def test_uses_it(mercato):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'mercato' not found*"])
