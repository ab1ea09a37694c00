"""The fetch stage against a local HTTP server that misbehaves on purpose.

The server (tools/drills/badserver.py, which the fetch drill uses too)
listens on 127.0.0.1 (an ephemeral port) and serves the fixture pages in
tests/fixtures/fetch, plus routes that refuse, reset, stall, lie about
their length, answer 500/429/404/304 and sit behind robots.txt. Timeouts and
backoff are shrunk through FetchSettings, and retry waits go through a
recording `sleep`, so the whole module runs in a few seconds.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT

from pipeline.config import Settings
from pipeline.errors import SourceError
from pipeline.fetch import (
    Archive,
    FetchSettings,
    PoliteClient,
    PreviousFetch,
    WatchedSource,
    ciw_reports,
    fetch,
    fetch_sources,
    load_watchlist,
    moderngov,
    rss,
)
from pipeline.fetch.adapters import parse_date
from pipeline.fetch.client import check_url, retry_after_seconds
from pipeline.fetch.robots import parse_robots
from pipeline.lexicon.councils import load_gazetteer
from pipeline.run.childproc import free_port
from tools.drills import badserver as bad
from tools.drills.badserver import Handler, MisbehavingServer, Route

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fetch"
PDF = (FIXTURES / "report.pdf").read_bytes()
CAP = 64 * 1024
STALL_S = 1.0
ROBOTS = "User-agent: *\nDisallow: /private/\nAllow: /private/open*.pdf$\n"


# -- the misbehaving server (tools/drills/badserver.py, shared with the fetch drill) ----------


def document(h: Handler, n: int) -> None:
    """Any document path: a small PDF of its own, so each address has distinct bytes."""
    h.send_body(200, PDF + f"% {h.path}\n".encode(), "application/pdf", conditional=True)


def html_article(h: Handler, n: int) -> None:
    h.send_body(200, f"<html><body><main><h1>{h.path}</h1></main></body></html>".encode(), "text/html")


def modified_since(h: Handler, n: int) -> None:
    if h.headers.get("If-Modified-Since") == "Wed, 21 Oct 2020 07:28:00 GMT":
        return h.send_body(304, b"", None)
    h.send_body(200, PDF + b"% lm\n", "application/pdf", headers={"Last-Modified": "Wed, 21 Oct 2020 07:28:00 GMT"})


def changing(h: Handler, n: int) -> None:
    h.send_body(200, PDF + f"% version {n}\n".encode(), "application/pdf")


def fixture_page(name: str, content_type: str = "text/html; charset=utf-8") -> Route:
    return bad.ok((FIXTURES / name).read_bytes(), content_type, conditional=True)


ROUTES: dict[str, Route] = {
    "/doc.pdf": bad.ok(
        PDF, "application/pdf", conditional=True, headers={"Last-Modified": "Wed, 21 Oct 2020 07:28:00 GMT"}
    ),
    "/lm.pdf": modified_since,
    "/changing.pdf": changing,
    "/plain.pdf": bad.ok(PDF + b"% plain\n", "application/pdf"),
    "/plain-copy.pdf": bad.ok(PDF + b"% plain\n", "application/pdf"),
    "/flaky": bad.first(bad.status(500, b"oops"), document),
    "/busy": bad.first(bad.status(429, b"slow down", {"Retry-After": "2"}), document),
    "/down": bad.status(503, b"down"),
    "/missing": bad.status(404, b"not here"),
    "/reset-once": bad.first(bad.reset_mid_body(PDF, "application/pdf"), document),
    "/reset-always": bad.reset_mid_body(PDF, "application/pdf"),
    "/short-once": bad.first(bad.short_body(PDF, "application/pdf", missing=5000), document),
    "/short-always": bad.short_body(PDF, "application/pdf", missing=5000),
    "/stall": bad.stall(PDF, STALL_S, "application/pdf"),  # longer than the client's read timeout
    "/huge-declared": bad.too_large_declared(CAP + 1),
    "/huge-streamed": bad.too_large_streamed(CAP),
    "/private/secret.pdf": document,
    "/private/open-report.pdf": document,
    "/redirect": bad.redirect("/doc.pdf"),
    "/redirect-ftp": bad.redirect("ftp://127.0.0.1/doc.pdf"),
    "/redirect-private": bad.redirect("/private/secret.pdf"),
    "/ciw/reports": fixture_page("ciw-local-authority-reports.html"),
    "/ciw/reports?page=1": fixture_page("ciw-local-authority-reports-page-2.html"),
    "/mg/ieListMeetings.aspx?CommitteeId=144": fixture_page("moderngov-meetings.html"),
    "/mg/ieListDocuments.aspx?CId=144&MId=5123&Ver=4": fixture_page("moderngov-meeting.html"),
    "/mg/ieListDocuments.aspx?CId=144&MId=5099&Ver=4": bad.status(503, b"down"),
    "/feed.rss": fixture_page("news.rss", "application/rss+xml"),
    "/empty-listing": bad.ok(b"<html><body><main><p>Nothing yet.</p></main></body></html>", "text/html"),
}
PREFIXES: dict[str, Route] = {
    "/sites/default/files/": document,
    "/mg/documents/": document,
    "/local-authority-inspection-report/": html_article,
    "/news/": html_article,
}


@pytest.fixture
def server() -> Iterator[MisbehavingServer]:
    with MisbehavingServer(ROUTES, PREFIXES, robots=ROBOTS) as srv:
        yield srv


@pytest.fixture
def fs(tmp_path: Path) -> FetchSettings:
    return FetchSettings(
        archive_dir=tmp_path / "archive",
        contact="tests@example.org",
        connect_timeout_s=1.0,
        read_timeout_s=0.25,
        total_timeout_s=5.0,
        max_bytes=CAP,
        max_retries=2,
        backoff_base_s=0.01,
        backoff_max_s=0.05,
        retry_after_max_s=5.0,
        min_interval_s=0.0,
        trust_env=False,
    )


class Sleeps(list):
    """A `sleep` that records how long it was asked to wait, and does not wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(fs: FetchSettings, sleeps: Sleeps) -> Iterator[PoliteClient]:
    with PoliteClient(fs, sleep=sleeps) as c:
        yield c


