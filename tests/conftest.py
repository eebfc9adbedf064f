"""Shared fixtures: AWS switched off (fake credentials, moto), a fixed region."""

import os

import pytest
from _pytest.nodeid import NodeId

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.pop("AWS_PROFILE", None)
os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "mercato-tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make ``xdist_group`` marks group again under ``--dist loadgroup``.

    pytest-xdist 3.8 groups a test by appending ``@group`` to ``item._nodeid`` on each worker; pytest
    9.2 keeps a node's id in ``item._id`` and no longer reads ``_nodeid``, so every mark was ignored:
    the CDK tests started a jsii runtime and synthesised on both workers, and a module's shared stack
    was started again wherever its tests landed. This names each grouped item's id the way xdist's
    scheduler reads it (``tests/unit/test_test_groups.py`` checks a grouped module runs on one worker).
    """
    if not getattr(config.option, "loadgroup", False):  # set on xdist's workers under loadgroup only
        return
    for item in items:
        groups = {
            str(m.args[0] if m.args else m.kwargs.get("name", "default"))
            for m in item.iter_markers("xdist_group")
        }
        if groups and "@" not in item.nodeid.rpartition("]")[2]:
            item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(sorted(groups))}")
