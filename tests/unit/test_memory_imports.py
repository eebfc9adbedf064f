"""The in-memory exchange and the ports it implements stand on the domain alone: no path of imports
from them reaches boto3, botocore or the modules that name tables and items."""

import importlib.util

import pytest

from tests.unit.test_domain_imports import forbidden_paths

MODULES = ("mercato.memory.exchange", "mercato.intake.ports", "mercato.matcher.ports")


@pytest.mark.parametrize("module", MODULES)
def test_the_in_memory_exchange_and_its_ports_import_nothing_of_aws(module: str) -> None:
    assert importlib.util.find_spec(module) is not None
    assert forbidden_paths(module) == []
