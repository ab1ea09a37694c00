"""What every command shares: JSON Lines out, messages to standard error through logging, --meta."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any, TextIO

log = logging.getLogger("pipeline.cli")

_HANDLER_NAME = "scrutiny-cli"


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a message comes (tests and embedding programs replace it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> TextIO:
        return sys.stderr


def _handler_installed() -> logging.Logger:
    root = logging.getLogger("pipeline")
    if not any(h.get_name() == _HANDLER_NAME for h in root.handlers):
        handler = _Stderr()
        handler.set_name(_HANDLER_NAME)
        handler.setFormatter(logging.Formatter("scrutiny: %(message)s"))
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
        root.propagate = False
    return root


def setup_logging(verbosity: int = 0) -> None:
    """Messages of the pipeline's loggers go to standard error as `scrutiny: message`; -v adds progress details
    (INFO, then DEBUG), -q keeps only errors. Safe to call again (one handler, its level updated)."""
    root = _handler_installed()
    levels = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}
    root.setLevel(levels.get(max(-1, min(verbosity, 2)), logging.DEBUG))
    root.propagate = False


def emit(row: dict[str, Any], out: TextIO | None = None) -> None:
    """One JSON line on standard output (or `out`)."""
    (out or sys.stdout).write(json.dumps(row, ensure_ascii=False) + "\n")


def warn(message: str) -> None:
    """A warning or error for the person at the terminal (standard error, through logging)."""
    _handler_installed()  # a command function called without main() (tests, other programs) still reports
    log.warning(message)


def say(message: str) -> None:
    """Progress a person may want to see (standard error, shown unless -q)."""
    _handler_installed()
    log.warning(message)


def meta_arg(arg: str | None) -> dict[str, Any]:
    """The value of --meta: a JSON object of known metadata."""
    if not arg:
        return {}
    try:
        value = json.loads(arg)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"scrutiny: --meta is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise SystemExit("scrutiny: --meta must be a JSON object")
    return value
