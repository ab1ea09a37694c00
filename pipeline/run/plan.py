"""What an ingest run over some paths would do, decided cheaply before anything is parsed.

Used by the CLI to answer a no-change run at once (without starting Prefect) and
by the flow to pick its work.
"""

from __future__ import annotations

from typing import Any

from pipeline import store
from pipeline.config import Settings
from pipeline.records import Source
from pipeline.run.inputs import Plan, discover, plan
from pipeline.versions import stage_versions


def plan_ingest(
    paths: list[str], settings: Settings, meta: dict[str, Any] | None = None, extra: list[Source] | None = None
) -> Plan:
    """Plan a run over `paths` (files, folders, manifests) plus `extra` sources (e.g. just fetched)."""
    with store.connect(settings.db_path) as db:
        return plan(
            discover(paths, meta) + list(extra or []),
            store.ledger(db),
            stage_versions(settings.models_dir, settings.classifier),
        )
