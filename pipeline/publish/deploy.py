"""`scrutiny publish DIR`: a folder that Datasette serves as it is, anywhere Datasette is installed.

The folder is Datasette's configuration-directory layout (`datasette DIR`): a copy of the database,
`metadata.json`, `settings.json`, `inspect-data.json` (what `datasette inspect` computes, so start-up
does not count rows), `templates/` and `plugins/`. The plugins are copies of our plugin modules (the site's
modules bundled into one file),
which import only Datasette and the standard library, so the deployment needs nothing but the
`requirements.txt` written beside them. The same pieces are what `datasette package` and
`datasette publish` take (`--metadata`, `--template-dir`, `--plugins-dir`, `--inspect-file`).

The database is copied with SQLite's backup API (a consistent snapshot even while an ingest writes)
to a temporary name in DIR, checked, and only then renamed into place: a reader of DIR never sees
half a database, and a failed copy leaves the previous one as it was.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.errors import PipelineError
from pipeline.publish import SETTINGS, metadata

PACKAGE = Path(__file__).resolve().parent
TEMPLATES = PACKAGE / "site" / "templates"
# file in DIR/plugins -> our module it is copied from
PLUGINS = {
    "scrutiny_safety.py": PACKAGE / "plugin.py",
    "scrutiny_site.py": PACKAGE / "site",  # the site's modules, bundled into one file (site_bundle)
    "scrutiny_search.py": PACKAGE / "search.py",
}  # the search SQL functions the safety plugin registers
SITE_MODULES = ("common", "search_page", "pages", "overview", "review", "__init__")  # each after what it uses
SITE_IMPORT = re.compile(r"^from pipeline\.publish\.site(\.\w+)? import (\([^)]*\)|[^\n]*)\n", re.MULTILINE)
ENTRY_POINTS = ("scrutiny", "scrutiny_site")  # names in pyproject's [project.entry-points.datasette]
MANIFEST = "scrutiny-publish.json"

# Appended to each copied plugin. Where the scrutiny package is installed too, its entry points have already
# registered the same hooks; the copy then offers none, so no route, menu item or feed is registered twice.
PLUGIN_GUARD = """

# ---- added by `scrutiny publish`
def _scrutiny_package_installed() -> bool:
    from datasette.plugins import pm

    return any(pm.has_plugin(name) for name in {entry_points!r})


if _scrutiny_package_installed():
    for _name in [n for n, v in list(globals().items()) if hasattr(v, "datasette_impl")]:
        del globals()[_name]
