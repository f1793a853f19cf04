"""The leaks addon: own values in outgoing requests become disclosures, leaks and attempted leaks."""

import base64
import hashlib
import json
import zlib
from urllib.parse import quote

import brotli
import pytest
import zstandard
from mitmproxy import http
from mitmproxy.test import taddons
from mitmproxy.test import tflow

from proxy_addons.blocking import Blocking
from proxy_addons.context import Context
from proxy_addons.leaks import MAX_DECODED_BODY
from proxy_addons.leaks import Leaks
from proxy_addons.leaks import request_body
from whoknows import aliases
from whoknows.leak_records import list_leaks
from whoknows.leakscan import DEFAULT_MAX_TEXT
from whoknows.ledger import open_ledger
from whoknows.me import add_value
from whoknows.site_settings import SiteSettingsStore

EMAIL = "alice.smith@example.org"
PHONE = "+34 600 111 222"
PAGE = "https://shop.vendor.test/checkout"
EMAIL_SHA256 = hashlib.sha256(EMAIL.encode()).hexdigest()


def form_post(url: str, body: bytes, referer: str = PAGE) -> http.HTTPFlow:
    headers = {"content-type": "application/x-www-form-urlencoded", "referer": referer,
               "origin": "https://shop.vendor.test", "sec-fetch-site": "same-origin", "sec-fetch-dest": "document",
               "sec-fetch-mode": "navigate"}
    return tflow.tflow(req=http.Request.make("POST", url, body, headers))


def script_get(url: str, referer: str = PAGE) -> http.HTTPFlow:
    headers = {"referer": referer, "sec-fetch-site": "cross-site", "sec-fetch-dest": "empty", "sec-fetch-mode": "cors"}
    return tflow.tflow(req=http.Request.make("GET", url, b"", headers))


@pytest.fixture
def values():
    """The person's values, with leak prevention in `report` mode: these tests are about what is
    recorded (prevention, the default, is tested in test_leak_prevention.py)."""
    with open_ledger() as ledger:
        add_value(ledger, "email", EMAIL)
        add_value(ledger, "phone", PHONE)
        SiteSettingsStore(ledger).set_default_leak_mode("report")


def run(*flows, extra_filters=None, store=None, leaks=None):
    """Flows through context, blocking and leaks as the proxy chains them, then a flush."""
    context, blocking = Context(store), Blocking()
    leaks = leaks or Leaks()
    with taddons.context(context, blocking, leaks) as tctx:
        if extra_filters is not None:
            tctx.configure(blocking, whoknows_extra_filters=str(extra_filters))
        blocking.running()
        leaks.running()
        for flow in flows:
            context.requestheaders(flow)
            blocking.requestheaders(flow)
            leaks.request(flow)
        leaks.done()
        context.done()
    return leaks


def disclosures():
    with open_ledger() as ledger:
        rows = ledger.query("SELECT v.domain, d.kind, d.value, d.source, d.evidence FROM disclosures d "
                            "JOIN vendors v ON v.id = d.vendor_id ORDER BY v.domain, d.source")
    return [(r[0], r[1], r[2], r[3], json.loads(r[4])) for r in rows]


def test_a_form_posting_the_phone_to_its_own_site_is_a_disclosure_with_evidence_but_no_body(values):
    run(form_post("https://shop.vendor.test/checkout?step=2", b"name=A&tel=%2B34+600+111+222&x=1"))
    [(vendor, kind, value, source, evidence)] = disclosures()
    assert (vendor, kind, source) == ("vendor.test", "phone", "form")
    assert value.startswith("•••22 [me:") and "600" not in value
    assert evidence == {"method": "POST", "url": "https://shop.vendor.test/checkout?step=…",
                        "where": "body", "encoding": "plain", "form": "typed"}
    with open_ledger() as ledger:
        assert list_leaks(ledger) == []


def test_a_hashed_email_sent_to_a_tracker_is_a_leak_and_the_tracker_now_knows_it(values):
    run(script_get(f"https://px.tracker.test/collect?ev=Purchase&em={EMAIL_SHA256}&cb=1"))
    with open_ledger() as ledger:
        [leak] = list_leaks(ledger)
    assert {k: leak[k] for k in ("page", "recipient_host", "recipient", "kind", "encoding", "where",
                                 "method", "blocked", "count")} == {
        "page": "vendor.test", "recipient_host": "px.tracker.test", "recipient": "tracker.test", "kind": "email",
        "encoding": "sha256", "where": "url", "method": "GET", "blocked": False, "count": 1}
    assert leak["url"] == "https://px.tracker.test/collect?ev=…&em=…&cb=…"
    assert leak["value"].startswith("a•••@example.org [me:")
    [(vendor, kind, value, source, evidence)] = disclosures()
    assert (vendor, kind, value, source) == ("tracker.test", "email", leak["value"], "leak")
    assert evidence["page"] == "vendor.test" and evidence["encoding"] == "sha256"


