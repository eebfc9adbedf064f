"""The documented path of Mercato's pytest plugin (``pytest_plugins = ["mercato.local.testing"]``).

The plugin lives in :mod:`mercato.testing.pytest_plugin` with the other test helpers; this module
keeps the path games already name working by handing pytest the same hook and fixtures."""

from mercato.testing.pytest_plugin import mercato, mercato_engine, pytest_addoption

__all__ = ["mercato", "mercato_engine", "pytest_addoption"]