"""


class PublishError(PipelineError):
    """The database or the folder cannot be used; nothing was changed."""

    stage = "publish"


def write_site(db_path: Path | str, out_dir: Path | str, *, public: bool = False) -> dict[str, Any]:
    """Write the deployable folder for `db_path` into `out_dir`; returns what was written.

    `out_dir` must be new, empty, or a folder this function wrote before (it holds `scrutiny-publish.json`):
    anything else is refused before a byte is written."""
    db_path, out_dir = Path(db_path), Path(out_dir)
    _check_database(db_path)
    _check_folder(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = db_path.stem
    target = out_dir / f"{name}.db"
    _copy_database(db_path, target)
    inspect = _inspect(target)
    _write_json(out_dir / "inspect-data.json", inspect)
    _write_json(out_dir / "metadata.json", metadata(name, public=public))
    _write_json(out_dir / "settings.json", SETTINGS)
    templates = _copy_templates(out_dir / "templates")
    plugins = _write_plugins(out_dir / "plugins")
    _write_text(out_dir / "requirements.txt", f"datasette=={_datasette_version()}\n")
    _write_text(out_dir / "README.md", _readme(name, public))
    summary = {
        "dir": str(out_dir),
        "database": target.name,
        "size": target.stat().st_size,
        "public": public,
        "tables": {
            t: v["count"]
            for t, v in inspect[name]["tables"].items()
            if not t.endswith(("_fts", "_data", "_idx", "_docsize", "_config", "_content"))
        },
        "templates": templates,
        "plugins": plugins,
        "software_version": __version__,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": str(db_path),
    }
    _write_json(out_dir / MANIFEST, summary)
    return summary


def _check_database(db_path: Path) -> None:
    if not db_path.is_file():
        raise PublishError(f"no database at {db_path}: run `scrutiny ingest` first")
    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        finally:
            con.close()
    except sqlite3.DatabaseError as exc:
        raise PublishError(f"{db_path} is not a readable SQLite database: {exc}") from None
    missing = {"documents", "statements", "concerns", "statements_labelled"} - names
    if missing:
        raise PublishError(
            f"{db_path} is not a Scrutiny database (no {', '.join(sorted(missing))}); run `scrutiny ingest` to make one"
        )


def _check_folder(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise PublishError(f"{out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise PublishError(
            f"{out_dir} is not empty and was not written by `scrutiny publish`: "
            "choose a new or empty folder (nothing was written)"
        )


def _copy_database(source: Path, target: Path) -> None:
    """Snapshot `source` into a temporary file beside `target`, bring its views up to date, check it,
    then rename it over `target` in one step."""
    from pipeline import store

    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")  # not *.db: Datasette must not serve it
    partial.unlink(missing_ok=True)
    try:
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode = DELETE")  # served immutable: no -wal file may be needed
        finally:
            dst.close()
            src.close()
        db = store.open_db(partial)  # the copy gets the current views (e.g. the facet-safe statements_labelled)
        db.execute("VACUUM")
        db.close()
        if not store.integrity_ok(partial):
            raise PublishError(f"the copy of {source} failed SQLite's integrity check; {target} was left as it was")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
        for suffix in ("-journal", "-wal", "-shm"):
            Path(f"{partial}{suffix}").unlink(missing_ok=True)


def _inspect(db_file: Path) -> dict[str, Any]:
    """What `datasette inspect` writes, with the file named relative to the folder (Datasette matches it by
    name in configuration-directory mode, and the folder can then be moved)."""
    import asyncio

    from datasette.cli import inspect_

    data = asyncio.run(inspect_([str(db_file)], sqlite_extensions=None))
    for entry in data.values():
        entry["file"] = Path(entry["file"]).name
    return data


def _copy_templates(folder: Path) -> list[str]:
    folder.mkdir(exist_ok=True)
    names = sorted(p.name for p in TEMPLATES.glob("*.html"))
    for name in names:
        _write_text(folder / name, (TEMPLATES / name).read_text(encoding="utf-8"))
    return names


def _write_plugins(folder: Path) -> list[str]:
    folder.mkdir(exist_ok=True)
    guard = PLUGIN_GUARD.format(entry_points=ENTRY_POINTS)
    for name, module in PLUGINS.items():
        # copied as it is (the safety plugin finds scrutiny_search.py beside it); only the guard is appended
        source = site_bundle() if module.is_dir() else module.read_text(encoding="utf-8")
        _write_text(folder / name, source + guard)
    return sorted(PLUGINS)


def site_bundle() -> str:
    """The site's modules as one plugin file: Datasette loads each file of plugins/ on its own, so the modules
    follow one another, each after those it imports from, with their imports of one another taken out."""
    parts = ["from __future__ import annotations\n"]
    for name in SITE_MODULES:
        source = (PACKAGE / "site" / f"{name}.py").read_text(encoding="utf-8")
        source = SITE_IMPORT.sub("", source.replace("from __future__ import annotations\n", ""))
        parts.append(f"\n# ---- pipeline/publish/site/{name}.py\n{source}")
    return "".join(parts)


def _datasette_version() -> str:
    from importlib.metadata import version

    return version("datasette")


def _readme(name: str, public: bool) -> str:
    settings = " ".join(f"--setting {k} {json.dumps(v) if isinstance(v, bool) else v}" for k, v in SETTINGS.items())
    return (
        f"# Scrutiny site{' (public: no arbitrary SQL)' if public else ''}\n\n"
        f"Written by `scrutiny publish` (Scrutiny {__version__}). Serve it with Datasette alone:\n\n"
        "    pip install -r requirements.txt\n"
        "    datasette .          # this folder, in configuration-directory mode\n\n"
        "Or build a container image from the same pieces (it computes inspect-data.json itself):\n\n"
        f"    datasette package {name}.db --metadata metadata.json --template-dir templates --plugins-dir plugins \\\n"
        f'        --extra-options "{settings}"\n\n'
        "Reviewing in place (confirm, reject, move or split a link; relabel a statement) works when this folder\n"
        "is served with `datasette .` (not from a package) and the reviewers' token, at least 12 characters, is\n"
        "set. Decisions then go to a writable reviews database that only signed-in reviewers can read, by\n"
        f"default `reviews/{name}.reviews.db` here, or the path in SCRUTINY_REVIEWS_DB (a relative path is read\n"
        "in this folder; never a .db file at the folder's top level, which Datasette would serve to everyone).\n"
        "Keep that file where it survives a redeployment:\n\n"
        "    SCRUTINY_REVIEW_TOKEN=... datasette .\n\n"
        "Read the decisions into the pipeline's database with `scrutiny review-links --reviews PATH` and\n"
        "`scrutiny label --reviews PATH` (or copy the file beside the database before the next ingest).\n\n"
        "Public-sector documents quoted here are under the Open Government Licence v3.0.\n"
    )


def _write_json(path: Path, value: Any) -> None:
    _write_text(path, json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _write_text(path: Path, text: str) -> None:
    """Write through a temporary file and a rename, so a reader never sees a half-written file."""
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