def get(server: MisbehavingServer, fs: FetchSettings, client: PoliteClient, path: str, **kw):
    return fetch(server.url(path), fs, client=client, **kw)


def closed_port() -> int:
    return free_port()  # nothing listens there


# -- fetching one address ------------------------------------------------------------------------


def test_a_document_is_archived_by_hash_with_a_log_line(server, fs, client):
    result = get(server, fs, client, "/doc.pdf")
    sha = hashlib.sha256(PDF).hexdigest()
    assert result.status == "new" and result.ok and result.error is None
    assert result.sha256 == sha and result.size == len(PDF) and result.content_type == "application/pdf"
    assert result.path == fs.archive_dir / "objects" / sha[:2] / f"{sha}.pdf"
    assert result.path.read_bytes() == PDF
    assert result.etag and result.last_modified == "Wed, 21 Oct 2020 07:28:00 GMT"
    (line,) = (fs.archive_dir / "log.jsonl").read_text().splitlines()
    logged = json.loads(line)
    assert logged["url"] == server.url("/doc.pdf") and logged["status"] == "new" and logged["sha256"] == sha
    assert logged["path"] == f"objects/{sha[:2]}/{sha}.pdf" and logged["etag"] == result.etag
    assert datetime.fromisoformat(logged["fetched_at"]).tzinfo is not None
    assert not list((fs.archive_dir / "tmp").iterdir())  # nothing half-written left behind


def test_the_user_agent_is_honest_and_names_a_contact(server, fs, client):
    get(server, fs, client, "/doc.pdf")
    agents = {headers.get("User-Agent") for _, headers in server.requests}
    assert agents == {f"Scrutiny/{fs.software_version} (+https://example.org/scrutiny; contact: tests@example.org)"}


def test_etag_gives_a_conditional_request_and_304_keeps_the_archived_version(server, fs, client):
    first = get(server, fs, client, "/doc.pdf")
    again = get(server, fs, client, "/doc.pdf", previous=first.as_previous())
    assert again.status == "not_modified" and again.http_status == 304
    assert again.sha256 == first.sha256 and again.path == first.path and again.etag == first.etag
    sent = [h for p, h in server.requests if p == "/doc.pdf"]
    assert "If-None-Match" not in sent[0] and sent[1]["If-None-Match"] == first.etag
    assert [json.loads(x)["status"] for x in (fs.archive_dir / "log.jsonl").read_text().splitlines()] == [
        "new",
        "not_modified",
    ]


