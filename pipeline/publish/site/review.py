"""Review in place (decisions to the reviews database, only for signed-in reviewers) and the archive of
source files (content-addressed, read-only)."""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
import re
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from datasette.utils.asgi import Forbidden, NotFound, Response

from pipeline.publish.site.common import (
    REVIEW_TOKEN_ENV,
    REVIEW_TOKEN_MIN,
    REVIEWS_DATABASE,
    REVIEWS_PATH_ENV,
    allowed,
    area_names,
    fetch_rows,
    is_reviewer,
    private,
    render,
    review_token,
    reviews_database,
    scrutiny_database,
)

LINK_ACTIONS = ("confirm", "reject", "move", "split")
REVIEWS_SCHEMA = """
CREATE TABLE IF NOT EXISTS link_decisions (
  id INTEGER PRIMARY KEY,
  action TEXT NOT NULL,          -- confirm, reject, merge or split, as in a review CSV (a move is a confirm)
  statement_id TEXT,
  concern_id TEXT,
  other TEXT,
  note TEXT,
  reviewer TEXT NOT NULL,
  at TEXT NOT NULL,
  imported_at TEXT,              -- set by `scrutiny review-links` or an ingest when read
  status TEXT,                   -- recorded, already recorded or failed
  error TEXT
);
CREATE TABLE IF NOT EXISTS label_decisions (
  id INTEGER PRIMARY KEY,
  statement_id TEXT NOT NULL,
  scheme TEXT NOT NULL DEFAULT 'areas',
  labels TEXT NOT NULL,          -- codes separated by ';' (empty: no area)
  note TEXT,
  reviewer TEXT NOT NULL,
  at TEXT NOT NULL,
  imported_at TEXT,
  status TEXT,
  error TEXT
);
"""


# ---------------------------------------------------------------- the archive


