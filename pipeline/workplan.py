"""What an ingest run over some paths would do, decided cheaply before anything is parsed.

Used by the CLI to answer a no-change run at once (without starting Prefect) and
by the flow to pick its work.
"""

from __future__ import annotations

from typing import Any

from . import store
from .config import Settings
from .records import Source
from .sources import Plan, discover, plan
from .versions import stage_versions


def plan_ingest(paths: list[str], settings: Settings, meta: dict[str, Any] | None = None,
                extra: list[Source] | None = None) -> Plan:
    """Plan a run over `paths` (files, folders, manifests) plus `extra` sources (e.g. just fetched)."""
    db = store.open_db(settings.db_path)
    try:
        return plan(discover(paths, meta) + list(extra or []), store.ledger(db), stage_versions(settings.models_dir))
    finally:
        db.close()