def test_last_modified_gives_if_modified_since(server, fs, client):
    first = get(server, fs, client, "/lm.pdf")
    again = get(server, fs, client, "/lm.pdf", previous=first.as_previous())
    assert first.etag is None and again.status == "not_modified" and again.last_modified == first.last_modified
    assert [h.get("If-Modified-Since") for p, h in server.requests if p == "/lm.pdf"] == [
        None,
        "Wed, 21 Oct 2020 07:28:00 GMT",
    ]


def test_same_bytes_are_unchanged_and_new_bytes_are_a_new_version(server, fs, client):
    first = get(server, fs, client, "/changing.pdf")
    second = get(server, fs, client, "/changing.pdf", previous=first.as_previous())
    assert first.status == second.status == "new" and first.sha256 != second.sha256
    assert first.path.is_file() and second.path.is_file()  # the archive keeps every version
    plain = get(server, fs, client, "/plain.pdf")
    again = get(server, fs, client, "/plain.pdf", previous=plain.as_previous())  # no validators: a full GET
    assert plain.status == "new" and again.status == "unchanged" and again.path == plain.path
    # The same bytes at an address never fetched before are not new to the archive either.
    elsewhere = get(server, fs, client, "/plain-copy.pdf")
    assert elsewhere.status == "unchanged" and elsewhere.path == plain.path
    assert len(list((fs.archive_dir / "objects").rglob("*.pdf"))) == 3


def test_the_archive_log_gives_back_the_validators(server, fs, client):
    ok = get(server, fs, client, "/doc.pdf")
    get(server, fs, client, "/missing")
    with (fs.archive_dir / "log.jsonl").open("a") as f:
        f.write('{"url": "torn')  # a crash mid-write must not break the next run
    remembered = Archive(fs.archive_dir).last_fetches()
    assert set(remembered) == {server.url("/doc.pdf")}
    assert remembered[server.url("/doc.pdf")] == PreviousFetch(ok.sha256, ok.etag, ok.last_modified, ok.path)


def test_500_then_success_is_retried_with_backoff(server, fs, client, sleeps):
    result = get(server, fs, client, "/flaky")
    assert result.status == "new" and result.attempts == 2 and server.hits["/flaky"] == 2
    assert len(sleeps) == 1 and 0.005 <= sleeps[0] <= 0.01  # first backoff: half the base plus jitter


def test_429_honours_retry_after(server, fs, client, sleeps):
    result = get(server, fs, client, "/busy")
    assert result.status == "new" and result.attempts == 2
    assert sleeps == [2.0]


def test_retry_after_is_capped(server, fs, sleeps):
    capped = replace(fs, retry_after_max_s=0.5)
    with PoliteClient(capped, sleep=sleeps) as c:
        assert fetch(server.url("/busy"), capped, client=c).ok
    assert sleeps == [0.5]


def test_persistent_5xx_gives_up_after_the_retries(server, fs, client, sleeps):
    result = get(server, fs, client, "/down")
    assert result.status == "failed" and result.http_status == 503
    assert result.error == "HTTP 503 Service Unavailable (gave up after 3 attempts)"
    assert server.hits["/down"] == 3 and len(sleeps) == 2 and sleeps[1] >= sleeps[0] / 2


def test_404_is_not_retried(server, fs, client, sleeps):
    result = get(server, fs, client, "/missing")
    assert result.status == "failed" and result.error == "HTTP 404 Not Found" and result.attempts == 1
    assert server.hits["/missing"] == 1 and sleeps == []


def test_a_refused_connection_is_retried_then_reported(fs, client, sleeps):
    result = fetch(f"http://127.0.0.1:{closed_port()}/doc.pdf", fs, client=client)
    assert result.status == "failed" and "connection refused" in result.error
    assert "gave up after 3 attempts" in result.error and len(sleeps) == 2