@pytest.mark.parametrize("encode, expected", [
    (lambda v: quote(quote(v, safe=""), safe=""), "url"),
    (lambda v: base64.b64encode(v.encode()).decode(), "base64"),
    (lambda v: hashlib.md5(v.encode()).hexdigest().upper(), "md5-upper"),
    (lambda v: hashlib.sha1(v.encode()).hexdigest(), "sha1"),
])
def test_each_encoding_is_named(values, encode, expected):
    run(script_get(f"https://tracker.test/p?u={encode(EMAIL)}"))
    with open_ledger() as ledger:
        assert [leak["encoding"] for leak in list_leaks(ledger)] == [expected]


def compressed(encoding: str, body: bytes) -> bytes:
    """`body` as a client sends it with `content-encoding: ENCODING` (deflate: zlib-wrapped)."""
    if encoding == "gzip":
        packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        return packer.compress(body) + packer.flush()
    return {"deflate": zlib.compress, "br": brotli.compress,
            "zstd": zstandard.ZstdCompressor().compress}[encoding](body)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_a_compressed_upload_is_searched_as_the_server_reads_it(values, encoding):
    flow = form_post("https://shop.vendor.test/checkout", b"")
    flow.request.headers["content-encoding"] = encoding
    flow.request.raw_content = compressed(encoding, b"name=A&tel=%2B34+600+111+222&x=1")
    run(flow)
    assert [(d[0], d[1], d[3]) for d in disclosures()] == [("vendor.test", "phone", "form")]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_a_compressed_upload_is_inflated_no_further_than_the_scan_reads(encoding):
    # Any page's script may send a body with a Content-Encoding: 64 KB of gzip inflates to 64 MB,
    # and the proxy once inflated all of it (1 MB of gzip: 1 GB, seconds of a stalled proxy).
    bomb = compressed(encoding, b"email=" + b"0" * (64 << 20))
    assert len(bomb) < MAX_DECODED_BODY  # small enough to be decoded at all
    request = http.Request.make("POST", "https://tracker.test/up", b"", {"content-encoding": encoding})
    request.raw_content = bomb
    body = request_body(request, limit=DEFAULT_MAX_TEXT)
    assert body == (b"email=" + b"0" * DEFAULT_MAX_TEXT)[:DEFAULT_MAX_TEXT]


def test_a_body_that_does_not_decode_is_searched_as_sent(values):
    flow = form_post("https://shop.vendor.test/checkout", b"name=A&tel=%2B34+600+111+222&x=1")
    flow.request.headers["content-encoding"] = "gzip"  # but it is not: searched as it is, as before
    run(flow)
    assert [(d[0], d[1], d[3]) for d in disclosures()] == [("vendor.test", "phone", "form")]


def test_repeats_are_counted_on_one_row_and_a_second_flush_adds_up(values):
    flow = lambda: script_get(f"https://tracker.test/p?em={EMAIL_SHA256}")  # noqa: E731
    run(flow(), flow())
    run(flow())
    with open_ledger() as ledger:
        [leak] = list_leaks(ledger)
    assert leak["count"] == 3


def test_a_blocked_request_is_an_attempted_leak_and_the_tracker_gets_no_disclosure(values, tmp_path):
    filters = tmp_path / "filters.txt"
    filters.write_text("||tracker.test^\n")
    [flow] = [script_get(f"https://tracker.test/p?em={EMAIL_SHA256}")]
    run(flow, extra_filters=filters)
    assert flow.response is not None  # the proxy answered; nothing left
    with open_ledger() as ledger:
        [leak] = list_leaks(ledger)
    assert leak["blocked"] is True and leak["recipient"] == "tracker.test"
    assert disclosures() == []


def test_requests_of_a_paused_site_and_ones_the_proxy_answered_are_left_alone(values):
    with open_ledger() as ledger:
        store = SiteSettingsStore(ledger)
        store.set_paused("vendor.test", True)
        run(script_get(f"https://tracker.test/p?em={EMAIL_SHA256}"), store=store)
    answered = script_get(f"https://tracker.test/p?em={EMAIL_SHA256}", referer="https://other.test/")
    answered.response = http.Response.make(200)
    run(answered)
    with open_ledger() as ledger:
        assert list_leaks(ledger) == []


def test_a_cross_site_request_from_an_unknown_page_is_not_attributed(values):
    flow = tflow.tflow(req=http.Request.make("GET", f"https://tracker.test/p?em={EMAIL_SHA256}", b"",
                                             {"sec-fetch-site": "cross-site", "sec-fetch-dest": "image"}))
    run(flow)
    with open_ledger() as ledger:
        assert list_leaks(ledger) == []


