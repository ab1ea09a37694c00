"""Shared test fixtures: a socket guard, one Prefect harness, and document builders."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

# Prefect is configured before it is first imported: telemetry off, state in a temp folder.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

_LOCAL = {"127.0.0.1", "::1", "localhost", "0.0.0.0", ""}
_real_connect = socket.socket.connect
_real_getaddrinfo = socket.getaddrinfo


def _host_of(address) -> str:
    if isinstance(address, tuple) and address:
        return str(address[0])
    return ""  # unix sockets


def _guarded_connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and _host_of(address) not in _LOCAL:
        raise OSError(f"tests must not reach the network (tried {address!r})")
    return _real_connect(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host not in _LOCAL and host is not None and not str(host).startswith("127."):
        raise OSError(f"tests must not reach the network (tried to resolve {host!r})")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """One temporary Prefect server for every test that runs a flow (start-up costs seconds)."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


@pytest.fixture
def settings(tmp_path):
    from pipeline.config import Settings

    return Settings(db_path=tmp_path / "scrutiny.db", pdf_timeout_s=60)


@pytest.fixture
def shared_samples() -> Path:
    samples = SHARED / "corpus-samples"
    if not samples.is_dir():
        pytest.skip("../shared/corpus-samples is not beside the repository")
    return samples


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture(scope="session")
def site_db(tmp_path_factory) -> Path:
    """A small ingested site (tests/site_builder.py) shared by the publishing tests; never written to by them."""
    from site_builder import build_site_db

    return build_site_db(tmp_path_factory.mktemp("site"))
