"""The server extension's tests use the server fixtures of tests/jupyter_server_fixtures.py."""

from jupyter_server_fixtures import *  # noqa: F403 - the fixtures