def test_a_reset_mid_body_is_retried(server, fs, client):
    result = get(server, fs, client, "/reset-once")
    assert result.status == "new" and result.attempts == 2 and result.path.read_bytes().startswith(PDF)


def test_a_connection_that_keeps_resetting_fails_cleanly(server, fs, client):
    result = get(server, fs, client, "/reset-always")
    assert result.status == "failed" and server.hits["/reset-always"] == 3
    assert "connection dropped" in result.error or "incomplete response" in result.error
    assert not list((fs.archive_dir / "tmp").iterdir()) and not (fs.archive_dir / "objects").exists()


def test_a_body_shorter_than_its_content_length_is_retried(server, fs, client):
    result = get(server, fs, client, "/short-once")
    assert result.status == "new" and result.attempts == 2


def test_a_body_that_is_always_short_is_never_archived(server, fs, client):
    result = get(server, fs, client, "/short-always")
    assert result.status == "failed" and result.error.startswith("incomplete response")
    assert result.sha256 is None and not (fs.archive_dir / "objects").exists()


def test_a_stalled_server_times_out(server, fs, sleeps):
    once = replace(fs, max_retries=1)
    started = time.monotonic()
    with PoliteClient(once, sleep=sleeps) as c:
        result = fetch(server.url("/stall"), once, client=c)
    elapsed = time.monotonic() - started
    assert result.status == "failed" and result.error.startswith("read timed out")
    assert server.hits["/stall"] == 2 and elapsed < STALL_S * 1.5


@pytest.mark.parametrize("path", ["/huge-declared", "/huge-streamed"])
def test_a_body_over_the_size_cap_is_refused_without_retry(server, fs, client, path):
    result = get(server, fs, client, path)
    assert result.status == "failed" and result.error.startswith("too large")
    assert server.hits[path] == 1 and not (fs.archive_dir / "objects").exists()


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1/doc.pdf",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "mailto:someone@example.org",
        "//127.0.0.1/doc.pdf",
        "http:///nohost",
        "http://exa mple.org/",
    ],
)
def test_only_http_and_https_addresses_are_fetched(server, fs, client, url):
    result = fetch(url, fs, client=client)
    assert result.status == "failed" and result.attempts == 0
    assert "only http and https" in result.error or "not a valid address" in result.error
    assert server.requests == []


def test_redirects_are_followed_and_each_hop_is_checked(server, fs, client):
    followed = get(server, fs, client, "/redirect")
    assert followed.status == "new" and followed.final_url == server.url("/doc.pdf")
    to_ftp = get(server, fs, client, "/redirect-ftp")
    assert to_ftp.status == "failed" and "only http and https" in to_ftp.error
    into_private = get(server, fs, client, "/redirect-private")
    assert into_private.status == "failed" and "robots.txt" in into_private.error
    assert server.hits["/private/secret.pdf"] == 0


# -- robots.txt and pace -------------------------------------------------------------------------


def test_robots_txt_is_honoured_and_read_once_per_host(server, fs, client):
    refused = get(server, fs, client, "/private/secret.pdf")
    assert refused.status == "failed" and refused.error.startswith("disallowed by robots.txt")
    assert server.hits["/private/secret.pdf"] == 0
    assert get(server, fs, client, "/private/open-report.pdf").ok  # the longer Allow wins
    get(server, fs, client, "/doc.pdf")
    assert server.hits["/robots.txt"] == 1


def test_a_missing_robots_txt_allows_everything(server, fs, client):
    server.robots = None
    assert get(server, fs, client, "/private/secret.pdf").status == "new"


def test_a_failing_robots_txt_keeps_us_out_this_run(server, fs, client):
    server.robots_status = 503
    result = get(server, fs, client, "/doc.pdf")
    assert result.status == "failed" and "robots.txt answered 503" in result.error
    assert server.hits["/doc.pdf"] == 0


def test_requests_to_one_host_are_spaced_out(server, fs, sleeps):
    spaced = replace(fs, min_interval_s=0.2)
    with PoliteClient(spaced, sleep=sleeps) as c:
        for _ in range(3):
            fetch(server.url("/doc.pdf"), spaced, client=c)
    # robots.txt, then three documents: three waits of (almost) the whole interval.
    assert len(sleeps) == 3 and all(0.1 < s <= 0.2 for s in sleeps)


