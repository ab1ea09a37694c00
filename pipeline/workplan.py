"""What an ingest run over some paths would do, decided cheaply before anything is parsed.

Used by the CLI to answer a no-change run at once (without starting Prefect) and
by the flow to pick its work.
"""

from __future__ import annotations

from typing import Any

from . import store
from .config import Settings
from .sources import Plan, discover, plan
from .versions import stage_versions


def plan_ingest(paths: list[str], settings: Settings, meta: dict[str, Any] | None = None) -> Plan:
    db = store.open_db(settings.db_path)
    try:
        return plan(discover(paths, meta), store.ledger(db), stage_versions())
    finally:
        db.close()
