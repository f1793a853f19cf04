"""Every shortcut through mitmproxy's internals gives what mitmproxy's own API gives.

Against the installed mitmproxy's real `Headers`, `Response.make`, `Request`/`Response` state: when
an upgrade changes what its API answers, these fail and `proxy_addons/mitmproxy_shortcuts.py` is the
one place to change. Header fields are generated (hypothesis) with the cases the shortcuts must
get right: names in any case, repeated names, bytes that are not UTF-8.
"""

from hypothesis import given, settings
from hypothesis import strategies as st
from mitmproxy import http
from mitmproxy.test import tflow, tutils

from proxy_addons import mitmproxy_shortcuts as shortcuts

NAMES = [b"cookie", b"Cookie", b"COOKIE", b"set-cookie", b"Set-Cookie", b"referer", b"Referer",
         b"content-type", b"Content-Type", b"x-other", b"sec-gpc", b"DNT", b"\xc3\x84-odd"]
VALUES = st.one_of(
    st.sampled_from([b"a=1", b"", b"text/html; charset=utf-8", b" spaced ", b"caf\xc3\xa9", b"\xff\xfe bad",
                     b"https://shop.test/page"]),
    st.binary(max_size=12).filter(lambda v: b"\r" not in v and b"\n" not in v),
)
FIELDS = st.lists(st.tuples(st.sampled_from(NAMES), VALUES), max_size=8).map(tuple)
LOOKED_UP = [b"cookie", b"set-cookie", b"referer", b"content-type", b"x-other", b"absent"]


def _headers(fields) -> http.Headers:
    return http.Headers(fields)


@settings(max_examples=300, deadline=None)
@given(FIELDS)
def test_reads_answer_as_headers_get_get_all_and_in_do(fields):
    headers = _headers(fields)
    for name in LOOKED_UP:
        text = name.decode()
        assert shortcuts.values_of(fields, name) == headers.get_all(text)
        assert shortcuts.folded_value(fields, name) == headers.get(text)
        assert shortcuts.has_field(fields, name) == (text in headers)
        assert [v.decode("utf-8", "surrogateescape") for v in shortcuts.raw_values_of(fields, name)] == \
            headers.get_all(text)


@settings(max_examples=300, deadline=None)
@given(FIELDS)
def test_the_lowercase_map_answers_as_headers_get(fields):
    headers = _headers(fields)
    mapped = shortcuts.lowercase_map(headers)
    # keys lowercased as `Headers` compares names: ASCII letters only (bytes.lower())
    for name in {*(n.lower().decode("utf-8", "surrogateescape") for n, _ in fields), "absent"}:
        assert mapped.get(name) == headers.get(name)
    assert all(key.encode("utf-8", "surrogateescape").lower() == key.encode("utf-8", "surrogateescape")
               for key in mapped)


@settings(max_examples=300, deadline=None)
@given(FIELDS)
def test_removing_fields_leaves_what_del_leaves(fields):
    for name in LOOKED_UP:
        headers = _headers(fields)
        if name.decode() in headers:
            del headers[name.decode()]
        assert shortcuts.without_fields(fields, name) == headers.fields


@settings(max_examples=300, deadline=None)
@given(FIELDS, st.dictionaries(st.sampled_from([b"sec-gpc", b"dnt", b"referer", b"cookie"]),
                               st.one_of(st.none(), st.sampled_from([b"1", b"https://shop.test/"])), max_size=4))
def test_setting_fields_leaves_what_setitem_and_del_leave(fields, values):
    headers = _headers(fields)
    for name, value in values.items():
        if value is None:
            if name.decode() in headers:
                del headers[name.decode()]
        else:
            headers[name.decode()] = value.decode()
    assert shortcuts.with_fields_set(fields, values) == headers.fields


def test_fresh_responses_are_what_response_make_makes_with_this_mitmproxy():
    assert shortcuts.FAST_RESPONSES  # else the blocking addon falls back to Response.make (slower)
    for status, body, given_headers in [(200, b"GIF89a", {"content-type": "image/gif"}), (204, b"", {}),
                                        (403, b"", {"content-type": "text/plain; charset=utf-8"})]:
        fields = shortcuts.response_fields(status, body, given_headers)
        made = http.Response.make(status, body, given_headers)
        fresh = shortcuts.fresh_response(status, body, fields)
        assert fields == made.headers.fields
        assert (fresh.status_code, fresh.reason, fresh.http_version, fresh.content, fresh.headers.fields,
                fresh.trailers) == (made.status_code, made.reason, made.http_version, made.content,
                                    made.headers.fields, made.trailers)
        assert fresh.timestamp_start <= fresh.timestamp_end
        fresh.headers["x-more"] = "1"  # its own objects: changing one answer changes no other
        assert "x-more" not in shortcuts.fresh_response(status, body, fields).headers


def test_a_messages_state_restored_undoes_what_a_hook_changed():
    for message in (tutils.treq(), tutils.tresp()):
        before = message.get_state()
        state = shortcuts.message_state(message)
        message.headers["x-added"] = "1"
        del message.headers["content-length"]
        message.content = b"changed"
        message.http_version = "HTTP/2.0"
        if isinstance(message, http.Request):
            message.url = "https://elsewhere.test/x"
        else:
            message.status_code = 500
        shortcuts.restore_message(message, state)
        assert message.get_state() == before


def test_state_of_anything_else_goes_through_get_state():
    flow = tflow.tflow()
    assert shortcuts.message_state(None) is None
    assert shortcuts.message_state(flow.client_conn) == flow.client_conn.get_state()
