"""The Public Suffix List, held compactly: the public suffix of a host name, as tldextract finds it.

The list is the snapshot tldextract ships (`.tld_set_snapshot` in its package directory, never
downloaded: whoknows makes no network call the user did not ask for), public and private rules
alike, so `alice.github.io` and `bob.github.io` are two sites. Only the data file is read:
importing tldextract would also import `requests`, and its extractor keeps two tries of objects,
one node per label (8 MB in the proxy, against about 1 MB for the one dict here).

The walk is tldextract's own (`_PublicSuffixListTLDExtractor.suffix_index`), over a dict with one
entry per node of its trie (each rule and each of the rule's label suffixes: `uk`, `co.uk`,
`*.ck`, `!www.ck`) instead of the trie, so every host gets the suffix tldextract would give it
(tests/test_public_suffixes.py compares the two).
"""

from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

from .errors import WhoknowsError

# tldextract's own parsing of the list (tldextract/suffix_list.py); its private part (after the
# `// ===BEGIN PRIVATE DOMAINS===` comment) counts as the public part does (tldextract with
# include_psl_private_domains=True, as whoknows has always asked it).
_RULE = re.compile(r"^(?P<suffix>[.*!]*\w[\S]*)", re.UNICODE | re.MULTILINE)
SNAPSHOT_NAME = ".tld_set_snapshot"


def snapshot_path() -> Path:
    """tldextract's bundled list, found without importing tldextract."""
    spec = importlib.util.find_spec("tldextract")
    if spec is None or not spec.submodule_search_locations:
        raise WhoknowsError("tldextract is not installed: it provides the Public Suffix List (reinstall whoknows)")
    return Path(next(iter(spec.submodule_search_locations))) / SNAPSHOT_NAME


@functools.cache
def _nodes() -> dict[str, bool]:
    """Every trie node as a dotted name -> whether a rule ends there."""
    try:
        text = snapshot_path().read_text(encoding="utf-8")
    except OSError as exc:
        raise WhoknowsError(f"cannot read the Public Suffix List {snapshot_path()}: {exc.strerror}") from None
    nodes: dict[str, bool] = {}
    for found in _RULE.finditer(text):
        labels = found.group("suffix").split(".")
        for start in range(len(labels) - 1, 0, -1):
            nodes.setdefault(".".join(labels[start:]), False)
        nodes[".".join(labels)] = True
    return nodes


def _decoded(label: str) -> str:
    """A label as the list writes it: Unicode for punycode (`xn--`) labels, as tldextract does."""
    lowered = label.lower()
    if lowered.startswith("xn--"):
        import idna

        try:
            return idna.decode(lowered)
        except (UnicodeError, IndexError):
            pass
    return lowered


def suffix_start(labels: list[str]) -> int | None:
    """The index of the first label of the public suffix of a host's labels; None when the list
    has no rule for it (an unknown top-level name: `vendor.test`)."""
    nodes = _nodes()
    node = ""
    label_index = suffix_index = len(labels)
    for label in reversed(labels):
        decoded = _decoded(label)
        child = f"{decoded}.{node}" if node else decoded
        ends = nodes.get(child)
        if ends is not None:
            label_index -= 1
            node = child
            if ends:
                suffix_index = label_index
            continue
        if (f"*.{node}" if node else "*") in nodes:  # `*.ck`: any label, but an exception `!www.ck`
            return label_index if f"!{decoded}.{node}" in nodes else label_index - 1
        break
    return None if suffix_index == len(labels) else suffix_index