def test_crawl_delay_for_our_agent_is_honoured(server, fs, client, sleeps):
    server.robots = "User-agent: *\nDisallow: /\n\nUser-agent: Scrutiny\nCrawl-delay: 3\nDisallow: /private/\n"
    assert get(server, fs, client, "/doc.pdf").ok  # our own group applies, not the `*` one
    get(server, fs, client, "/changing.pdf")
    assert len(sleeps) == 2 and all(2.9 < s <= 3 for s in sleeps)


def test_robots_rules_follow_rfc_9309():
    rules = parse_robots(
        """
        # comment
        User-agent: OtherBot
        Disallow: /

        User-agent: scrutiny
        User-agent: somebody-else
        Disallow: /search
        Disallow: /*.aspx$
        Allow: /search/reports
        Disallow: /tmp/
        Allow: /tmp/
        Disallow:
    """,
        "Scrutiny",
    )
    assert not rules.allows("https://x.example/search?q=care")
    assert rules.allows("https://x.example/search/reports/2020")
    assert not rules.allows("https://x.example/mgAi.aspx")
    assert rules.allows("https://x.example/mgAi.aspx?ID=3")  # `$` anchors the end of the path and query
    assert rules.allows("https://x.example/tmp/a")  # equal length: the least restrictive wins
    assert rules.allows("https://x.example/robots.txt")
    fallback = parse_robots("User-agent: *\nDisallow: /private/\n", "Scrutiny")
    assert not fallback.allows("http://x/private/a") and fallback.allows("http://x/public")


