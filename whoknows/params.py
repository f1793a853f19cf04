"""Tracking query parameters: the click and campaign identifiers that follow people from site to site.

`strip_params` removes them from a URL (absolute, or a request path with its query) and touches
nothing else: the query is split on `&` by hand and the other parameters are kept byte for byte, in
order, never re-encoded; the fragment stays. Keys are percent-decoded for comparison only, so
`utm%5Fsource` is caught too.

The built-in set is written from the vendors' own documentation of their parameters. Exact names
compare case-sensitively, as the vendors send them and read them back (`gclid`, `hsCtaTracking`):
another case is another parameter, possibly the site's own. The few prefixes below are namespaces no
site uses for anything but campaign tagging, and compare case-insensitively (hand-written campaign
links carry `UTM_Source` and the like).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

TRACKING_PARAM_PREFIXES: tuple[str, ...] = (
    "utm_",  # Google Analytics campaign tags (utm_source, utm_medium, ...), read by most analytics
    "mtm_",  # Matomo campaign tags
    "hsa_",  # HubSpot ads tracking (hsa_acc, hsa_cam, hsa_grp, ...)
)

TRACKING_PARAM_NAMES: frozenset[str] = frozenset((
    # Google: Ads click ids (web, iOS app-to-web, Display & Video 360), Ads source, Merchant Center,
    # Analytics cross-domain linker
    "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "gad_source", "gad_campaignid", "srsltid",
    "_ga", "_gl",
    # Microsoft Advertising
    "msclkid",
    # Meta: Facebook click id, share ids, Instagram share ids, legacy Open Graph action parameters
    "fbclid", "mibextid", "igshid", "igsh",
    "fb_action_ids", "fb_action_types", "fb_source", "fb_ref",
    "action_object_map", "action_type_map", "action_ref_map",
    # X/Twitter, TikTok, LinkedIn, Pinterest, Snapchat, Reddit, Nextdoor
    "twclid", "__twitter_impression", "ttclid", "li_fat_id", "epik", "ScCid", "rdt_cid", "ndclid",
    # Yandex Direct / Yandex search, Openstat
    "yclid", "ysclid", "_openstat",
    # HubSpot email and CTA tracking
    "_hsenc", "_hsmi", "__hssc", "__hstc", "__hsfp", "hsCtaTracking",
    # Email marketing: Mailchimp, Marketo, Omeda, Vero, Klaviyo, MailerLite, Blueshift, ActiveCampaign,
    # Listrak, Oracle Eloqua
    "mc_eid", "mc_cid", "mkt_tok", "oly_anon_id", "oly_enc_id", "vero_id", "vero_conv", "_kx",
    "ml_subscriber", "ml_subscriber_hash", "bsft_clkid", "bsft_uid", "bsft_mid", "bsft_eid", "vgo_ee",
    "trk_contact", "trk_msg", "trk_module", "trk_sid", "elqTrackId", "elqTrack",
    # Adobe Analytics / Advertising, Webtrends
    "s_cid", "s_kwcid", "ef_id", "WT.mc_id", "wt_mc", "wt_zmc",
    # Matomo (Piwik) campaign tags
    "pk_campaign", "pk_kwd", "pk_keyword", "pk_source", "pk_medium", "pk_content", "pk_cid",
    # Affiliate and attribution networks: Rakuten, Impact, Wicked Reports, Branch, Outbrain
    "rb_clickid", "irclickid", "wickedid", "_branch_match_id", "_branch_referrer", "dicbo",
))

_PREFIX_SPAN = max(len(prefix) for prefix in TRACKING_PARAM_PREFIXES)

# A URL we would not dare to rewrite: whitespace or control characters anywhere.
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")


class StripResult(NamedTuple):
    """The URL to use (the same string object when nothing was removed) and the decoded names of
    the parameters removed, in order, one entry per occurrence."""

    url: str
    removed: tuple[str, ...]


def is_tracking_param(name: str) -> bool:
    """Whether a (decoded) query parameter name is in the built-in tracking set."""
    if name in TRACKING_PARAM_NAMES:
        return True
    return name[:_PREFIX_SPAN].lower().startswith(TRACKING_PARAM_PREFIXES)


def strip_params(url: str, extra_names: Iterable[str] = (),
                 extra_matchers: Iterable[re.Pattern[str] | str] = ()) -> StripResult:
    """`url` without its tracking parameters: the built-in set, the exact `extra_names`, and names
    that one of `extra_matchers` (regular expressions) matches in full. Never raises whatever the
    URL: one that cannot be split safely comes back unchanged. (An invalid pattern string does
    raise `re.error`: that is the caller's bug.)"""
    if not isinstance(url, str):
        return StripResult(url, ())
    question = url.find("?")
    if question < 0:
        return StripResult(url, ())
    hash_mark = url.find("#")
    if 0 <= hash_mark < question:  # the `?` is inside the fragment
        return StripResult(url, ())
    query_end = hash_mark if hash_mark >= 0 else len(url)
    if query_end == question + 1 or not _safe_to_rewrite(url, question):
        return StripResult(url, ())
    names = extra_names if isinstance(extra_names, (set, frozenset)) else frozenset(extra_names)
    matchers = [re.compile(m) if isinstance(m, str) else m for m in extra_matchers]
    kept: list[str] = []
    removed: list[str] = []
    for parameter in url[question + 1 : query_end].split("&"):
        if not parameter:
            continue
        name = _decoded_name(parameter)
        # `matchers and`: why (speed only): no generator per parameter when there are no patterns.
        if (is_tracking_param(name) or name in names
                or (matchers and any(m.fullmatch(name) for m in matchers))):
            removed.append(name)
        else:
            kept.append(parameter)
    if not removed:
        return StripResult(url, ())
    # Empty pieces (`a=1&&b=2`, a trailing `&`) go too once the query is rewritten anyway.
    head = url[:question] if not kept else url[: question + 1] + "&".join(kept)
    return StripResult(head + url[query_end:], tuple(removed))


def clean_url(url: str, decision=None) -> tuple[str, tuple[str, ...]]:
    """`url` as the proxy forwards it: without the parameters the filter engine's `removeparam`
    filters removed (`decision`, a `whoknows.filters.Decision` for this URL, or None) and without the
    built-in tracking parameters; and the names removed, one per occurrence."""
    removed: tuple[str, ...] = ()
    if (decision is not None and decision.clean_url and decision.action in ("allow", "exception")
            and decision.clean_url.partition("?")[0] == url.partition("?")[0]):
        url, removed = decision.clean_url, tuple(decision.removed_params)
    stripped = strip_params(url)
    return stripped.url, removed + stripped.removed


def _decoded_name(parameter: str) -> str:
    equals = parameter.find("=")
    raw = parameter if equals < 0 else parameter[:equals]
    return unquote(raw) if "%" in raw else raw


def _safe_to_rewrite(url: str, question: int) -> bool:
    if _UNSAFE.search(url):
        return False
    before_query = url[:question]
    if "[" in before_query or "]" in before_query or not before_query.isascii():
        try:  # an unbalanced IPv6 bracket or an authority that changes under NFKC normalisation
            urlsplit(before_query)
        except ValueError:
            return False
    return True
