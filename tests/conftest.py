"""Shared fixtures: AWS switched off (fake credentials, moto), a fixed region."""

import os
from collections.abc import Iterator

import pytest
from _pytest.nodeid import NodeId

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ.pop("AWS_PROFILE", None)
os.environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "mercato-tests")


@pytest.hookimpl(wrapper=True)
def pytest_collection_finish(session: pytest.Session) -> Iterator[None]:
    """Make ``xdist_group`` marks group again under ``--dist loadgroup``.

    pytest-xdist 3.8 groups a test by appending ``@group`` to ``item._nodeid`` on each worker; pytest
    9.2 keeps a node's id in ``item._id`` and no longer reads ``_nodeid``, so every mark was ignored:
    the CDK tests started a jsii runtime and synthesised on both workers, and a module's shared stack
    was started again wherever its tests landed. The worker sends its collected ids to xdist's
    scheduler from this hook: the grouped items carry ``@group`` while it does, and their own ids
    again after, so reports, ``-k`` and ``--lf`` see the real ones (the scheduler counts tests by
    index). ``tests/unit/test_test_groups.py`` checks a group runs on one worker.
    """
    renamed: list[tuple[pytest.Item, NodeId]] = []
    if getattr(session.config.option, "loadgroup", False):  # set on xdist's workers under loadgroup
        for item in session.items:
            marks = item.iter_markers("xdist_group")
            groups = {str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in marks}
            if groups:
                renamed.append((item, item._id))
                item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(sorted(groups))}")
    try:
        return (yield)
    finally:
        for item, own in renamed:
            item._id = own