def test_aliases_are_watched_without_being_copied_into_the_values():
    with open_ledger() as ledger:
        aliases.save_setup(ledger, aliases.parse_setup(base="me@mail.example"))
        address, _ = aliases.get_or_create(ledger, "vendor.test")
    run(script_get(f"https://tracker.test/p?e={quote(address)}"))
    with open_ledger() as ledger:
        [leak] = list_leaks(ledger)
        assert ledger.query("SELECT count(*) FROM me_values")[0][0] == 0
    assert (leak["kind"], leak["value"], leak["encoding"]) == ("alias", address, "plain")


def test_a_value_added_while_the_proxy_runs_is_looked_for_and_unchanged_values_are_not_rebuilt(values):
    leaks = Leaks()
    with taddons.context(leaks):
        leaks.watcher.load_now()
        assert leaks.watcher.values == 2 and leaks.watcher.rebuilds == 1
        with open_ledger() as ledger:
            ledger.set_setting("unrelated", "1")  # the ledger changes, the values do not
            watcher_ledger = open_ledger()
            leaks.watcher.check(watcher_ledger)
            assert leaks.watcher.rebuilds == 1
            add_value(ledger, "name", "Alice Smith")
            assert leaks.watcher.check(watcher_ledger) is True
            watcher_ledger.close()
        assert leaks.watcher.values == 3


def test_nothing_in_the_ledger_holds_the_values_in_plaintext(values, whoknows_home):
    run(form_post("https://shop.vendor.test/checkout", f"email={quote(EMAIL)}&tel={quote(PHONE)}".encode()),
        script_get(f"https://tracker.test/p?em={quote(EMAIL)}&ph=34600111222"))
    with open_ledger() as ledger:
        assert len(list_leaks(ledger)) == 2
        dump = "\n".join(ledger.db.iterdump())
    files = b"".join(p.read_bytes() for p in whoknows_home.glob("ledger.db*"))
    for secret in (EMAIL, "600111222", "600 111 222"):
        assert secret not in dump
        assert secret.encode() not in files


def test_the_live_snapshot_counts_what_a_site_s_pages_did(values):
    leaks = run(form_post("https://shop.vendor.test/checkout", b"tel=%2B34600111222"),
                script_get(f"https://tracker.test/p?em={EMAIL_SHA256}"))
    assert leaks.snapshot("vendor.test") == {"leaks": 1, "attempted": 0, "prevented": 0, "disclosures": 1,
                                             "shared_ids": 0}
    assert leaks.snapshot("other.test") == {"leaks": 0, "attempted": 0, "prevented": 0, "disclosures": 0,
                                            "shared_ids": 0}


def test_switched_off_by_its_option(values):
    leaks = Leaks()
    context = Context()
    with taddons.context(context, leaks) as tctx:
        tctx.configure(leaks, whoknows_leaks=False)
        leaks.running()
        flow = script_get(f"https://tracker.test/p?em={EMAIL_SHA256}")
        context.requestheaders(flow)
        leaks.request(flow)
        leaks.done()
        context.done()
    with open_ledger() as ledger:
        assert list_leaks(ledger) == []


def test_a_key_that_cannot_be_read_leaves_the_aliases_watched_and_is_tried_again(values):
    from whoknows.errors import WhoknowsError
    from whoknows.leak_records import ValueWatcher
    from whoknows.me import load_keys

    with open_ledger() as ledger:
        aliases.save_setup(ledger, aliases.parse_setup(base="me@mail.example"))
        address, _ = aliases.get_or_create(ledger, "vendor.test")
    attempts = []

    def keyring_locked_once():
        attempts.append(1)
        if len(attempts) == 1:
            raise WhoknowsError("the keyring is locked")
        return load_keys()

    watcher = ValueWatcher(open_ledger, load_keys=keyring_locked_once)
    with open_ledger() as watched, open_ledger() as other:
        watcher.check(watched)
        assert [m.kind for m in watcher.scanner.scan(f"https://t.test/?a={address}&e={EMAIL}")] == ["alias"]
        other.set_setting("anything", "changed")  # any later change of the ledger retries the key
        assert watcher.check(watched) is True
        found = {m.kind for m in watcher.scanner.scan(f"https://t.test/?a={address}&e={EMAIL}")}
    assert found == {"alias", "email"}


# -- streamed request bodies (proxy_addons.streaming): the start is kept as it passes -----------


