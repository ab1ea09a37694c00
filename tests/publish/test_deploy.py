"""`scrutiny publish DIR`: the folder is served by Datasette as it is (configuration-directory mode)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from site_builder import GLANMOR, WORKFORCE

from pipeline import cli, publish
from pipeline.publish import deploy
from pipeline.publish.site import slug

pytestmark = pytest.mark.anyio


def folder_app(out: Path):
    """What `datasette DIR` builds (datasette/cli.py: a single directory becomes config_dir)."""
    from datasette.app import Datasette

    return Datasette([], config_dir=out)


@pytest.fixture
def published(site_db, tmp_path):
    out = tmp_path / "site"
    summary = deploy.write_site(site_db, out)
    return out, summary


@pytest.fixture
def only_the_folders_plugins():
    """Unregister the installed package's entry points (and any earlier copies), so that only the plugins/
    copies in the folder serve: as on a machine with nothing but Datasette installed."""
    from datasette.plugins import pm

    copies = list(deploy.PLUGINS)
    saved = [(name, pm.get_plugin(name)) for name in deploy.ENTRY_POINTS if pm.get_plugin(name)]
    for name in [*deploy.ENTRY_POINTS, *copies]:
        if pm.get_plugin(name):
            pm.unregister(name=name)
    yield
    for name in copies:
        if pm.get_plugin(name):
            pm.unregister(name=name)
    for name, plugin in saved:
        pm.register(plugin, name)


def test_the_folder_has_every_piece(published, site_db):
    out, summary = published
    names = {p.name for p in out.iterdir()}
    assert {
        "scrutiny.db",
        "metadata.json",
        "settings.json",
        "inspect-data.json",
        "templates",
        "plugins",
        "requirements.txt",
        "README.md",
        deploy.MANIFEST,
    } <= names
    assert not [n for n in names if ".partial" in n]
    assert json.loads((out / "settings.json").read_text()) == publish.SETTINGS
    meta = json.loads((out / "metadata.json").read_text())
    assert meta == json.loads(json.dumps(publish.metadata("scrutiny")))
    inspect = json.loads((out / "inspect-data.json").read_text())
    assert inspect["scrutiny"]["file"] == "scrutiny.db"
    assert inspect["scrutiny"]["tables"]["statements"]["count"] == summary["tables"]["statements"] == 12
    assert {p.name for p in (out / "templates").iterdir()} >= {
        "scrutiny_concern.html",
        "scrutiny_council.html",
        "scrutiny_document.html",
        "index.html",
    }
    for name, module in deploy.PLUGINS.items():  # copied as they are, only the guard appended
        source = (out / "plugins" / name).read_text()
        if module.is_dir():  # the site's modules, bundled one after another without their imports of one another
            assert source.startswith(deploy.site_bundle()) and "from pipeline" not in source
            assert all(f"# ---- pipeline/publish/site/{m}.py" in source for m in deploy.SITE_MODULES)
            continue
        assert source.startswith(module.read_text()) and "from ." not in source
    assert (out / "requirements.txt").read_text().startswith("datasette==0.65.5")
    con = sqlite3.connect(out / "scrutiny.db")
    assert con.execute("pragma journal_mode").fetchone()[0] == "delete"
    assert con.execute("select count(*) from statements").fetchone()[0] == 12


async def test_datasette_serves_the_folder_as_it_is(published):
    out, _ = published
    ds = folder_app(out)
    assert ds.databases["scrutiny"].is_mutable is False  # immutable: inspect-data.json names the file
    settings = (await ds.client.get("/-/settings.json")).json()
    assert settings["sql_time_limit_ms"] == publish.SETTINGS["sql_time_limit_ms"]
    for path in (
        "/",
        "/-/councils",
        f"/-/council/{slug(GLANMOR)}",
        f"/-/concern/{WORKFORCE}",
        "/scrutiny/statements_labelled?_search=social",
        "/scrutiny/concern_feed.atom?council=Glanmor",
    ):
        response = await ds.client.get(path)
        assert response.status_code == 200, path
    body = (await ds.client.get("/scrutiny/statements_labelled.json?_size=0")).json()
    assert body["facet_results"]["labels"]["results"]


async def test_the_folders_own_plugins_and_templates_work_without_the_package(published, only_the_folders_plugins):
    out, _ = published
    ds = folder_app(out)
    hooks = {p["name"]: p["hooks"] for p in (await ds.client.get("/-/plugins.json")).json()}
    assert set(hooks["scrutiny_site.py"]) == {
        "register_routes",
        "menu_links",
        "extra_template_vars",
        "render_cell",
        "permission_allowed",
        "actor_from_request",
        "skip_csrf",
        "startup",
    }
    assert set(hooks["scrutiny_safety.py"]) == {"prepare_connection", "register_output_renderer", "render_cell"}
    concern = await ds.client.get(f"/-/concern/{WORKFORCE}")
    assert concern.status_code == 200 and 'ol class="timeline"' in concern.text
    council = await ds.client.get(f"/-/council/{slug(GLANMOR)}")
    assert '<svg class="scrutiny-chart"' in council.text
    feed = await ds.client.get("/scrutiny/concern_feed.atom?council=Glanmor")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    found = await ds.client.get("/scrutiny/search_statements?q=social")  # the search functions of the copy
    assert found.status_code == 200 and "<mark>" in found.text
    found = await ds.client.get("/-/search?q=social+OR+agency")  # the site's search, from the bundled copy
    assert found.status_code == 200 and 'ol class="hits"' in found.text and "<mark>" in found.text
    refused = await ds.client.get("/scrutiny.json", params={"sql": "select hex(fts3_tokenizer('simple'))"})
    assert refused.status_code in (400, 403) and "not authorized" in refused.text.lower()


async def test_the_copies_stay_quiet_when_the_package_is_installed(published):
    out, _ = published
    ds = folder_app(out)
    hooks = {p["name"]: p["hooks"] for p in (await ds.client.get("/-/plugins.json")).json()}
    assert hooks.get("scrutiny_site.py", []) == [] and hooks.get("scrutiny_safety.py", []) == []
    menu = (await ds.client.get("/scrutiny/statements")).text
    assert menu.count('href="/-/councils"') == 1  # one menu item, not one per copy


def test_datasette_command_line_serves_the_folder(published):
    from click.testing import CliRunner
    from datasette.cli import cli as datasette_cli

    out, _ = published
    result = CliRunner().invoke(datasette_cli, [str(out), "--get", f"/-/concern/{WORKFORCE}"])
    assert result.exit_code == 0, result.output[-500:]
    assert "Timeline" in result.output


def test_public_folder_refuses_arbitrary_sql(site_db, tmp_path):
    out = tmp_path / "public"
    deploy.write_site(site_db, out, public=True)
    assert json.loads((out / "metadata.json").read_text())["allow_sql"] is False


def test_publishing_again_replaces_the_database_in_one_step(site_db, tmp_path):
    out = tmp_path / "site"
    deploy.write_site(site_db, out)
    changed = tmp_path / "changed" / "scrutiny.db"
    changed.parent.mkdir()
    src = sqlite3.connect(site_db)
    dst = sqlite3.connect(changed)
    src.backup(dst)
    dst.execute("delete from concern_mentions where concern_id = 'afonwy-waiting'")
    dst.execute("delete from concerns where concern_id = 'afonwy-waiting'")
    dst.commit()
    dst.close()
    src.close()
    deploy.write_site(changed, out)
    con = sqlite3.connect(out / "scrutiny.db")
    assert con.execute("select count(*) from concerns").fetchone()[0] == 2
    assert json.loads((out / "inspect-data.json").read_text())["scrutiny"]["tables"]["concerns"]["count"] == 2


def test_bad_input_is_refused_and_nothing_is_lost(site_db, tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(deploy.PublishError, match="not empty and was not written by `scrutiny publish`"):
        deploy.write_site(site_db, foreign)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"] and (foreign / "notes.txt").read_text() == "keep me"
    with pytest.raises(deploy.PublishError, match="no database at"):
        deploy.write_site(tmp_path / "missing.db", tmp_path / "out1")
    not_ours = tmp_path / "other.db"
    sqlite3.connect(not_ours).execute("create table t (x)").connection.close()
    with pytest.raises(deploy.PublishError, match="not a Scrutiny database"):
        deploy.write_site(not_ours, tmp_path / "out2")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(deploy.PublishError, match="not a readable SQLite database"):
        deploy.write_site(garbage, tmp_path / "out3")
    assert not (tmp_path / "out1").exists() and not (tmp_path / "out2").exists() and not (tmp_path / "out3").exists()


def test_scrutiny_publish_command(site_db, tmp_path, capsys):
    out = tmp_path / "site"
    assert cli.main(["publish", str(out), "--db", str(site_db), "--public"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["database"] == "scrutiny.db" and summary["public"] is True
    assert (out / "scrutiny.db").is_file()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert cli.main(["publish", str(tmp_path / "full"), "--db", str(site_db)]) == 2
    assert "not empty" in capsys.readouterr().err


async def test_reviewers_review_in_place_on_the_folder(
    published, only_the_folders_plugins, site_db, tmp_path, monkeypatch, capsys
):
    """`datasette DIR` with the reviewers' token set: decisions go to a writable reviews database in the folder
    (the served one stays immutable), anonymous visitors can neither write nor read them, and the pipeline reads
    them with `scrutiny review-links --reviews`."""
    out, _ = published
    monkeypatch.setenv("SCRUTINY_REVIEW_TOKEN", "folder-secret")
    monkeypatch.delenv("SCRUTINY_REVIEWS_DB", raising=False)
    ds = folder_app(out)
    await ds.invoke_startup()
    path = out / "reviews" / "scrutiny.reviews.db"
    assert path.is_file() and ds.databases["reviews"].is_mutable and not ds.databases["scrutiny"].is_mutable
    con = sqlite3.connect(out / "scrutiny.db")
    sid = con.execute("select statement_id from concern_mentions where concern_id = ?", (WORKFORCE,)).fetchone()[0]
    con.close()
    form = {"action": "reject", "statement_id": sid, "concern_id": WORKFORCE, "note": "only a mention"}
    guess = await ds.client.post("/-/review/link", data=form, headers={"authorization": "Bearer guess"})
    assert guess.status_code == 403 and "Only signed-in reviewers" in guess.text
    assert (await ds.client.get("/reviews/link_decisions")).status_code == 403  # not even to read
    login = await ds.client.get("/-/review/login")
    assert login.status_code == 200 and "not switched on" not in login.text
    done = await ds.client.post(
        "/-/review/link",
        data=form,
        headers={"authorization": "Bearer folder-secret", "accept": "application/json"},
    )
    assert done.status_code == 200 and done.json()["ok"], done.text
    for page in (f"/-/concern/{WORKFORCE}", f"/-/statement/{sid}"):  # nobody but reviewers sees the decisions
        shown = await ds.client.get(page)
        assert shown.status_code == 200 and "only a mention" not in shown.text
    kept = sqlite3.connect(path)
    assert kept.execute("select action, statement_id, concern_id from link_decisions").fetchall() == [
        ("reject", sid, WORKFORCE)
    ]
    kept.close()
    # the pipeline's own database (a copy of the one published) reads the folder's decisions
    work = tmp_path / "work" / "scrutiny.db"
    work.parent.mkdir()
    src, dst = sqlite3.connect(site_db), sqlite3.connect(work)
    src.backup(dst)
    src.close(), dst.close()
    capsys.readouterr()
    assert cli.main(["review-links", "--db", str(work), "--reviews", str(path)]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"site_decision": 1, "status": "recorded", "error": None} in lines, lines
    left = sqlite3.connect(work)
    assert left.execute(
        "select count(*) from concern_mentions where concern_id = ? and statement_id = ?", (WORKFORCE, sid)
    ).fetchone() == (0,)
    left.close()


async def test_the_folder_opens_no_reviews_database_without_a_token(published, only_the_folders_plugins, monkeypatch):
    out, _ = published
    monkeypatch.delenv("SCRUTINY_REVIEW_TOKEN", raising=False)
    ds = folder_app(out)
    await ds.invoke_startup()
    assert "reviews" not in ds.databases and not (out / "reviews").exists()
    refused = await ds.client.post(
        "/-/review/link", data={"action": "reject"}, headers={"authorization": "Bearer anything"}
    )
    assert refused.status_code == 403 and "not switched on" in refused.text


@pytest.mark.parametrize(
    ("token", "where", "refused"),
    [
        ("folder-secret", "blocked/reviews.db", "SCRUTINY_REVIEWS_DB to a writable path"),
        ("folder-secret", "scrutiny.reviews.db", "would also be served to everyone"),  # read in the folder
        ("folder-secret", "scrutiny.db", "would also be served to everyone"),
        ("short", None, "at least 12 characters"),
    ],
)
async def test_a_reviews_set_up_that_cannot_be_kept_safe_stops_the_start_with_the_reason(
    published, only_the_folders_plugins, monkeypatch, tmp_path, token, where, refused
):
    out, _ = published
    (tmp_path / "blocked").write_text("a file where a folder should be")
    monkeypatch.setenv("SCRUTINY_REVIEW_TOKEN", token)
    if where is None:
        monkeypatch.delenv("SCRUTINY_REVIEWS_DB", raising=False)
    else:
        monkeypatch.setenv("SCRUTINY_REVIEWS_DB", str(tmp_path / where) if where.startswith("blocked") else where)
    ds = folder_app(out)
    with pytest.raises(RuntimeError, match=refused):
        await ds.invoke_startup()
    assert "reviews" not in ds.databases and not (out / "scrutiny.reviews.db").exists()