def test_retry_after_reads_seconds_and_dates():
    now = datetime(2024, 3, 12, 10, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Tue, 12 Mar 2024 10:01:00 GMT", now) == 60.0
    assert retry_after_seconds("Tue, 12 Mar 2024 09:00:00 GMT", now) == 0.0
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None


def test_check_url_explains_what_is_wrong():
    assert check_url(" https://example.org/a ") == "https://example.org/a"
    with pytest.raises(Exception, match="unsupported address scheme 'ftp'"):
        check_url("ftp://example.org/a")
    with pytest.raises(Exception, match="scheme none"):
        check_url("example.org/a")


def test_fetch_settings_come_from_pipeline_settings(tmp_path):
    settings = Settings(
        db_path=tmp_path / "db" / "scrutiny.db",
        max_file_bytes=1234,
        extra={"fetch": {"contact": "data@example.org", "min_interval_s": 5}},
    )
    fs = FetchSettings.from_settings(settings)
    assert fs.archive_dir == tmp_path / "db" / "archive" and fs.max_bytes == 1234
    assert fs.min_interval_s == 5 and fs.user_agent.endswith("contact: data@example.org)")
    assert FetchSettings.from_settings(fs) is fs


# -- adapters (pure: bytes and an address in, links out) -----------------------------------------

CIW_URL = "https://www.careinspectorate.wales/local-authority-inspection-reports"


def test_ciw_adapter_finds_the_reports_and_nothing_else():
    links = ciw_reports((FIXTURES / "ciw-local-authority-reports.html").read_bytes(), CIW_URL)
    pages = [link for link in links if link.listing]
    reports = [link for link in links if not link.listing]
    assert [p.url for p in pages] == [CIW_URL + "?page=1"]
    assert [(r.published, r.local_authority, r.service) for r in reports] == [
        ("2020-02-20", "Glanmor County Council", "children"),
        ("2021-06-03", "Afonwy County Borough Council", "adults"),
        ("2021-07-08", "Glanmor County Council", "both"),
        ("2018-11-09", "Glanmor County Council", "children"),
    ]
    first, second, third, fourth = reports
    assert first.url.endswith("200220-glanmor-childrens-services-inspection-en.pdf")
    assert first.title == "Inspection of children's services: Glanmor County Council"
    assert first.extra["welsh_url"].endswith("-cy.pdf") and first.language == "en"
    assert second.title.startswith("Performance evaluation inspection")  # "Read the report" is not a title
    assert third.url.endswith("/assurance-check-glanmor-2021")  # a report page, not a PDF
    assert fourth.title == "Follow-up inspection of children's services, Glanmor"  # no "(PDF, 800 KB)"
    assert {r.doc_type for r in reports} == {"inspection_report"}
    every = " ".join(link.url for link in links)
    assert "privacy-notice" not in every and "code-of-practice" not in every and "framework" not in every


def test_moderngov_meeting_list_gives_meetings_newest_first_without_cancelled_or_welsh_copies():
    base = "https://democracy.glanmor.example/ieListMeetings.aspx?CommitteeId=144"
    links = moderngov((FIXTURES / "moderngov-meetings.html").read_bytes(), base)
    assert all(link.listing for link in links)
    assert [(link.url.split("MId=")[1], link.published) for link in links] == [
        ("5123&Ver=4", "2024-03-12"),
        ("5099&Ver=4", "2024-01-23"),
    ]


def test_moderngov_meeting_page_gives_minutes_and_reports_with_the_meeting():
    base = "https://democracy.glanmor.example/ieListDocuments.aspx?CId=144&MId=5123&Ver=4"
    links = moderngov((FIXTURES / "moderngov-meeting.html").read_bytes(), base)
    assert not any(link.listing for link in links)
    by_type = Counter(link.doc_type for link in links)
    assert by_type == {"council_report": 3, "council_minutes": 1, "other": 1}
    minutes = next(link for link in links if link.doc_type == "council_minutes")
    assert minutes.url == (
        "https://democracy.glanmor.example/documents/g5123/Printed%20minutes%2012th-Mar-2024"
        "%2010.00%20Health%20and%20Care%20Scrutiny%20Committee.pdf?T=1"
    )
    assert minutes.published == "2024-03-12"
    assert minutes.extra["committee"] == "Health and Care Scrutiny Committee"
    report = next(link for link in links if link.title == "CIW inspection progress report")
    assert report.service == "children" and report.extra["agenda_item"].startswith("Care Inspectorate Wales")


def test_moderngov_item_page_gives_its_documents():
    links = moderngov((FIXTURES / "moderngov-item.html").read_bytes(), "https://d.example/mgAi.aspx?ID=30600")
    assert [(link.title, link.published, link.service) for link in links] == [
        ("Domiciliary care capacity", "2024-01-23", "adults")
    ]


def test_rss_and_atom_feeds_give_news_links():
    items = rss((FIXTURES / "news.rss").read_bytes(), "https://feeds.example/news/wales/rss.xml")
    assert [i.url for i in items] == [
        "https://feeds.example/news/wales-glanmor-children-2020",
        "https://feeds.example/sport/rugby-union-squad",
        "https://feeds.example/news/wales-afonwy-care-homes-2021",
    ]
    assert items[0].published == "2020-02-21" and items[0].local_authority == "Glanmor County Council"
    assert items[0].extra["summary"].startswith("Care Inspectorate Wales found children's services")
    assert items[2].service == "adults" and {i.doc_type for i in items} == {"news"} and items[0].language == "en"
    entries = rss((FIXTURES / "news.atom").read_bytes(), "https://news.example/feed/atom")
    assert entries[0].url == "https://news.example/2018/11/09/glanmor-progress"  # rel=alternate, not rel=edit
    assert entries[0].title == "Inspectors see progress at Glanmor social services"
    assert [e.published for e in entries] == ["2018-11-09", "2018-11-08"]


def test_feeds_with_entities_are_not_expanded():
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<rss><channel><item><title>&x;</title><link>https://e.example/a</link></item></channel></rss>"
    )
    (item,) = rss(hostile, "https://e.example/feed")
    assert "root" not in (item.title or "")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Tuesday, 12th March, 2024 10.00 am", "2024-03-12"),
        ("Published: 3 June 2021", "2021-06-03"),
        ("23 Jan 2024 10.00 am", "2024-01-23"),
        ("Meeting of X, 23/01/2024 10.00", "2024-01-23"),
        ("2020-02-20T12:00:00Z", "2020-02-20"),
        ("Cyhoeddwyd: 27 Mehefin 2019", "2019-06-27"),
        ("31 February 2020", None),
        ("no date here", None),
    ],
)
def test_dates_are_read_as_iso(text, expected):
    assert parse_date(text) == expected