def sha256_file(path: Path) -> str:
    """The published site runs without the pipeline package, so it keeps its own copy of pipeline.hashing's."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_VERIFIED: dict[tuple[str, int, int], str] = {}


def _verified(path: Path) -> str | None:
    """sha256 of the file, cached by (path, size, mtime): a file is hashed once, not at every download."""
    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _VERIFIED:
        _VERIFIED[key] = sha256_file(path)
    return _VERIFIED[key]


async def archived_file(datasette, db, sha: str) -> Path | None:
    """The bytes whose sha256 is `sha`: from the fetch archive (objects/ab/<sha>.*), else the file a document
    with that id was read from, if it still holds exactly those bytes. Nothing else is ever served."""
    archive = private(datasette).get("archive")
    if archive:
        folder = Path(archive) / "objects" / sha[:2]
        for candidate in sorted(folder.glob(sha + ".*")) if folder.is_dir() else []:
            if candidate.is_file() and _verified(candidate) == sha:
                return candidate
    for r in await fetch_rows(
        db,
        "SELECT source_path FROM documents WHERE (id = :sha OR part_of = :sha) AND source_path IS NOT NULL LIMIT 5",
        {"sha": sha},
    ):
        path = Path(r["source_path"])
        if path.is_file() and _verified(path) == sha:
            return path
    return None


async def archive_download(datasette, request):
    """A source document's bytes, addressed by their sha256: read-only, the same bytes for ever (so cached for
    a year), never run as a page of this site (a sandboxing Content-Security-Policy; only PDFs open inline)."""
    db = await scrutiny_database(datasette)
    await allowed(datasette, request, db, ("documents",))
    if request.method not in ("GET", "HEAD"):
        return Response.text("Archived files are read-only.", status=405, headers={"allow": "GET, HEAD"})
    sha = request.url_vars["sha"]
    path = await archived_file(datasette, db, sha)
    if path is None:
        return await render(
            datasette,
            request,
            "scrutiny_not_found.html",
            {"what": "archived file", "wanted": sha, "database": db.name},
            status=404,
        )
    if request.method == "HEAD":
        body = b""
    else:
        body = path.read_bytes()
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", request.url_vars.get("name") or path.name)
    inline = kind == "application/pdf"
    headers = {
        "content-disposition": f'{"inline" if inline else "attachment"}; filename="{name}"',
        "cache-control": "public, max-age=31536000, immutable",
        "etag": f'"{sha}"',
        "x-content-type-options": "nosniff",
        "content-length": str(path.stat().st_size),
    }
    if not inline:
        headers["content-security-policy"] = "sandbox; default-src 'none'"
    return Response(body, status=200, content_type=kind, headers=headers)


# ---------------------------------------------------------------- review in place


def actor_for_token(datasette, token: str | None, name: str | None = None) -> dict[str, Any] | None:
    expected = review_token(datasette)
    if not expected or not token or not hmac.compare_digest(token.encode(), expected.encode()):
        return None
    name = re.sub(r"\s+", " ", (name or "").strip())[:80] or "reviewer"
    return {"id": name, "scrutiny_reviewer": True}


async def login_page(datasette, request):
    db = await scrutiny_database(datasette)
    next_path = request.args.get("next") or "/"
    error = None
    if request.method == "POST":
        form = await request.post_vars()
        next_path = form.get("next") or "/"
        actor = actor_for_token(datasette, form.get("token"), form.get("name"))
        if actor:
            response = Response.redirect(_safe_next(next_path))
            response.set_cookie("ds_actor", datasette.sign({"a": actor}, "actor"), httponly=True, samesite="lax")
            datasette.add_message(request, f"Signed in as reviewer {actor['id']}.", datasette.INFO)
            return response
        error = (
            "Reviewing is not switched on for this site (no token was set at start-up)."
            if not review_token(datasette)
            else "That token is not right."
        )
    return await render(
        datasette,
        request,
        "scrutiny_login.html",
        {
            "error": error,
            "next": _safe_next(next_path),
            "database": db.name,
            "token_set": bool(review_token(datasette)),
        },
        status=403 if error else 200,
    )


def _safe_next(path: str | None) -> str:
    """Only a path on this site: never a redirect elsewhere."""
    return path if isinstance(path, str) and path.startswith("/") and not path.startswith("//") else "/"


async def _review_guard(datasette, request) -> tuple[Any, dict[str, str]]:
    if request.method != "POST":
        raise NotFound("Decisions are recorded with a form (POST).")
    reviews = reviews_database(datasette)
    if reviews is None:
        raise Forbidden("Reviewing is not switched on for this site: it was started without a reviews database.")
    if not await is_reviewer(datasette, request.actor):
        raise Forbidden(
            "Only signed-in reviewers can record decisions. Sign in at /-/review/login with the reviewers' token."
        )
    form = await request.post_vars()
    return reviews, {k: (v or "").strip() for k, v in form.items()}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def review_link(datasette, request):
    """Record a reviewer's decision on a statement's link to a concern: confirm, reject, move or split."""
    reviews, form = await _review_guard(datasette, request)
    db = await scrutiny_database(datasette)
    action, sid, cid = form.get("action", ""), form.get("statement_id", ""), form.get("concern_id", "")
    other = form.get("other") or None
    if action not in LINK_ACTIONS or not sid:
        raise Forbidden(f"Unknown decision {action!r}: use one of {', '.join(LINK_ACTIONS)}, with a statement.")
    if not await fetch_rows(db, "SELECT 1 FROM statements WHERE id = :id", {"id": sid}):
        raise NotFound(f"No statement {sid!r} here.")
    if action == "move":
        target = form.get("target") or ""
        if not target or not await fetch_rows(db, "SELECT 1 FROM concerns WHERE concern_id = :id", {"id": target}):
            raise NotFound("Choose the concern to move the statement to.")
        rows = [("confirm", sid, target, None)]
        said = f"move statement {sid} to concern {target}"
    elif action == "split":
        rows = [("split", sid, cid or None, other)]
        said = f"split statement {sid} out of concern {cid or 'its concern'} into a new concern"
    else:
        if not cid:
            raise Forbidden(f"{action} needs the concern.")
        rows = [(action, sid, cid, None)]
        said = f"{action} statement {sid} in concern {cid}"
    note = form.get("note") or None
    reviewer, at = str(request.actor.get("id")), _now()
    for a, s, c, o in rows:
        await reviews.execute_write(
            "INSERT INTO link_decisions (action, statement_id, concern_id, other, note, reviewer, at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [a, s, c, o, note, reviewer, at],
            block=True,
        )
    return _recorded(
        datasette, request, form, f"Recorded: {said}. It applies at the next `scrutiny review-links` or ingest."
    )


async def review_label(datasette, request):
    """Record a reviewer's areas for a statement (none ticked: about no area)."""
    reviews, form = await _review_guard(datasette, request)
    db = await scrutiny_database(datasette)
    sid = form.get("statement_id", "")
    if not await fetch_rows(db, "SELECT 1 FROM statements WHERE id = :id", {"id": sid}):
        raise NotFound(f"No statement {sid!r} here.")
    names = area_names(datasette)
    codes = [c for c in names if form.get(f"area_{c}")]
    await reviews.execute_write(
        "INSERT INTO label_decisions (statement_id, scheme, labels, note, reviewer, at) VALUES (?, 'areas', ?, ?, ?, ?)",
        [sid, ";".join(codes), form.get("note") or None, str(request.actor.get("id")), _now()],
        block=True,
    )
    return _recorded(
        datasette,
        request,
        form,
        f"Recorded: statement {sid} is about "
        f"{', '.join(codes) if codes else 'no area'}. It applies at the next "
        "`scrutiny label` or ingest.",
    )


