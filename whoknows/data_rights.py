"""Data-rights requests: what to put in one (every identifier the ledger links to a vendor), and the
record of the requests made, with their one-month deadlines (the `rights_requests` table).

Identifiers a vendor may file the person's data under, from the ledger:
- its aliases (every state: a retired alias is still in its database);
- what it was told or seen to get (disclosures: emails, phones, names, addresses...), the values
  the proxy recorded by reference (`a•••@x.org [me:TAG]`) decrypted back with this machine's key
  (`whoknows.me`); a reference whose value is gone (removed, or another machine's key) cannot go
  in a letter and is counted in `unresolved`;
- the names of the cookies it set (the proxy's observations: on its own pages and as a third
  party elsewhere). The proxy keeps cookie names, never their values.

A request to a tracker company (issue 12: `tracker_parts`) lists what the proxy saw it get: the
names of the cookies its domains set, your values they were sent, the websites and dates; it is
recorded under the company's own domain (`tracker_request_domain`).

An objection that lists the vendor's mails that broke what you allowed it (`marketing_mail`, issue
15: what `prefs --check` found, each mail once with every rule it broke).

Letters that use the evidence (issue 14), the facts gathered here for `whoknows.letters`:
- a source request (`held_values`): each value the vendor holds that it was never given
  (`whoknows.findings`), with where and when it was seen;
- a follow-up to an answered access request (`answered_request`, `answer_gaps`): the third parties
  its pages sent your values to before the answer, when the answer's export lists no recipients,
  and the values it was given that the export lacks;
- a complaint about a request past its date (`overdue_request`), with what its pages sent to third
  parties (`sent_elsewhere`) and the findings.
A complaint is recorded as a request too (kind `complaint`, to the authority, due in the three
months of Art. 78(2)), and so is a follow-up; each names the request it is about (`about_id`), so
the listing shows that request as complained about (no longer overdue: the next step is the
authority's) or followed up.

The letter itself is `whoknows.letters` (wording, deadline arithmetic, the .eml).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

from .errors import InputError, NotFoundError, WhoknowsError
from .findings import Evidence, for_vendor, value_identity
from .leak_records import vendor_leaks
from .ledger import Ledger, vendor_ids
from .authorities import authority_by_contact
from .company_view import company_record
from .letters import (
    BrokenRule, EarlierRequest, HeldValue, MarketingMail, Missing, SentElsewhere, Sighting, TermsCited, TrackerCookie,
    TrackerSeen, TrackerValue,
)
from .me import KINDS as OWN_KINDS
from .me import list_values, load_keys, lookup_hash, reference_tag, tag_of
from .personal_terms import OFFER_HEADER, find_term
from .sites import display_domain
from .terms_records import earliest_offer
from .tracker_companies import TrackerCompany

# What can be recorded (the `rights_requests.kind` CHECK, widened by issue 14's migration): the
# letters to a vendor, a follow-up naming what its answer left out, and a complaint about it to a
# supervisory authority.
KINDS = ("access", "erase", "object", "rectify", "port", "source", "follow-up", "complaint")
ARTICLES = {"access": "Art. 15", "erase": "Art. 17", "object": "Art. 21", "rectify": "Art. 16",
            "port": "Art. 20", "source": "Art. 15(1)(g)", "follow-up": "Art. 15", "complaint": "Art. 77"}

LABELS = {
    "en": {
        "alias": "Email address", "email": "Email address", "phone": "Telephone number", "name": "Name",
        "address": "Postal address", "birthday": "Date of birth", "id-number": "Identity document number",
        "location": "Location", "payment": "Payment method", "other": "Other identifier", "cookie": "Cookie",
    },
    "es": {
        "alias": "Dirección de correo electrónico", "email": "Dirección de correo electrónico",
        "phone": "Número de teléfono", "name": "Nombre", "address": "Dirección postal",
        "birthday": "Fecha de nacimiento", "id-number": "Número de documento de identidad",
        "location": "Ubicación", "payment": "Medio de pago", "other": "Otro identificador", "cookie": "Cookie",
    },
}
_KIND_ORDER = ("alias", "email", "name", "phone", "address", "birthday", "id-number", "payment", "location", "other")


@dataclass
class Identifiers:
    items: list[tuple[str, str]]  # (label, value), in the letter's language
    unresolved: int  # references to own values this machine cannot decrypt


def identifiers_for(ledger: Ledger, domain: str, lang: str) -> Identifiers:
    """Every identifier the ledger links to the vendor `domain`, labelled in `lang`."""
    labels = LABELS[lang]
    with ledger.read() as db:
        row = db.execute("SELECT id FROM vendors WHERE domain = ?", (domain,)).fetchone()
        if row is None:
            raise NotFoundError(f"no vendor {display_domain(domain)} in the ledger")
        vendor_id = row[0]
        alias_rows = db.execute("SELECT address FROM aliases WHERE vendor_id = ? ORDER BY created_at, address",
                                (vendor_id,)).fetchall()
        facts = db.execute("SELECT kind, value FROM disclosures WHERE vendor_id = ? ORDER BY kind, value",
                           (vendor_id,)).fetchall()
        cookies = db.execute(
            "SELECT DISTINCT subject FROM observations WHERE kind = 'cookie' "
            "AND substr(subject, -length(:site) - 1) = '@' || :site ORDER BY subject", {"site": domain}).fetchall()
    plaintext = _own_values(ledger) if any(reference_tag(value) for _, value in facts) else {}
    found: dict[tuple[str, str], None] = {}
    for (address,) in alias_rows:
        found[(labels["alias"], address)] = None
    unresolved = 0
    for kind, value in sorted(facts, key=lambda f: (_KIND_ORDER.index(f[0]), f[1])):
        tag = reference_tag(value)
        if tag is not None:
            value = plaintext.get(tag)
            if value is None:
                unresolved += 1
                continue
        found[(labels[kind], value)] = None
    for (subject,) in cookies:
        name = subject.rpartition("@")[0]
        if name:
            found[(labels["cookie"], f"{name} ({domain})")] = None
    return Identifiers(list(found), unresolved)


def _own_values(ledger: Ledger) -> dict[str, str]:
    """Reference tag -> plaintext of every own value this machine can decrypt."""
    return {value.tag: value.value for value in list_values(ledger) if value.value is not None}


@dataclass
class TrackerParts:
    """What a letter to a tracker company lists (`letters.render_tracker_request`)."""

    cookies: list[TrackerCookie]
    values: list[TrackerValue]
    seen: list[TrackerSeen]
    unresolved: int  # references to own values this machine cannot decrypt

    def __bool__(self) -> bool:
        return bool(self.cookies or self.values or self.seen)


def tracker_parts(ledger: Ledger, company: TrackerCompany, lang: str) -> TrackerParts:
    """What the ledger holds about a tracker company (`company_view.company_record`), as a letter
    lists it: the cookies its domains set, your values they were sent (decrypted with this
    machine's key, as for a vendor), and the websites and dates where they saw your browser."""
    record = company_record(ledger, company.id)
    received = record["received"]
    cookies = [TrackerCookie(c["name"], tuple(c["domains"]), tuple(c["sites"]), c["how"] == "sent")
               for c in received["cookies"]]
    plaintext = _own_values(ledger) if any(reference_tag(v["value"]) for v in received["values"]) else {}
    values, unresolved = [], 0
    for sent in received["values"]:
        value, tag = sent["value"], reference_tag(sent["value"])
        if tag is not None:
            value = plaintext.get(tag)
            if value is None:
                unresolved += 1
                continue
        label = LABELS[lang].get(sent["kind"], LABELS[lang]["other"])
        values.append(TrackerValue(label, value, sent["encoding"], tuple(sent["sites"])))
    seen = [TrackerSeen(s["site"], tuple(s["domains"]), date.fromisoformat(s["first_seen"]),
                        date.fromisoformat(s["last_seen"])) for s in sorted(record["sites"], key=lambda s: s["site"])]
    return TrackerParts(cookies, values, seen, unresolved)


def tracker_request_domain(company: TrackerCompany) -> str:
    """The domain a request to a tracker company is recorded under (`whoknows requests` lists it):
    the company directory's domain for it, else its website's, else its first own site."""
    from .sites import site_of

    if company.directory_domain:
        return company.directory_domain
    website = site_of(urlsplit(company.website).hostname or "") if company.website else None
    if website:
        return website
    if company.sites:
        return company.sites[0]
    raise WhoknowsError(f"the tracker data names no domain for {company.name}: a request to it cannot be recorded")


def alias_to_send_from(ledger: Ledger, domain: str) -> str | None:
    """The vendor's active alias, else its most recent one; None when it has none."""
    rows = ledger.query(
        "SELECT a.address FROM aliases AS a JOIN vendors AS v ON v.id = a.vendor_id WHERE v.domain = ? "
        "ORDER BY a.state = 'active' DESC, a.created_at DESC, a.address LIMIT 1", (domain,))
    return rows[0][0] if rows else None


# -- the record of requests --------------------------------------------------------------------


def record_request(ledger: Ledger, domain: str, kind: str, lang: str, contact: str | None,
                   sent_on: date, due_on: date, about: int | None = None) -> tuple[int, bool]:
    """Record a request made; (row id, True if new). `about`: the request a complaint or a
    follow-up is about.

    A recorded request is never rewritten: the ledger keeps one request of a kind to a vendor per
    day, so the same request made again that day (same contact, same language, about the same
    request) is the one already recorded (False), and a different one is refused with a
    WhoknowsError that says what to do.
    """
    if kind not in KINDS:
        raise InputError(f"{kind!r} is not a kind of request ({', '.join(KINDS)})")
    with ledger.write() as db:
        vendor_id = vendor_ids(db, [domain])[domain]
        known = _same_day(db, vendor_id, kind, sent_on)
        if known is not None:
            _refuse_a_different_repeat(domain, known, lang, contact, about)
            return known["id"], False
        cursor = db.execute(
            "INSERT INTO rights_requests (vendor_id, kind, lang, contact, sent_on, due_on, about_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (vendor_id, kind, lang, contact, sent_on.isoformat(), due_on.isoformat(), about))
        return cursor.lastrowid, True


def check_not_a_different_repeat(ledger: Ledger, domain: str, kind: str, lang: str, contact: str | None,
                                 sent_on: date, about: int | None = None) -> int | None:
    """Before a letter is written: the id of the same request already recorded that day (None if
    there is none); WhoknowsError when one of that kind and day differs (see `record_request`)."""
    with ledger.read() as db:
        row = db.execute("SELECT id FROM vendors WHERE domain = ?", (domain,)).fetchone()
        known = None if row is None else _same_day(db, row[0], kind, sent_on)
    if known is None:
        return None
    _refuse_a_different_repeat(domain, known, lang, contact, about)
    return known["id"]


def _same_day(db, vendor_id: int, kind: str, sent_on: date):
    return db.execute("SELECT id, lang, contact, about_id FROM rights_requests "
                      "WHERE vendor_id = ? AND kind = ? AND sent_on = ?",
                      (vendor_id, kind, sent_on.isoformat())).fetchone()


def _refuse_a_different_repeat(domain: str, known, lang: str, contact: str | None, about: int | None) -> None:
    if known["about_id"] != about:
        raise WhoknowsError(
            f"request {known['id']} already records a letter of this kind about {display_domain(domain)} on that day, "
            f"about request {known['about_id']}, and a recorded request is never rewritten: date this one the day "
            "you send it (--date YYYY-MM-DD)")
    if (known["lang"], known["contact"]) == (lang, contact):
        return
    as_it_was = (f"--to {known['contact']} " if known["contact"] else "") + f"--lang {known['lang']}"
    raise WhoknowsError(
        f"request {known['id']} already records this request to {display_domain(domain)} on that day "
        f"(to {known['contact'] or 'no address'}, in {known['lang']}), and a recorded request is never rewritten: "
        f"make it again as it was ({as_it_was}), or date the new one the day you send it (--date YYYY-MM-DD)")


def list_requests(ledger: Ledger, today: date) -> list[dict]:
    """Every request, oldest due first, with `days_left`, `about` (the request a complaint or a
    follow-up is about), the `complaints` and `follow_ups` about it (id, date, to; a complaint also
    the authority's name), `overdue` (unanswered past its due date, and not complained about: a
    complaint is the step after overdue) and `status` (answered, complained, overdue or due)."""
    rows = ledger.query(
        "SELECT r.id, v.domain AS vendor, r.kind, r.lang, r.contact, r.sent_on, r.due_on, r.answered_on, "
        "r.about_id AS about FROM rights_requests AS r JOIN vendors AS v ON v.id = r.vendor_id "
        "ORDER BY r.due_on, v.domain, r.id")
    later: dict[int, dict[str, list[dict]]] = {}
    for row in sorted(rows, key=lambda row: (row["sent_on"], row["id"])):
        if row["about"] is not None and row["kind"] in ("complaint", "follow-up"):
            step = {"id": row["id"], "sent_on": row["sent_on"], "to": row["contact"]}
            if row["kind"] == "complaint":
                step["authority"] = authority_by_contact(row["contact"])
            later.setdefault(row["about"], {}).setdefault(row["kind"], []).append(step)
    requests = []
    for row in rows:
        record = dict(row)
        due = date.fromisoformat(record["due_on"])
        answered = record["answered_on"] is not None
        record["article"] = ARTICLES[record["kind"]]
        record["complaints"] = later.get(record["id"], {}).get("complaint", [])
        record["follow_ups"] = later.get(record["id"], {}).get("follow-up", [])
        record["days_left"] = None if answered else (due - today).days
        record["overdue"] = not answered and due < today and not record["complaints"]
        record["status"] = ("answered" if answered else "complained" if record["complaints"]
                            else "overdue" if record["overdue"] else "due")
        requests.append(record)
    return requests


def get_request(ledger: Ledger, request_id: int, today: date) -> dict:
    """Request `request_id` as `list_requests` gives it; NotFoundError naming where to look."""
    found = [r for r in list_requests(ledger, today) if r["id"] == request_id]
    if not found:
        raise NotFoundError(f"no request {request_id} ('whoknows requests' lists them)")
    return found[0]


def as_earlier(request: dict) -> EarlierRequest:
    """A recorded request as the letters that refer to it take it."""
    answered = request["answered_on"]
    return EarlierRequest(request["kind"], date.fromisoformat(request["sent_on"]), date.fromisoformat(request["due_on"]),
                          request["contact"], date.fromisoformat(answered) if answered else None)


def overdue_request(ledger: Ledger, request_id: int, today: date) -> dict:
    """Request `request_id`, if a complaint about it may be made on `today`: a request to the vendor
    (not itself a complaint), unanswered, past its due date. WhoknowsError saying why not."""
    request = get_request(ledger, request_id, today)
    if request["kind"] == "complaint":
        raise WhoknowsError(f"request {request_id} is itself a complaint to a supervisory authority: if it does "
                            "not answer within three months, GDPR Art. 78(2) gives you a court remedy, not another "
                            "complaint")
    earlier = [c for c in request["complaints"] if c["sent_on"] != today.isoformat()]
    if earlier:
        complaint = earlier[-1]
        raise WhoknowsError(f"request {request_id} to {display_domain(request['vendor'])} was complained about on "
                            f"{complaint['sent_on']} to {complaint['authority'] or complaint['to']} (request "
                            f"{complaint['id']}): the authority should tell you how it is going within three months "
                            "(GDPR Art. 78(2)); 'whoknows requests' shows when")
    if request["complaints"]:
        return request  # the same complaint again that day: recorded once (`record_request`)
    if request["answered_on"] is not None:
        raise WhoknowsError(f"request {request_id} to {display_domain(request['vendor'])} was answered on "
                            f"{request['answered_on']}: a complaint about no answer does not apply "
                            f"('whoknows request follow-up {request_id}' names what the answer left out)")
    if not request["overdue"]:
        raise WhoknowsError(f"request {request_id} to {display_domain(request['vendor'])} is not overdue yet: its "
                            f"answer is due by {request['due_on']} ({request['days_left']} days left)")
    return request


def sent_elsewhere(ledger: Ledger, domain: str, lang: str) -> tuple[list[SentElsewhere], int]:
    """What the proxy saw the vendor's pages send to third parties (not what it blocked), one
    entry per recipient and value (the earliest and latest time, the earliest row's encoding),
    labelled in `lang`; and how many entries name a value this machine cannot decrypt (left out)."""
    vendor_id = ledger.vendor_id(domain)
    if vendor_id is None:
        return [], 0
    with ledger.read() as db:
        leaks = [leak for leak in vendor_leaks(db, vendor_id)["sent_by_its_pages"] if not leak["blocked"]]
    plaintext = _own_values(ledger) if any(reference_tag(leak["value"]) for leak in leaks) else {}
    merged: dict[tuple[str, str, str], dict] = {}
    unresolved: set[tuple[str, str]] = set()
    for leak in sorted(leaks, key=lambda leak: leak["first_seen"]):
        value, tag = leak["value"], reference_tag(leak["value"])
        if tag is not None:
            if tag not in plaintext:
                unresolved.add((leak["recipient_host"], tag))
                continue
            value = plaintext[tag]
        key = (leak["recipient_host"], leak["kind"], value)
        entry = merged.setdefault(key, {**leak, "value": value})
        entry["last_seen"] = max(entry["last_seen"], leak["last_seen"])
    labels = LABELS[lang]
    found = [SentElsewhere(labels[e["kind"]], e["value"], e["encoding"], e["recipient_host"], e["company"],
                           date.fromisoformat(e["first_seen"][:10]), date.fromisoformat(e["last_seen"][:10]))
             for e in merged.values()]
    return found, len(unresolved)


def terms_cited(ledger: Ledger, domain: str, lang: str) -> TermsCited | None:
    """The person's terms as first proffered to the vendor (`whoknows.terms_records`), in `lang`,
    with the first value its pages sent a third party on or after that day; None when the proxy
    never offered it any. Values this machine cannot decrypt are left out, as in `sent_elsewhere`."""
    offer = earliest_offer(ledger, domain)
    if offer is None:
        return None
    try:
        term = find_term(f"{offer.term}/{offer.version}")
    except InputError:  # a term this whoknows no longer ships: cited by its name
        title, summary = offer.term, ""
    else:
        title, summary = term.title[lang], term.summary[lang]
    since = offer.offered_since
    try:
        leaks, _ = sent_elsewhere(ledger, domain, lang)
    except WhoknowsError:  # the key store cannot be read now: the terms are still worth citing
        leaks = []
    after = [leak for leak in leaks if leak.first_seen >= since]
    first = min(after, key=lambda leak: (leak.first_seen, leak.recipient, leak.label)) if after else None
    return TermsCited(title, offer.version, summary, OFFER_HEADER, since, offer.agreed_day, first)


def request_vendor(ledger: Ledger, request_id: int, on: date) -> str:
    """The vendor of request `request_id`, checked to be answerable on `on` (as `mark_answered`
    checks), without writing anything: so an export that comes with the answer is read first."""
    rows = ledger.query("SELECT v.domain, r.sent_on FROM rights_requests AS r JOIN vendors AS v ON v.id = r.vendor_id "
                        "WHERE r.id = ?", (request_id,))
    if not rows:
        raise NotFoundError(f"no request {request_id} ('whoknows requests' lists them)")
    if on.isoformat() < rows[0][1]:
        raise InputError(f"{on.isoformat()} is before the request was sent ({rows[0][1]})")
    return rows[0][0]


def held_values(ledger: Ledger, domain: str, lang: str) -> tuple[list[HeldValue], int]:
    """Each value the vendor holds that it was never given (`whoknows.findings`), with where and
    when it was seen, labelled in `lang`; and how many findings name a value this machine cannot
    decrypt (left out: a letter cannot name them)."""
    held, unresolved = [], 0
    for finding in for_vendor(ledger, domain, reveal=True):
        if finding.value is None:
            unresolved += 1
            continue
        held.append(HeldValue(LABELS[lang][finding.kind], finding.value,
                              tuple(_sighting(evidence) for evidence in finding.evidence)))
    return held, unresolved


def _sighting(evidence: Evidence) -> Sighting:
    detail, on = evidence.detail, date.fromisoformat(evidence.seen[:10])
    if evidence.source == "export":
        return Sighting("export", on, f"{detail['file']}, {detail['field']}")
    if evidence.source == "mail":
        return Sighting("mail", on, detail["alias"])
    if evidence.source == "page":
        return Sighting("page-blocked" if detail.get("blocked") else "page", on, detail["recipient"])
    if evidence.source == "leak":
        return Sighting("leak", on, detail.get("page") or detail.get("host") or "")
    return Sighting("foreign-mail", on, detail.get("alias_of") or "")


def answered_request(ledger: Ledger, request_id: int, today: date) -> tuple[dict, list[dict]]:
    """Request `request_id` and the data exports read as its answer, if a follow-up about the answer
    can be written: an access request, answered, with its export read. WhoknowsError saying why not."""
    request = get_request(ledger, request_id, today)
    vendor = display_domain(request["vendor"])
    if request["kind"] != "access":
        raise WhoknowsError(f"request {request_id} to {vendor} is not an access request ({request['kind']}, "
                            f"{request['article']}): a follow-up names what the answer to an access request (a copy "
                            "of your data) left out")
    if request["answered_on"] is None:
        if request["complaints"]:
            last = request["complaints"][-1]
            hint = f"you complained about it on {last['sent_on']} to {last['authority'] or last['to']}"
        elif request["overdue"]:
            hint = f"'whoknows request complain {request_id}'"
        else:
            hint = f"its answer is due by {request['due_on']}"
        raise WhoknowsError(f"request {request_id} to {vendor} has no answer recorded: record it with "
                            f"'whoknows request answered {request_id} --data PATH' ({hint})")
    exports = [dict(row) for row in ledger.query(
        "SELECT id, read_at FROM data_exports WHERE request_id = ? ORDER BY id", (request_id,))]
    if not exports:
        raise WhoknowsError(f"the ledger holds no data export for request {request_id}, so it cannot say what the "
                            f"answer left out: read it with 'whoknows request answered {request_id} --data PATH'")
    return request, exports


def answer_gaps(ledger: Ledger, request: dict, exports: list[dict], lang: str) -> tuple[list[SentElsewhere], list[Missing]]:
    """What an answer (its exports) leaves out of what the ledger showed by the day it came:
    - recipients: when no export lists any (no `recipients` category), each third party the
      vendor's pages sent one of your values to before that day;
    - your values the vendor was given (its aliases; what you told it or the proxy saw you send it
      that is one of your own values) that no export contains. Only values the export was searched
      for count: those that existed when it was read."""
    answered_on = date.fromisoformat(request["answered_on"])
    ids = [export["id"] for export in exports]
    marks = ", ".join("?" * len(ids))  # as many placeholders as exports
    categories = {row[0] for row in ledger.query(
        f"SELECT DISTINCT category FROM export_findings WHERE finding = 'category' AND export_id IN ({marks})", ids)}
    found = {value_identity(row[0], row[1]) for row in ledger.query(
        f"SELECT kind, value_ref FROM export_findings WHERE finding = 'value' AND export_id IN ({marks})", ids)}
    recipients = []
    if "recipients" not in categories:
        recipients = [s for s in sent_elsewhere(ledger, request["vendor"], lang)[0] if s.first_seen <= answered_on]
    read_at = min(export["read_at"] for export in exports)
    missing = [Missing(LABELS[lang][kind], value, given_on)
               for identity, (kind, value, given_on) in _given_values(ledger, request["vendor"], read_at).items()
               if identity not in found and given_on <= answered_on]
    return recipients, missing


def _given_values(ledger: Ledger, domain: str, searched_before: str) -> dict[tuple[str, str], tuple[str, str, date]]:
    """identity -> (kind, plaintext, first given) of what the vendor was given that an export read at
    `searched_before` was searched for: its aliases and your own values (`me`) made before then."""
    keys = load_keys(create=False)
    own = {v.tag: v for v in (list_values(ledger, keys) if keys is not None else [])
           if v.value is not None and v.created_at <= searched_before}
    given: dict[tuple[str, str], tuple[str, str, date]] = {}

    def add(identity, kind, value, when):
        day = date.fromisoformat(when[:10])
        if identity not in given or day < given[identity][2]:
            given[identity] = (kind, value, day)

    with ledger.read() as db:
        aliases = db.execute("SELECT a.address, a.created_at FROM aliases AS a JOIN vendors AS v ON v.id = a.vendor_id "
                             "WHERE v.domain = ? AND a.created_at <= ?", (domain, searched_before)).fetchall()
        told = db.execute("SELECT d.kind, d.value, d.first_seen FROM disclosures AS d JOIN vendors AS v "
                          "ON v.id = d.vendor_id WHERE v.domain = ? AND d.source IN ('told', 'form')",
                          (domain,)).fetchall()
    for address, created_at in aliases:
        add(("alias", address.lower()), "alias", address, created_at)
    for kind, value, first_seen in told:
        tag = reference_tag(value)
        if tag is None and kind in OWN_KINDS and keys is not None:
            tag = tag_of(lookup_hash(keys, kind, value))
        if tag in own:
            add(("me", tag), own[tag].kind, own[tag].value, first_seen)
    return given


def mark_answered(ledger: Ledger, request_id: int, on: date) -> dict:
    with ledger.write() as db:
        row = db.execute("SELECT sent_on FROM rights_requests WHERE id = ?", (request_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no request {request_id} ('whoknows requests' lists them)")
        if on.isoformat() < row[0]:
            raise InputError(f"{on.isoformat()} is before the request was sent ({row[0]})")
        db.execute("UPDATE rights_requests SET answered_on = ? WHERE id = ?", (on.isoformat(), request_id))
    return next(r for r in list_requests(ledger, on) if r["id"] == request_id)


__all__ = [
    "ARTICLES", "Identifiers", "KINDS", "LABELS", "alias_to_send_from", "as_earlier", "check_not_a_different_repeat",
    "get_request", "identifiers_for", "list_requests", "mark_answered", "overdue_request", "record_request",
    "answer_gaps", "answered_request", "held_values", "request_vendor", "sent_elsewhere",
]


def marketing_mail(ledger: Ledger, domain: str) -> list[MarketingMail]:
    """The vendor's mails that broke what you allowed it (`whoknows prefs --check`), each once with
    every rule it broke, oldest first: what `request object --from-check` lists (issue 15)."""
    from datetime import datetime, timezone

    from .mail_records import check_preferences

    breaches, _ = check_preferences(ledger)
    by_message: dict[str, tuple[object, list[BrokenRule]]] = {}
    for breach in breaches:
        if breach.vendor != domain:
            continue
        since = date.fromisoformat(breach.since[:10]) if breach.since else None
        for mail in breach.mails:
            broken = BrokenRule(
                breach.rule, since, breach.limit, breach.month or breach.week,
                breach.messages, mail.topics if breach.rule == "topic" else (), tuple(breach.allowed or ()),
                breach.duplicate)
            by_message.setdefault(mail.identity, (mail, []))[1].append(broken)
    order = {rule: place for place, rule in enumerate(("after-opt-out", "no-marketing", "channel", "topic",
                                                       "max-per-week", "max-per-month", "duplicate"))}
    return sorted((MarketingMail(datetime.fromisoformat(mail.sent_at.replace("Z", "+00:00")).astimezone(timezone.utc),
                                 mail.identity, mail.alias, tuple(sorted(broke, key=lambda b: order[b.rule])))
                   for mail, broke in by_message.values()), key=lambda m: (m.sent_at, m.message))