# -- watched sources -----------------------------------------------------------------------------


def rows(server: MisbehavingServer) -> list[dict]:
    return [
        {"name": "broken", "kind": "ciw_reports", "url": server.url("/missing")},
        {
            "name": "ciw",
            "kind": "ciw_reports",
            "url": server.url("/ciw/reports"),
            "expected_interval_days": 30,
            "metadata": {"publisher": "Care Inspectorate Wales", "doc_type": "inspection_report"},
        },
        {
            "name": "glanmor-scrutiny",
            "kind": "moderngov",
            "url": server.url("/mg/ieListMeetings.aspx?CommitteeId=144"),
            "expected_interval_days": 14,
            "metadata": {"publisher": "Glanmor County Council", "local_authority": "Glanmor County Council"},
        },
        {
            "name": "news",
            "kind": "rss",
            "url": server.url("/feed.rss"),
            "keywords": ["care", "children"],
            "metadata": {"publisher": "Fixture News"},
        },
    ]


def test_fetch_sources_archives_new_documents_and_reports_health(server, fs, sleeps):
    now = datetime(2024, 3, 20, 9, 0, tzinfo=UTC)
    with PoliteClient(fs, sleep=sleeps) as c:
        runs = fetch_sources(rows(server), fs, client=c, now=now)
    broken, ciw, council, news = runs

    assert not broken.health.ok and broken.health.consecutive_failures == 1
    assert broken.health.error == "HTTP 404 Not Found" and broken.documents == ()

    # CIW: both listing pages read; five reports archived, none of the Welsh copies.
    assert [r.final_url for r in ciw.listings] == [server.url("/ciw/reports"), server.url("/ciw/reports?page=1")]
    assert len(ciw.documents) == 5 and all(d.result.status == "new" for d in ciw.documents)
    assert not any(p.endswith("-cy.pdf") for p in server.hits)
    h = ciw.health
    assert (h.ok, h.new_documents, h.failed_documents, h.consecutive_failures, h.stale) == (True, 5, 0, 0, False)
    assert h.last_success_at == h.last_new_at == h.checked_at == "2024-03-20T09:00:00+00:00"
    source = ciw.new_sources[0]
    assert Path(source.path).read_bytes().startswith(b"%PDF") and source.url.endswith("inspection-en.pdf")
    assert source.meta == {
        "publisher": "Care Inspectorate Wales",
        "doc_type": "inspection_report",
        "title": "Inspection of children's services: Glanmor County Council",
        "published": "2020-02-20",
        "local_authority": "Glanmor County Council",
        "service": "children",
        "language": "en",
        "url": source.url,
    }

    logged = [json.loads(x) for x in (fs.archive_dir / "log.jsonl").read_text().splitlines()]
    entry = next(e for e in logged if e["url"] == source.url)
    assert entry["source"] == "ciw" and entry["role"] == "document" and entry["meta"] == source.meta

    # ModernGov: meetings followed (one of them failing), cancelled and Welsh copies not requested.
    assert [r.status for r in council.listings] == ["new", "new", "failed"]
    assert council.health.ok and council.health.new_documents == 5
    assert not any("MId=5080" in p or "LLL=1" in p for p in server.hits)
    minutes = next(d for d in council.documents if d.meta["doc_type"] == "council_minutes")
    assert minutes.meta["local_authority"] == "Glanmor County Council" and minutes.meta["published"] == "2024-03-12"

    # News: only the items that match the keywords.
    assert sorted(d.link.url.rsplit("/", 1)[1] for d in news.documents) == [
        "wales-afonwy-care-homes-2021",
        "wales-glanmor-children-2020",
    ]
    assert server.hits["/sport/rugby-union-squad"] == 0