def _recorded(datasette, request, form: dict[str, str], message: str) -> Response:
    if "application/json" in (request.headers.get("accept") or ""):
        return Response.json({"ok": True, "message": message})
    datasette.add_message(request, message, datasette.INFO)
    return Response.redirect(_safe_next(form.get("next")))


def open_folder_reviews(datasette) -> None:
    """Reviewing on a folder written by `scrutiny publish` and served by `datasette DIR`.

    `scrutiny serve` attaches the reviews database itself. A folder has no such start-up step, so when the
    reviewers' token is set (SCRUTINY_REVIEW_TOKEN) this opens a writable reviews database at
    $SCRUTINY_REVIEWS_DB, or by default `DIR/reviews/<database>.reviews.db` (a subfolder, so that Datasette does
    not serve it as one of the folder's immutable databases). Without a token nothing is opened and nobody can
    write. A path that cannot be written stops the start-up with the reason, rather than a site that takes
    decisions it cannot keep."""
    import os

    from datasette.database import Database

    token = review_token(datasette)
    if reviews_database(datasette) is not None or not token or not datasette.config_dir:
        return
    if len(token) < REVIEW_TOKEN_MIN:
        raise RuntimeError(f"the reviewers' token ({REVIEW_TOKEN_ENV}) must be at least {REVIEW_TOKEN_MIN} characters")
    folder = Path(datasette.config_dir).resolve()
    served = {n: Path(d.path).resolve() for n, d in datasette.databases.items() if d.path and n != "_internal"}
    name = next(iter(served), "scrutiny")
    path = Path(os.environ.get(REVIEWS_PATH_ENV) or Path("reviews") / f"{name}.reviews.db")
    path = (path if path.is_absolute() else folder / path).resolve()  # a relative path is read in the folder
    if path in served.values() or (path.parent == folder and path.suffix in (".db", ".sqlite", ".sqlite3")):
        raise RuntimeError(
            f"the reviews database {path} would also be served to everyone as one of the folder's databases: "
            f"set {REVIEWS_PATH_ENV} to a path in a subfolder (the default is reviews/) or outside the folder"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ensure_reviews_schema(path)
    except (OSError, sqlite3.Error) as exc:
        raise RuntimeError(
            f"reviewing is switched on ({REVIEW_TOKEN_ENV} is set) but the reviews database {path} cannot be "
            f"written: {exc}; set {REVIEWS_PATH_ENV} to a writable path"
        ) from None
    datasette.add_database(Database(datasette, path=str(path), is_mutable=True), name=REVIEWS_DATABASE)


def ensure_reviews_schema(path: Path | str) -> None:
    """Create the reviews database's tables (the server writes them; the pipeline reads them)."""
    con = sqlite3.connect(str(path))
    try:
        con.executescript(REVIEWS_SCHEMA)
        con.execute("PRAGMA journal_mode = WAL")
    finally:
        con.close()