def stream_through(flow: http.HTTPFlow, chunks: list[bytes], *, cut: bool = False,
                   answered_early: bool = False) -> list[bytes]:
    """`flow` as mitmproxy streams its request body: hooks in the proxy's order, each chunk through
    the body's `stream` function; `cut`: the client goes away before the end (the `error` hook
    instead of `request`). Returns what was forwarded."""
    context, blocking, leaks = Context(), Blocking(), Leaks()
    flow.request.data.content = None  # a streamed body is not kept
    flow.request.stream = True  # mitmproxy's threshold, or proxy_addons.streaming, said so
    with taddons.context(context, blocking, leaks):
        blocking.running()
        leaks.running()
        for addon in (context, blocking, leaks):
            addon.requestheaders(flow)
        forwarded = [flow.request.stream(chunk) for chunk in chunks]
        if answered_early:
            flow.response = tflow.tresp(status_code=413)
        if cut:
            flow.error = flow_error()
            leaks.error(flow)
        else:
            forwarded.append(flow.request.stream(b""))
            leaks.request(flow)
        leaks.done()
        context.done()
    return forwarded


def flow_error():
    from mitmproxy.flow import Error

    return Error("client disconnected")


def test_a_streamed_body_passes_unchanged_and_a_value_split_across_chunks_is_found(values):
    body = b"name=A&tel=%2B34+600+111+222&x=1" + b"y" * 200_000
    chunks = [body[:15], body[15:20], body[20:70_000], body[70_000:]]  # the phone split twice
    flow = form_post("https://shop.vendor.test/checkout", b"")
    assert b"".join(stream_through(flow, chunks)) == body
    assert [(d[0], d[1], d[3]) for d in disclosures()] == [("vendor.test", "phone", "form")]


def test_only_the_start_of_a_streamed_body_is_searched_as_of_a_buffered_one(values):
    # What lies past the scan's 64 KB is not searched, streamed or not (the leaks module says so).
    late = b"x" * DEFAULT_MAX_TEXT + b"&tel=%2B34+600+111+222"
    stream_through(form_post("https://shop.vendor.test/checkout", b""), [late[:40_000], late[40_000:]])
    run(form_post("https://shop.vendor.test/checkout", late))
    assert disclosures() == []


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
def test_a_compressed_streamed_body_is_searched_decoded(values, encoding):
    flow = form_post("https://shop.vendor.test/checkout", b"")
    flow.request.headers["content-encoding"] = encoding
    packed = compressed(encoding, b"name=A&tel=%2B34+600+111+222&x=1" + bytes(300_000))
    stream_through(flow, [packed[i:i + 4096] for i in range(0, len(packed), 4096)])
    assert [(d[0], d[1], d[3]) for d in disclosures()] == [("vendor.test", "phone", "form")]


def test_a_streamed_upload_cut_short_is_searched_as_far_as_it_went(values):
    flow = script_get("https://px.tracker.test/upload")
    flow.request.method = "POST"
    stream_through(flow, [f"em={quote(EMAIL)}&blob=".encode(), b"z" * 50_000], cut=True)
    with open_ledger() as ledger:
        assert [leak["recipient_host"] for leak in list_leaks(ledger)] == ["px.tracker.test"]


def test_a_streamed_upload_its_server_answered_before_the_end_is_still_searched(values):
    flow = script_get("https://px.tracker.test/upload")
    flow.request.method = "POST"
    stream_through(flow, [f"em={quote(EMAIL)}".encode()], answered_early=True)
    with open_ledger() as ledger:
        assert [leak["recipient_host"] for leak in list_leaks(ledger)] == ["px.tracker.test"]


def test_a_blocked_upload_cut_off_at_its_headers_is_an_attempted_leak(values, tmp_path):
    from proxy_addons.streaming import Streaming

    filters = tmp_path / "extra.txt"
    filters.write_text("||tracker.test^\n")
    flow = script_get(f"https://px.tracker.test/upload?em={EMAIL_SHA256}")
    flow.request.method = "POST"
    flow.request.headers["content-length"] = str(50 << 20)
    flow.request.data.content = None
    flow.request.stream = True  # mitmproxy's threshold, before the hooks
    context, blocking, streaming, leaks = Context(), Blocking(), Streaming(), Leaks()
    with taddons.context(context, blocking, streaming, leaks) as tctx:
        tctx.configure(blocking, whoknows_extra_filters=str(filters))
        blocking.running()
        leaks.running()
        for addon in (context, blocking, streaming, leaks):
            addon.requestheaders(flow)
        assert flow.error is not None  # killed: mitmproxy goes on to the error hook
        leaks.error(flow)
        leaks.error(flow)  # once is enough
        leaks.done()
        context.done()
    with open_ledger() as ledger:
        [leak] = list_leaks(ledger)
    assert (leak["blocked"], leak["recipient"], leak["where"], leak["count"]) == (True, "tracker.test", "url", 1)