def test_a_second_run_fetches_nothing_already_archived(server, fs, sleeps):
    first_time = datetime(2024, 3, 1, tzinfo=UTC)
    with PoliteClient(fs, sleep=sleeps) as c:
        first = fetch_sources(rows(server)[1:2], fs, client=c, now=first_time)
    documents_before = sum(n for p, n in server.hits.items() if p.startswith("/sites/"))
    health = {run.source.name: run.health for run in first}
    later = first_time + timedelta(days=31)
    with PoliteClient(fs, sleep=sleeps) as c:  # a new run: state comes only from the archive log and health
        (second,) = fetch_sources(rows(server)[1:2], fs, client=c, health=health, now=later)
    assert [r.status for r in second.listings] == ["not_modified", "not_modified"]
    assert second.documents == () and second.new_sources == []
    assert sum(n for p, n in server.hits.items() if p.startswith("/sites/")) == documents_before
    h = second.health
    assert h.ok and h.new_documents == 0 and h.links_found == 5
    assert h.last_new_at == first[0].health.last_new_at and h.stale  # nothing new for longer than 30 days


def test_consecutive_failures_add_up_and_reset(server, fs, sleeps):
    row = {"name": "flaky-listing", "kind": "rss", "url": server.url("/feed.rss")}
    bad = {**row, "url": server.url("/empty-listing")}
    with PoliteClient(fs, sleep=sleeps) as c:
        (one,) = fetch_sources([bad], fs, client=c)
        (two,) = fetch_sources([bad], fs, client=c, health={"flaky-listing": one.health})
        (three,) = fetch_sources([row], fs, client=c, health={"flaky-listing": two.health})
    assert "not an RSS or Atom feed" in one.health.error
    assert (one.health.consecutive_failures, two.health.consecutive_failures) == (1, 2)
    assert three.health.ok and three.health.consecutive_failures == 0 and three.health.last_success_at


def test_a_listing_without_links_is_a_failure_of_the_source(server, fs, sleeps):
    row = {"name": "moved", "kind": "ciw_reports", "url": server.url("/empty-listing")}
    with PoliteClient(fs, sleep=sleeps) as c:
        (run,) = fetch_sources([row], fs, client=c)
    assert not run.health.ok and "no links found" in run.health.error


def test_documents_beyond_the_per_run_cap_wait_for_the_next_run(server, fs, sleeps):
    capped = replace(fs, max_documents_per_source=2)
    row = {"name": "ciw", "kind": "ciw_reports", "url": server.url("/ciw/reports"), "follow_listings": 0}
    with PoliteClient(capped, sleep=sleeps) as c:
        (first,) = fetch_sources([row], capped, client=c)
        (second,) = fetch_sources([row], capped, client=c)
    assert len(first.documents) == 2 and first.health.deferred_documents == 2
    assert len(second.documents) == 2 and second.health.deferred_documents == 0
    assert {d.link.url for d in first.documents}.isdisjoint(d.link.url for d in second.documents)


def test_watch_rows_are_validated_before_anything_is_fetched(server, fs, tmp_path):
    with pytest.raises(SourceError, match="kind 'scraper' is not one of"):
        WatchedSource.from_row({"name": "x", "kind": "scraper", "url": "https://example.org/"})
    with pytest.raises(SourceError, match="only http and https"):
        WatchedSource.from_row({"name": "x", "kind": "rss", "url": "ftp://example.org/feed"})
    with pytest.raises(SourceError, match="needs a 'url'"):
        WatchedSource.from_row({"name": "x", "kind": "rss"})
    with pytest.raises(SourceError, match="kind 'scraper'"):
        fetch_sources([rows(server)[1], {"name": "x", "kind": "scraper", "url": server.url("/")}], fs)
    assert server.requests == []
    twice = tmp_path / "watch.yaml"
    twice.write_text("watch:\n" + "  - {name: a, kind: rss, url: 'https://example.org/feed'}\n" * 2)
    with pytest.raises(SourceError, match="more than one source a"):
        load_watchlist(twice)


def test_the_watch_list_in_corpus_is_valid_and_names_real_councils():
    """Read, never fetched: every source has a known adapter, an https address and canonical names."""
    sources = load_watchlist(ROOT / "corpus" / "sources.yaml")
    kinds = Counter(s.kind for s in sources)
    assert kinds["ciw_reports"] >= 1 and kinds["moderngov"] >= 3 and kinds["rss"] >= 2
    gazetteer = load_gazetteer()
    for s in sources:
        assert s.url.startswith("https://") and s.expected_interval_days > 0
        council = s.metadata.get("local_authority")
        if council:
            body = next(b for b in gazetteer.of_kind("council") if b.name == council)
            assert not body.fictional
