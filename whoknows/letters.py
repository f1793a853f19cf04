"""Data-rights requests: GDPR letters to a vendor, in English or Spanish, ready to send.

`render_request` writes the letter (access, Art. 15; erasure, Art. 17; objection to direct
marketing, Art. 21(2)-(3); rectification, Art. 16; portability, Art. 20) in this project's own
words, addressed to the vendor's privacy contact, listing every identifier the vendor may hold
(aliases, addresses, phone, cookie IDs, account names), with the response deadline of Art. 12(3)
as a date. The letters that use the evidence take it as plain facts: `render_source_request`
(where each value it holds but was never given came from, Art. 15(1)(g) and 14),
`render_follow_up` (what an answer left out) and `render_complaint` (to a supervisory authority,
Art. 77, about a request left unanswered; the authority's three months of Art. 78(2) are its
deadline). `to_eml` turns it
into an RFC 5322 message sent from the vendor's alias, for any mail client or `sendmail`.

The deadline. Art. 12(3) GDPR: the controller acts "without undue delay and in any event within
one month of receipt of the request". Periods in EU law follow Regulation (EEC, Euratom) No 1182/71
(as the EDPB's guidelines on the right of access, 01/2022, also say): a period of one month ends on
the same date of the next month (a request sent on 5 March is due by 5 April); when that month has
no such date, on its last day (31 January -> 28 February, or 29 February in a leap year),
Art. 3(2)(c); a period ending on a Saturday or Sunday runs to the next Monday, Art. 3(4). Public
holidays would extend it further, but they differ by member state and are not applied: the date
given may be a day or two earlier than the legal deadline, never later. The request is taken to
be received the day it is sent (an email is).
"""

from __future__ import annotations

import calendar
import re
import secrets
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from .errors import InputError, WhoknowsError
from .sites import display_domain

KINDS = ("access", "erase", "object", "rectify", "port")
LANGUAGES = ("en", "es")
WIDTH = 72


@dataclass(frozen=True)
class VendorFacts:
    """What a letter needs to know about the vendor (the ledger's `vendors` row)."""

    domain: str
    name: str | None = None
    privacy_contact: str | None = None  # the privacy or data-protection email address
    postal_address: str | None = None


@dataclass(frozen=True)
class Letter:
    kind: str
    lang: str
    subject: str
    body: str
    to: str  # the vendor's privacy contact
    to_name: str  # the vendor's name, for the To header
    deadline: date
    sent_on: date
    requester_name: str | None = None


# -- dates -------------------------------------------------------------------------------------


def one_month_after(day: date) -> date:
    """The same date next month, or that month's last day when it has no such date."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def response_deadline(sent_on: date) -> date:
    """The last day of the one-month period of Art. 12(3), moved past a weekend (see above)."""
    deadline = one_month_after(sent_on)
    while deadline.weekday() >= 5:
        deadline += timedelta(days=1)
    return deadline


_MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
           "octubre", "noviembre", "diciembre"],
}


def long_date(day: date, lang: str) -> str:
    """`5 March 2026` / `5 de marzo de 2026` (no locale: the letter's language decides)."""
    month = _MONTHS[lang][day.month - 1]
    return f"{day.day} {month} {day.year}" if lang == "en" else f"{day.day} de {month} de {day.year}"


# -- the words ---------------------------------------------------------------------------------
# Each letter: addressee block, date, salutation, what is asked and on which legal basis, the
# identifiers, what exactly is requested, the deadline, identity and refusal, closing.

_COMMON = {
    "en": {
        "attention": "For the attention of the Data Protection Officer",
        "date": "Date: {date}",
        "salutation": "Dear Sir or Madam,",
        "gdpr": "Regulation (EU) 2016/679, the General Data Protection Regulation (GDPR)",
        "identifiers": "These are the identifiers under which you may hold data about me:",
        "deadline": (
            "Article 12(3) GDPR requires you to act on this request without undue delay and in "
            "any event within one month of receiving it, that is by {deadline}. Should you need "
            "to extend that period as Article 12(3) allows, please tell me so within the first "
            "month and explain why. Under Article 12(5), this request is free of charge."
        ),
        "identity": (
            "The identifiers above should be enough for you to find my data. If you have "
            "reasonable doubts about my identity, Article 12(6) allows you to ask only for the "
            "additional information needed to confirm it."
        ),
        "refusal": (
            "If you decide not to act on this request, Article 12(4) requires you to tell me "
            "within the same period why you are not acting, and that I may lodge a complaint with "
            "a supervisory authority and seek a judicial remedy."
        ),
        "closing": "Yours faithfully,",
        "anonymous": "The holder of the identifiers listed above",
        "recipients": (
            "Under Article 19, please communicate the {what} to each recipient to whom my data "
            "have been disclosed, and tell me who those recipients are."
        ),
    },
    "es": {
        "attention": "A la atención del Delegado de Protección de Datos",
        "date": "Fecha: {date}",
        "salutation": "Estimados señores:",
        "gdpr": "Reglamento (UE) 2016/679, General de Protección de Datos (RGPD)",
        "identifiers": "Pueden tener datos sobre mí asociados a los siguientes identificadores:",
        "deadline": (
            "Conforme al artículo 12, apartado 3, del RGPD, deben atender esta solicitud sin "
            "dilación indebida y, en todo caso, en el plazo de un mes desde su recepción, es "
            "decir, a más tardar el {deadline}. Si necesitaran prorrogar ese plazo en los términos "
            "del mismo artículo, les ruego que me lo comuniquen dentro del primer mes, indicando "
            "los motivos. Según el artículo 12, apartado 5, esta solicitud es gratuita."
        ),
        "identity": (
            "Los identificadores anteriores deberían bastar para localizar mis datos. Si tuvieran "
            "dudas razonables sobre mi identidad, el artículo 12, apartado 6, les permite "
            "solicitar únicamente la información adicional necesaria para confirmarla."
        ),
        "refusal": (
            "Si decidieran no dar curso a esta solicitud, el artículo 12, apartado 4, les obliga "
            "a comunicarme en el mismo plazo los motivos, así como mi derecho a presentar una "
            "reclamación ante una autoridad de control y a ejercitar acciones judiciales."
        ),
        "closing": "Atentamente,",
        "anonymous": "La persona titular de los identificadores indicados",
        "recipients": (
            "Conforme al artículo 19, les ruego que comuniquen la {what} a cada destinatario al "
            "que hayan comunicado mis datos y que me indiquen quiénes son esos destinatarios."
        ),
    },
}

_SUBJECTS = {
    "en": {
        "access": "Data subject access request (Article 15 GDPR)",
        "erase": "Request for erasure of personal data (Article 17 GDPR)",
        "object": "Objection to processing for direct marketing (Article 21 GDPR)",
        "rectify": "Request for rectification of personal data (Article 16 GDPR)",
        "port": "Request for data portability (Article 20 GDPR)",
    },
    "es": {
        "access": "Solicitud de acceso a datos personales (artículo 15 del RGPD)",
        "erase": "Solicitud de supresión de datos personales (artículo 17 del RGPD)",
        "object": "Oposición al tratamiento con fines de mercadotecnia directa (artículo 21 del RGPD)",
        "rectify": "Solicitud de rectificación de datos personales (artículo 16 del RGPD)",
        "port": "Solicitud de portabilidad de datos (artículo 20 del RGPD)",
    },
}

_INTROS = {
    "en": {
        "access": (
            "Under Article 15 of {gdpr}, I am exercising my right of access to all personal data "
            "concerning me that {vendor} processes."
        ),
        "erase": (
            "Under Article 17 of {gdpr}, I ask you to erase, without undue delay, all personal "
            "data concerning me that {vendor} processes."
        ),
        "object": (
            "Under Article 21(2) of {gdpr}, I object to {vendor} processing my personal data for "
            "direct marketing purposes, including any profiling related to direct marketing."
        ),
        "rectify": (
            "Under Article 16 of {gdpr}, I ask {vendor} to rectify, without undue delay, the "
            "inaccurate personal data it holds about me, and to complete the incomplete data, "
            "as set out below."
        ),
        "port": (
            "Under Article 20(1) of {gdpr}, I ask {vendor} to provide me with the personal data "
            "concerning me that I have provided to it, in a structured, commonly used and "
            "machine-readable format."
        ),
    },
    "es": {
        "access": (
            "Mediante este escrito ejerzo el derecho de acceso que me reconoce el artículo 15 del "
            "{gdpr}, respecto de todos los datos personales que me conciernen y que {vendor} trata."
        ),
        "erase": (
            "Conforme al artículo 17 del {gdpr}, les solicito que supriman sin dilación indebida "
            "todos los datos personales que me conciernen y que {vendor} trata."
        ),
        "object": (
            "Conforme al artículo 21, apartado 2, del {gdpr}, me opongo a que {vendor} trate mis "
            "datos personales con fines de mercadotecnia directa, incluida cualquier elaboración "
            "de perfiles relacionada con ella."
        ),
        "rectify": (
            "Conforme al artículo 16 del {gdpr}, les solicito que {vendor} rectifique sin dilación "
            "indebida los datos personales inexactos que tiene sobre mí y complete los "
            "incompletos, según se indica a continuación."
        ),
        "port": (
            "Conforme al artículo 20, apartado 1, del {gdpr}, les solicito que {vendor} me "
            "facilite los datos personales que me incumben y que le he facilitado, en un formato "
            "estructurado, de uso común y lectura mecánica."
        ),
    },
}

_ACCESS = {
    "en": [
        "Please confirm whether you process personal data concerning me and, if you do, send me:",
        ("1.", "a copy of those data (Article 15(3)), in a commonly used electronic form, since I "
               "make this request electronically;"),
        ("2.", "the following information (Article 15(1)(a) to (h) and 15(2)):"),
        ("(a)", "every purpose for which you process the data;"),
        ("(b)", "which categories of personal data you process;"),
        ("(c)", "to whom you have disclosed the data or will disclose them, by name or at least "
                "by category, and in particular any recipient in a third country or any "
                "international organisation;"),
        ("(d)", "for how long you will keep the data or, if that cannot be said, the criteria "
                "that decide it;"),
        ("(e)", "that I may ask you to rectify or erase the data or to restrict their processing, "
                "and that I may object to that processing;"),
        ("(f)", "that I may lodge a complaint with a supervisory authority;"),
        ("(g)", "where you did not collect the data from me, all the information you have about "
                "their source;"),
        ("(h)", "whether you take automated decisions about me, including profiling, as referred "
                "to in Article 22(1) and (4), and if so meaningful information about the logic "
                "involved and the significance and envisaged consequences for me;"),
        "and, if you transfer the data to a third country or an international organisation, the "
        "appropriate safeguards under Article 46 that apply to the transfer (Article 15(2)).",
    ],
    "es": [
        "Les ruego que me confirmen si tratan datos personales que me conciernen y, en tal caso, "
        "que me faciliten:",
        ("1.", "una copia de esos datos (artículo 15, apartado 3), en un formato electrónico de "
               "uso común, puesto que presento esta solicitud por medios electrónicos;"),
        ("2.", "la siguiente información (artículo 15, apartado 1, letras a) a h), y apartado 2):"),
        ("a)", "todos los fines para los que tratan los datos;"),
        ("b)", "qué categorías de datos personales tratan;"),
        ("c)", "a quién han comunicado o comunicarán los datos, con su nombre o al menos su "
               "categoría, y en particular si se trata de destinatarios en terceros países o de "
               "organizaciones internacionales;"),
        ("d)", "durante cuánto tiempo conservarán los datos o, si no pudiera precisarse, con qué "
               "criterios se decide;"),
        ("e)", "que puedo solicitarles la rectificación o la supresión de los datos o la "
               "limitación de su tratamiento, y oponerme a dicho tratamiento;"),
        ("f)", "que puedo presentar una reclamación ante una autoridad de control;"),
        ("g)", "si no obtuvieron los datos de mí, toda la información de que dispongan sobre su "
               "origen;"),
        ("h)", "si toman decisiones automatizadas sobre mí, incluida la elaboración de perfiles, "
               "a que se refiere el artículo 22, apartados 1 y 4, y en tal caso información "
               "significativa sobre la lógica aplicada y sobre la importancia y las consecuencias "
               "previstas para mí;"),
        "y, si transfieren los datos a un tercer país o a una organización internacional, las "
        "garantías adecuadas del artículo 46 que amparan la transferencia (artículo 15, apartado 2).",
    ],
}

_ERASE = {
    "en": [
        "I ask for erasure on the following grounds of Article 17(1); any one of them is enough:",
        ("(a)", "the data are no longer necessary for the purposes for which you collected or "
                "otherwise processed them;"),
        ("(b)", "I withdraw any consent on which the processing is based (Article 6(1)(a) or "
                "Article 9(2)(a)), and there is no other legal ground for it;"),
        ("(c)", "I object to the processing under Article 21(1), and there are no overriding "
                "legitimate grounds for it; and I object under Article 21(2) to any processing "
                "for direct marketing;"),
        ("(d)", "to the extent that any of the data have been processed unlawfully."),
        "If you have made my data public, Article 17(2) requires you to take reasonable steps to "
        "inform the controllers processing them that I have asked for the erasure of any links "
        "to, copies of or replications of those data.",
        "{recipients}",
        "If you consider that an exception in Article 17(3) applies to some of the data, please "
        "tell me which data and which exception, erase everything else, and use the data you "
        "keep for that purpose only. Please confirm the erasure in writing once it is done.",
    ],
    "es": [
        "Solicito la supresión por los siguientes motivos del artículo 17, apartado 1; basta con "
        "que concurra cualquiera de ellos:",
        ("a)", "los datos ya no son necesarios para los fines para los que fueron recogidos o "
               "tratados de otro modo;"),
        ("b)", "retiro cualquier consentimiento en el que se base el tratamiento (artículo 6, "
               "apartado 1, letra a), o artículo 9, apartado 2, letra a)), y este no se basa en "
               "ningún otro fundamento jurídico;"),
        ("c)", "me opongo al tratamiento conforme al artículo 21, apartado 1, sin que prevalezcan "
               "otros motivos legítimos para él, y me opongo conforme al artículo 21, apartado 2, "
               "a todo tratamiento con fines de mercadotecnia directa;"),
        ("d)", "en la medida en que alguno de los datos se haya tratado de forma ilícita."),
        "Si hubieran hecho públicos mis datos, el artículo 17, apartado 2, les obliga a adoptar "
        "medidas razonables para informar a los responsables que los estén tratando de que he "
        "solicitado la supresión de cualquier enlace a esos datos y de cualquier copia o réplica "
        "de ellos.",
        "{recipients}",
        "Si consideran que alguna excepción del artículo 17, apartado 3, es aplicable a parte de "
        "los datos, les ruego que me indiquen qué datos y qué excepción, que supriman todos los "
        "demás y que utilicen los que conserven únicamente para esa finalidad. Les ruego que me "
        "confirmen por escrito la supresión una vez realizada.",
    ],
}

_OBJECT = {
    "en": [
        "This right is absolute. Under Article 21(3), once I object, my personal data must no "
        "longer be processed for these purposes: no balancing of interests applies, and I do not "
        "have to give reasons.",
        "The objection covers every identifier listed above and every channel: email, post, "
        "telephone, text messages and messaging apps, and targeted advertising online. It also "
        "covers disclosing my data to others for their own direct marketing.",
        "Please confirm that you have complied with this objection.",
    ],
    "es": [
        "Este derecho no admite ponderación. Según el artículo 21, apartado 3, una vez ejercida "
        "la oposición, mis datos personales dejarán de tratarse para dichos fines, sin que deba "
        "alegar motivo alguno.",
        "La oposición se extiende a todos los identificadores indicados y a todos los canales: "
        "correo electrónico, correo postal, teléfono, SMS y aplicaciones de mensajería, y "
        "publicidad dirigida en línea. Comprende también la comunicación de mis datos a terceros "
        "para su propia mercadotecnia directa.",
        "Les ruego que me confirmen que han atendido esta oposición.",
    ],
}

_PORT = {
    "en": [
        "This covers the data I provided actively (such as account, contact and order details) "
        "and the data observed from my use of your services and devices (such as activity and "
        "usage records), as the guidelines on the right to data portability (WP 242 rev.01), "
        "endorsed by the European Data Protection Board, explain.",
        "Please send the data electronically, since I make this request electronically, in a "
        "format such as JSON, CSV or XML, with a description of any field whose meaning is not "
        "evident.",
        "This right applies where the processing is based on my consent or on a contract with me "
        "and is carried out by automated means (Article 20(1)(a) and (b)). If you consider that "
        "it does not apply to some of the data, please tell me which data and why; my right of "
        "access to all of them under Article 15 remains.",
    ],
    "es": [
        "La solicitud comprende los datos que he facilitado activamente (como los de mi cuenta, "
        "de contacto y de mis pedidos) y los observados a partir del uso de sus servicios y "
        "dispositivos (como los registros de actividad y de uso), según explican las directrices "
        "sobre el derecho a la portabilidad de los datos (WP 242 rev.01), refrendadas por el "
        "Comité Europeo de Protección de Datos.",
        "Les ruego que me envíen los datos por medios electrónicos, puesto que presento esta "
        "solicitud por esa vía, en un formato como JSON, CSV o XML, con una descripción de los "
        "campos cuyo significado no sea evidente.",
        "Este derecho se aplica cuando el tratamiento se basa en mi consentimiento o en un "
        "contrato conmigo y se efectúa por medios automatizados (artículo 20, apartado 1, letras "
        "a) y b)). Si consideran que no se aplica a parte de los datos, les ruego que me indiquen "
        "a qué datos y por qué; mi derecho de acceso a todos ellos conforme al artículo 15 se "
        "mantiene.",
    ],
}

_RECTIFY = {
    "en": {
        "intro": "The corrections:",
        "change": "{label}: you hold \u201c{current}\u201d; it should be \u201c{correct}\u201d",
        "set": "{label}: it should be \u201c{correct}\u201d",
        "what": "rectification",
        "confirm": "Please confirm the rectification once it is done.",
    },
    "es": {
        "intro": "Las rectificaciones:",
        "change": "{label}: figura «{current}»; debe figurar «{correct}»",
        "set": "{label}: debe figurar «{correct}»",
        "what": "rectificación",
        "confirm": "Les ruego que me confirmen la rectificación una vez realizada.",
    },
}


# -- rendering ---------------------------------------------------------------------------------


def render_request(
    kind: str,
    lang: str,
    vendor: VendorFacts,
    identifiers: Sequence[tuple[str, str]],
    sent_on: date,
    requester_name: str | None = None,
    corrections: Sequence[tuple[str, str] | tuple[str, str, str]] | None = None,
    tracked: bool = False,
    terms: TermsCited | None = None,
    marketing_mail: Sequence[MarketingMail] = (),
) -> Letter:
    """A GDPR request of `kind` (access, erase, object, rectify, port) in `lang` (en, es).

    `identifiers`: (label, value) pairs, all listed in the letter. `corrections` (rectify only):
    (what, correct value) or (what, value you hold, correct value). `tracked`: the addressee is a
    tracker company that collected the data from the person's browser (`render_tracker_request`).
    `terms`: the person's terms proffered to the vendor, cited after the request itself.
    `marketing_mail` (object only): the vendor's mails that broke what the person allowed
    (`prefs --check`), listed with each rule broken; a withdrawal of consent among them adds
    Art. 7(3), a duplicate mailing says the objection covers every record.
    Raises InputError for a kind, language, identifier or correction that cannot be used,
    WhoknowsError when the vendor has no privacy contact.
    """
    if kind not in KINDS:
        raise InputError(f"{kind!r} is not a kind of request; use one of {', '.join(KINDS)}")
    name = _vendor_name(lang, vendor)
    items = _identifiers(identifiers)
    changes = _corrections(kind, corrections)
    words = _COMMON[lang]
    deadline = response_deadline(sent_on)
    signature = _signature(requester_name)

    blocks: list[str] = [_addressee(vendor, name, words), words["date"].format(date=long_date(sent_on, lang))]
    blocks.append(words["salutation"])
    blocks.append(_fill(_INTROS[lang][kind].format(gdpr=words["gdpr"], vendor=name)))
    if tracked:
        blocks.append(_fill(_TRACKED[lang]["collected"]))
    if terms is not None:
        blocks.append(_fill(_terms_text(terms, lang)))
    if marketing_mail:
        if kind != "object":
            raise InputError("the mails that broke your preferences go in an objection (object) only")
        blocks += _marketing_mail_blocks(marketing_mail, lang)
    if kind == "rectify":
        blocks.append(_RECTIFY[lang]["intro"] + "\n" + "\n".join(_bullet(c) for c in _change_lines(changes, lang)))
    blocks.append(_identifier_block(items, words))
    blocks += _middle(kind, lang)
    blocks += _ending(lang, deadline, signature)
    withdrawn = any(broken.rule == "after-opt-out" for mail in marketing_mail for broken in mail.broke)
    return Letter(
        kind=kind, lang=lang, subject=_MAIL_WORDS[lang]["subject"] if withdrawn else _SUBJECTS[lang][kind],
        body="\n\n".join(blocks) + "\n",
        to=vendor.privacy_contact.strip(), to_name=name, deadline=deadline, sent_on=sent_on,
        requester_name=signature,
    )


# -- requests to tracker companies ---------------------------------------------------------------
# A tracker company was never given anything by the person: its domains, embedded in websites,
# collected it from the browser. The letter says so and lists what the ledger holds about it: the
# cookies its domains set (by name: whoknows keeps no cookie values), the person's values they were
# sent, and the websites and dates on which they saw the browser.

TRACKER_KINDS = ("access", "erase", "object")

_TRACKED = {
    "en": {
        "collected": (
            "I have not given you these data myself: your domains collected them from my browser on "
            "the websites that embed them. Below are the cookies they set or were sent, the "
            "personal data of mine they were sent, and the websites and dates on which my records "
            "show them. I do not know the values of those cookies: please use their names, the "
            "websites and the dates to find the identifiers you assigned to my browser and "
            "everything linked to them."
        ),
        "cookie": "Cookie", "website": "Website",
        "cookie_value": "{name}, set by {domains} on {sites}",
        "cookie_sent": "{name}, sent to {domains} on {sites}",
        "value": "{value}, received {encoding} on {sites}",
        "seen": "{site}, requests to {domains} {when}",
        "on": "on {first}", "between": "from {first} to {last}",
    },
    "es": {
        "collected": (
            "No les he facilitado yo estos datos: sus dominios los recogieron de mi navegador en los "
            "sitios web que los integran. A continuación figuran las cookies que instalaron o "
            "recibieron, los datos personales míos que recibieron y los sitios web y fechas en que "
            "mis registros los muestran. No conozco los valores de esas cookies: les ruego que utilicen sus nombres, "
            "los sitios web y las fechas para localizar los identificadores que asignaron a mi "
            "navegador y todo lo vinculado a ellos."
        ),
        "cookie": "Cookie", "website": "Sitio web",
        "cookie_value": "{name}, instalada por {domains} en {sites}",
        "cookie_sent": "{name}, enviada a {domains} en {sites}",
        "value": "{value}, que recibieron {encoding} en {sites}",
        "seen": "{site}, solicitudes a {domains} {when}",
        "on": "el {first}", "between": "del {first} al {last}",
    },
}


@dataclass(frozen=True)
class TrackerCookie:
    """A cookie a tracker company's domains set, by name (its value is never known)."""

    name: str
    domains: tuple[str, ...]  # its domains that set it (or were sent it)
    sites: tuple[str, ...]  # the websites on whose pages it was set
    sent: bool = False  # the browser sent it to those domains (rather than they set it)


@dataclass(frozen=True)
class TrackerValue:
    """One of the person's values a tracker company's domains were sent."""

    label: str  # "Email address", in the letter's language
    value: str  # the value itself (decrypted for the letter)
    encoding: str  # as the leak scanner names it: plain, sha256...
    sites: tuple[str, ...]


@dataclass(frozen=True)
class TrackerSeen:
    """A website on whose pages a tracker company's domains received requests from the browser."""

    site: str
    domains: tuple[str, ...]
    first_seen: date
    last_seen: date


def render_tracker_request(kind: str, lang: str, company: VendorFacts, cookies: Sequence[TrackerCookie],
                           values: Sequence[TrackerValue], seen: Sequence[TrackerSeen], sent_on: date,
                           requester_name: str | None = None) -> Letter:
    """A GDPR request of `kind` (access, erase, object) to a tracker company, in `lang` (en, es):
    the letter to a vendor, saying how the company got the data, with the cookies, values and
    websites as its identifiers. InputError for another kind or nothing to list."""
    if kind not in TRACKER_KINDS:
        raise InputError(f"a request to a tracker company is one of {', '.join(TRACKER_KINDS)}, not {kind!r}")
    _check_lang(lang)
    words = _TRACKED[lang]
    items = [(words["cookie"], words["cookie_sent" if c.sent else "cookie_value"].format(
        name=c.name, domains=", ".join(c.domains), sites=", ".join(c.sites))) for c in cookies]
    items += [(v.label, words["value"].format(value=v.value, encoding=_encoding(v.encoding, lang),
                                              sites=", ".join(v.sites))) for v in values]
    for s in seen:
        first, last = long_date(s.first_seen, lang), long_date(s.last_seen, lang)
        when = words["on"].format(first=first) if first == last else words["between"].format(first=first, last=last)
        items.append((words["website"], words["seen"].format(site=s.site, domains=", ".join(s.domains), when=when)))
    return render_request(kind, lang, company, items, sent_on, requester_name, tracked=True)


def _vendor_name(lang: str, vendor: VendorFacts) -> str:
    """The name a letter to `vendor` uses; InputError for a language letters are not written in,
    WhoknowsError when the vendor has no privacy contact."""
    _check_lang(lang)
    if not vendor.privacy_contact or not vendor.privacy_contact.strip():
        raise WhoknowsError(
            f"no privacy contact is known for {vendor.domain}: find the vendor's privacy or "
            "data-protection address (its privacy policy names one) and record it first"
        )
    return vendor.name.strip() if vendor.name and vendor.name.strip() else display_domain(vendor.domain)


def _check_lang(lang: str) -> None:
    if lang not in LANGUAGES:
        raise InputError(f"{lang!r} is not a language letters are written in; use {' or '.join(LANGUAGES)}")


def _signature(requester_name: str | None) -> str | None:
    return " ".join(requester_name.split()) if requester_name and requester_name.strip() else None


def _identifier_block(items: list[tuple[str, str]], words: dict) -> str:
    return words["identifiers"] + "\n" + "\n".join(_bullet(f"{label}: {value}") for label, value in items)


def _ending(lang: str, deadline: date, signature: str | None, identity: bool = True) -> list[str]:
    """The deadline of Art. 12(3), identity (Art. 12(6)), refusal (Art. 12(4)) and the closing."""
    words = _COMMON[lang]
    due = long_date(deadline, lang).replace(" ", _NBSP)
    blocks = [_fill(words["deadline"].format(deadline=due))]
    if identity:
        blocks.append(_fill(words["identity"]))
    blocks.append(_fill(words["refusal"]))
    blocks.append(words["closing"] + "\n" + (signature or words["anonymous"]))
    return blocks


def _identifiers(identifiers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    items = []
    for label, value in identifiers:
        label, value = " ".join(str(label).split()), " ".join(str(value).split())
        if not label or not value:
            raise InputError("every identifier needs a label and a value")
        items.append((label, value))
    if not items:
        raise InputError("list at least one identifier (an alias, an email address, an account...)")
    return items


def _corrections(kind: str, corrections) -> list[tuple[str, str | None, str]]:
    if kind != "rectify":
        if corrections:
            raise InputError("corrections only go in a rectification request")
        return []
    if not corrections:
        raise InputError("a rectification request needs at least one correction")
    out = []
    for item in corrections:
        if len(item) not in (2, 3):
            raise InputError("a correction is (what, correct value) or (what, value held, correct value)")
        label, *values = (" ".join(str(part).split()) for part in item)
        current, correct = (None, values[0]) if len(values) == 1 else values
        if not label or not correct:
            raise InputError("every correction needs what to correct and the correct value")
        out.append((label, current or None, correct))
    return out


def _change_lines(changes, lang: str) -> list[str]:
    words = _RECTIFY[lang]
    return [
        words["change"].format(label=label, current=current, correct=correct) if current
        else words["set"].format(label=label, correct=correct)
        for label, current, correct in changes
    ]


def _middle(kind: str, lang: str) -> list[str]:
    """The paragraphs that say exactly what is requested."""
    recipients = _COMMON[lang]["recipients"]
    if kind == "access":
        return [_numbered(_ACCESS[lang])]
    if kind == "erase":
        what = "erasure" if lang == "en" else "supresión"
        paragraphs = [p.replace("{recipients}", recipients.format(what=what)) if isinstance(p, str) else p
                      for p in _ERASE[lang]]
        return [_numbered(paragraphs[:5])] + [_fill(p) for p in paragraphs[5:]]
    if kind == "object":
        return [_fill(p) for p in _OBJECT[lang]]
    if kind == "port":
        return [_fill(p) for p in _PORT[lang]]
    words = _RECTIFY[lang]
    return [_fill(recipients.format(what=words["what"])), _fill(words["confirm"])]


def _addressee(vendor: VendorFacts, name: str, words: dict) -> str:
    lines = [name, words["attention"]]
    if vendor.postal_address:
        lines += [line.strip() for line in vendor.postal_address.splitlines() if line.strip()]
    lines.append(vendor.privacy_contact.strip())
    return "\n".join(lines)


# Kept on one line when paragraphs are wrapped: `Article 21(2)`, `apartado 3` (and dates, below).
_UNBREAKABLE = re.compile(r"\b(Article|artículo|apartados?|letras?) (?=\S)")
_NBSP = "\u00a0"


def _fill(text: str, indent: str = "", hang: str | None = None) -> str:
    # textwrap breaks only at ASCII whitespace: a no-break space holds words together until the
    # paragraph is wrapped, then becomes a plain space again.
    text = _UNBREAKABLE.sub(lambda m: m.group(0)[:-1] + _NBSP, text)
    wrapped = textwrap.fill(
        text, WIDTH, initial_indent=indent, subsequent_indent=hang if hang is not None else indent,
        break_long_words=False, break_on_hyphens=False,
    )
    return wrapped.replace(_NBSP, " ")


def _bullet(text: str) -> str:
    return _fill(text, "- ", "  ")


def _numbered(parts: list) -> str:
    """A lead paragraph and its items: `1.` at the margin with `(a)`/`a)` under it, or letters
    alone at the margin; a closing line after nested items continues the last numbered item."""
    nested = any(isinstance(part, tuple) and part[0][0].isdigit() for part in parts)
    lines = []
    for position, part in enumerate(parts):
        if isinstance(part, str):
            lines.append(_fill(part, "   " if position and nested else ""))
            continue
        mark, text = part
        lead = ("" if mark[0].isdigit() or not nested else "   ") + mark + " "
        lines.append(_fill(text, lead, " " * len(lead)))
    return "\n".join(lines)


# -- letters that use the evidence -------------------------------------------------------------
# What the ledger shows, handed over as plain facts (the CLI gathers them: whoknows.data_rights),
# worded here in the letter's language: a value a vendor holds that it was never given (a source
# request, Art. 15(1)(g) and 14), what an answer left out (a follow-up), and an unanswered request
# (a complaint to a supervisory authority, Art. 77).


@dataclass(frozen=True)
class Sighting:
    """Where and when a value was seen: `where` is `export` (the vendor's data export: `detail`
    names the file and field), `mail` (its mail: `detail` names the address it reached), `page` or
    `page-blocked` (its pages sent it, or tried to: `detail` names the recipient), `leak` (another
    site's pages sent it to the vendor: `detail` names that site) or `foreign-mail` (it wrote to an
    alias made for another vendor: `detail` names that vendor)."""

    where: str
    on: date
    detail: str = ""


@dataclass(frozen=True)
class HeldValue:
    """A value the vendor holds that it was never given, with every place it was seen."""

    label: str  # what it is, in the letter's language ("Telephone number")
    value: str
    sightings: tuple[Sighting, ...]

    @property
    def earliest(self) -> date:
        return min(s.on for s in self.sightings)


@dataclass(frozen=True)
class SentElsewhere:
    """The proxy saw the vendor's pages send one of the user's values to a third party."""

    label: str  # in the letter's language
    value: str
    encoding: str  # the leak's encoding (plain, url, base64, md5, sha1, sha256 and their variants)
    recipient: str  # the host it went to
    company: str | None
    first_seen: date
    last_seen: date


@dataclass(frozen=True)
class Missing:
    """A value the user gave the vendor that its answer does not contain."""

    label: str
    value: str
    given_on: date


@dataclass(frozen=True)
class EarlierRequest:
    """The request a follow-up or a complaint is about."""

    kind: str  # one of KINDS, or `source`
    sent_on: date
    due_on: date
    contact: str | None = None
    answered_on: date | None = None


@dataclass(frozen=True)
class AuthorityFacts:
    """Where a complaint goes (`whoknows.authorities.Authority`, as plain facts)."""

    name: str
    own_name: str | None
    address: tuple[str, ...] | None
    email: str | None
    web: str


def months_after(day: date, months: int) -> date:
    """`one_month_after` applied `months` times from the same start (31 January + 3 months = 30 April)."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


_ENCODINGS = {
    "en": {"plain": "as plain text", "url": "URL-encoded", "base64": "base64-encoded", "md5": "as an MD5 hash",
           "sha1": "as a SHA-1 hash", "sha256": "as a SHA-256 hash"},
    "es": {"plain": "en texto plano", "url": "con codificación URL", "base64": "con codificación base64",
           "md5": "como hash MD5", "sha1": "como hash SHA-1", "sha256": "como hash SHA-256"},
}


def _encoding(encoding: str, lang: str) -> str:
    family = encoding.split("-")[0]  # sha256-upper is SHA-256, url-plus is URL-encoding
    family = "base64" if family.startswith("base64") else "plain" if family == "casefold" else family
    return _ENCODINGS[lang].get(family, encoding)


_EVIDENCE = {
    "en": {
        "export": "in the data export {you} sent me ({detail})",
        "mail": "in {your} email to my address {detail}",
        "page": "in what {your} pages sent to {detail}",
        "page-blocked": "in what {your} pages tried to send to {detail} (I blocked it)",
        "leak": "in what pages of {detail} sent {you}",
        "foreign-mail": "in {your} email to the address I gave only to {detail}",
        "seen_on": "{where}, {on}",
        "held": "{label}: {value} (first seen on {earliest}): {sightings}",
        "sent": ("On {first} {your} pages sent my {what} ({value}) {encoding} to {recipient}{company}"
                 "{until}."),
        "until": "; last seen on {last}",
        "you": {"you": "you", "your": "your"},
        "it": {"you": "it", "your": "its"},
        "missing": "{label}: {value}, which I gave you on {given}, is not in your answer.",
        "no_recipients": "Your answer names no recipient of my data, but:",
    },
    "es": {
        "export": "en la exportación de datos que me {you} ({detail})",
        "mail": "en su correo electrónico a mi dirección {detail}",
        "page": "en lo que sus páginas enviaron a {detail}",
        "page-blocked": "en lo que sus páginas intentaron enviar a {detail} (lo bloqueé)",
        "leak": "en lo que páginas de {detail} {to_you} enviaron",
        "foreign-mail": "en su correo electrónico a la dirección que solo di a {detail}",
        "seen_on": "{where}, el {on}",
        "held": "{label}: {value} (primera constancia: {earliest}): {sightings}",
        "sent": ("El {first} sus páginas enviaron mi {what} ({value}) {encoding} a {recipient}{company}"
                 "{until}."),
        "until": "; la última vez, el {last}",
        "you": {"you": "enviaron", "your": "sus", "to_you": "les"},
        "it": {"you": "envió", "your": "sus", "to_you": "le"},
        "missing": "{label}: {value}, que les facilité el {given}, no figura en su respuesta.",
        "no_recipients": "Su respuesta no menciona ningún destinatario de mis datos, pero:",
    },
}


def _held_line(held: HeldValue, lang: str, voice: str = "you") -> str:
    """`voice`: `you` in a letter to the vendor, `it` in one about the vendor (a complaint)."""
    words = _EVIDENCE[lang]
    sightings = "; ".join(
        words["seen_on"].format(where=words[s.where].format(detail=s.detail, **words[voice]), on=long_date(s.on, lang))
        for s in sorted(held.sightings, key=lambda s: (s.on, s.where, s.detail)))
    return words["held"].format(label=held.label, value=held.value, earliest=long_date(held.earliest, lang),
                                sightings=sightings)


def _sent_line(sent: SentElsewhere, lang: str, voice: str = "you") -> str:
    words = _EVIDENCE[lang]
    until = "" if sent.last_seen == sent.first_seen else words["until"].format(last=long_date(sent.last_seen, lang))
    return words["sent"].format(
        first=long_date(sent.first_seen, lang), what=sent.label[:1].lower() + sent.label[1:], value=sent.value,
        encoding=_encoding(sent.encoding, lang), recipient=sent.recipient,
        company=f" ({sent.company})" if sent.company else "", until=until, **words[voice])


def _missing_line(missing: Missing, lang: str) -> str:
    return _EVIDENCE[lang]["missing"].format(label=missing.label, value=missing.value,
                                             given=long_date(missing.given_on, lang))


# -- personal terms --------------------------------------------------------------------------------
# The person's own terms, proffered by the proxy on every request to the vendor's site
# (`whoknows.personal_terms`, `whoknows.terms_records`): since when, whether the vendor agreed, and
# the first time after that its pages sent one of the person's values to a third party.


@dataclass(frozen=True)
class TermsCited:
    """The person's terms as they were proffered to the vendor, with what its pages did since."""

    title: str  # the term's title, in the letter's language
    version: int
    summary: str  # what it says, in the letter's language
    header: str  # the header they travelled in (`Personal-Terms`)
    offered_since: date
    agreed_on: date | None
    sent_after: SentElsewhere | None = None  # the first value its pages sent a third party since then


_TERMS = {
    "en": {
        "offered": ("Since {since}, every request my browser made to {site} has carried my personal terms, "
                    "\u201c{title}\u201d (version {version}, in the {header} header): \u201c{summary}\u201d"),
        "sent": "Even so, on {first} {your} pages sent my {what} {encoding} to {recipient}{company}.",
        "you": {"site": "your website", "your": "your", "never": "You have never signalled agreement to them.",
                "agreed": "You signalled agreement to them on {agreed}."},
        "it": {"site": "its website", "your": "its", "never": "It has never signalled agreement to them.",
               "agreed": "It signalled agreement to them on {agreed}."},
    },
    "es": {
        "offered": ("Desde el {since}, cada solicitud de mi navegador a {site} ha incluido mis términos "
                    "personales, «{title}» (versión {version}, en la cabecera {header}): «{summary}»"),
        "sent": "Aun así, el {first} {your} páginas enviaron mi {what} {encoding} a {recipient}{company}.",
        "you": {"site": "su sitio web", "your": "sus", "never": "Nunca han indicado que los acepten.",
                "agreed": "Indicaron que los aceptaban el {agreed}."},
        "it": {"site": "su sitio web", "your": "sus", "never": "Nunca ha indicado que los acepte.",
               "agreed": "Indicó que los aceptaba el {agreed}."},
    },
}


def _terms_text(terms: TermsCited, lang: str, voice: str = "you") -> str:
    """One paragraph (not yet wrapped): offered since, agreed or not, and what its pages sent since (when known).
    `voice`: `you` in a letter to the vendor, `it` in one about it (a complaint)."""
    words, person = _TERMS[lang], _TERMS[lang][voice]
    parts = [words["offered"].format(since=long_date(terms.offered_since, lang), title=terms.title,
                                     version=terms.version, header=terms.header, summary=terms.summary,
                                     site=person["site"])]
    parts.append(person["never"] if terms.agreed_on is None
                 else person["agreed"].format(agreed=long_date(terms.agreed_on, lang)))
    sent = terms.sent_after
    if sent is not None:
        parts.append(words["sent"].format(
            first=long_date(sent.first_seen, lang), what=sent.label[:1].lower() + sent.label[1:],
            encoding=_encoding(sent.encoding, lang), recipient=sent.recipient,
            company=f" ({sent.company})" if sent.company else "", your=person["your"]))
    return " ".join(parts)


_SOURCE = {
    "en": {
        "subject": "Request for the source of personal data (Articles 15(1)(g) and 14 GDPR)",
        "intro": (
            "Under Article 15 of {gdpr}, I am exercising my right of access with regard to the "
            "following personal data concerning me, which {vendor} holds although I never gave "
            "them to it:"
        ),
        "asks": [
            "For each of these data, please tell me:",
            ("1.", "all the information you have about their source (Article 15(1)(g)): from whom and "
                   "from where you obtained them, when, and whether they came from publicly "
                   "accessible sources (Article 14(2)(f));"),
            ("2.", "the purposes and the legal basis for which you process them (Article 14(1)(c));"),
            ("3.", "the recipients or categories of recipients to whom you have disclosed them "
                   "(Article 14(1)(e))."),
        ],
        "article14": (
            "Article 14(3) required you to give me this information within a reasonable period "
            "after obtaining the data, and at the latest within one month; I have no record of "
            "receiving it."
        ),
    },
    "es": {
        "subject": "Solicitud sobre el origen de datos personales (artículos 15, apartado 1, letra g), y 14 del RGPD)",
        "intro": (
            "Conforme al artículo 15 del {gdpr}, ejerzo mi derecho de acceso respecto de los "
            "siguientes datos personales que me conciernen, que {vendor} tiene aunque yo nunca "
            "se los facilité:"
        ),
        "asks": [
            "Respecto de cada uno de estos datos, les ruego que me indiquen:",
            ("1.", "toda la información disponible sobre su origen (artículo 15, apartado 1, letra g)): "
                   "de quién y de dónde los obtuvieron, cuándo, y si proceden de fuentes de acceso "
                   "público (artículo 14, apartado 2, letra f));"),
            ("2.", "los fines y la base jurídica del tratamiento (artículo 14, apartado 1, letra c));"),
            ("3.", "los destinatarios o las categorías de destinatarios a los que los hayan comunicado "
                   "(artículo 14, apartado 1, letra e))."),
        ],
        "article14": (
            "El artículo 14, apartado 3, les obligaba a facilitarme esta información dentro de un "
            "plazo razonable una vez obtenidos los datos y, a más tardar, dentro de un mes; no me "
            "consta haberla recibido."
        ),
    },
}


def render_source_request(lang: str, vendor: VendorFacts, held: Sequence[HeldValue],
                          identifiers: Sequence[tuple[str, str]], sent_on: date,
                          requester_name: str | None = None, terms: TermsCited | None = None) -> Letter:
    """Where did you get these? A letter naming each value `vendor` holds that it was never given,
    with where and when it was seen (Art. 15(1)(g), 14), and the person's terms it was offered
    (`terms`). InputError when `held` is empty."""
    name = _vendor_name(lang, vendor)
    if not held:
        raise InputError("a source request needs at least one value the vendor holds that it was never given")
    words, text = _COMMON[lang], _SOURCE[lang]
    deadline = response_deadline(sent_on)
    blocks = [_addressee(vendor, name, words), words["date"].format(date=long_date(sent_on, lang)),
              words["salutation"],
              _fill(text["intro"].format(gdpr=words["gdpr"], vendor=name)) + "\n"
              + "\n".join(_bullet(_held_line(h, lang)) for h in sorted(held, key=lambda h: (h.earliest, h.label))),
              *([_fill(_terms_text(terms, lang))] if terms is not None else []),
              _numbered(text["asks"]), _fill(text["article14"]), _identifier_block(_identifiers(identifiers), words)]
    blocks += _ending(lang, deadline, _signature(requester_name))
    return Letter(kind="source", lang=lang, subject=text["subject"], body="\n\n".join(blocks) + "\n",
                  to=vendor.privacy_contact.strip(), to_name=name, deadline=deadline, sent_on=sent_on,
                  requester_name=_signature(requester_name))


_REQUEST_NAMES = {
    "en": {"access": "a request of access (Article 15)", "erase": "a request for erasure (Article 17)",
           "object": "an objection to direct marketing (Article 21)",
           "rectify": "a request for rectification (Article 16)", "port": "a request for data portability (Article 20)",
           "source": "a request for the source of my data (Article 15(1)(g))"},
    "es": {"access": "una solicitud de acceso (artículo 15)", "erase": "una solicitud de supresión (artículo 17)",
           "object": "una oposición a la mercadotecnia directa (artículo 21)",
           "rectify": "una solicitud de rectificación (artículo 16)",
           "port": "una solicitud de portabilidad (artículo 20)",
           "source": "una solicitud sobre el origen de mis datos (artículo 15, apartado 1, letra g))"},
}

_FOLLOW_UP = {
    "en": {
        "subject": "Your answer to my request of {sent} is incomplete (Article 15 GDPR)",
        "intro": (
            "On {sent} I made {request} under {gdpr}, which {vendor} answered on {answered}. The "
            "answer leaves out what I know you hold or have done:"
        ),
        "ask": (
            "Article 15(1)(c) entitles me to know the recipients to whom my personal data have "
            "been disclosed, and Article 15(3) to a copy of all the personal data you process "
            "about me. Please complete your answer: for each point above, send me the missing "
            "data or information, or explain why it is missing."
        ),
    },
    "es": {
        "subject": "Su respuesta a mi solicitud del {sent} está incompleta (artículo 15 del RGPD)",
        "intro": (
            "El {sent} presenté {request} conforme al {gdpr}, a la que {vendor} respondió el "
            "{answered}. La respuesta omite lo que sé que tienen o han hecho:"
        ),
        "ask": (
            "El artículo 15, apartado 1, letra c), me reconoce el derecho a conocer los "
            "destinatarios a los que se han comunicado mis datos personales, y el artículo 15, "
            "apartado 3, a obtener una copia de todos los datos personales que tratan sobre mí. "
            "Les ruego que completen su respuesta: para cada punto anterior, envíenme los datos o "
            "la información que faltan, o expliquen por qué faltan."
        ),
    },
}


def render_follow_up(lang: str, vendor: VendorFacts, earlier: EarlierRequest,
                     sent_elsewhere: Sequence[SentElsewhere], missing: Sequence[Missing],
                     identifiers: Sequence[tuple[str, str]], sent_on: date,
                     requester_name: str | None = None) -> Letter:
    """A follow-up to an answered request naming each gap: recipients the proxy saw its pages send
    the user's values to, which the answer does not name, and values given that it does not contain.
    InputError when there is no gap or the earlier request has no recorded answer."""
    name = _vendor_name(lang, vendor)
    if not sent_elsewhere and not missing:
        raise InputError("a follow-up needs at least one gap in the answer")
    if earlier.answered_on is None:
        raise InputError("a follow-up is about an answer: the request has none recorded")
    words, text, evidence = _COMMON[lang], _FOLLOW_UP[lang], _EVIDENCE[lang]
    deadline = response_deadline(sent_on)
    gaps = []
    if sent_elsewhere:
        ordered = sorted(sent_elsewhere, key=lambda s: (s.first_seen, s.recipient, s.label, s.value))
        gaps.append(_fill(evidence["no_recipients"], "- ", "  ") + "\n"
                    + "\n".join(_fill(_sent_line(s, lang), "  - ", "    ") for s in ordered))
    gaps += [_bullet(_missing_line(m, lang)) for m in sorted(missing, key=lambda m: (m.given_on, m.label))]
    intro = text["intro"].format(sent=long_date(earlier.sent_on, lang), request=_REQUEST_NAMES[lang][earlier.kind],
                                 gdpr=words["gdpr"], vendor=name, answered=long_date(earlier.answered_on, lang))
    blocks = [_addressee(vendor, name, words), words["date"].format(date=long_date(sent_on, lang)),
              words["salutation"], _fill(intro) + "\n" + "\n".join(gaps), _fill(text["ask"]),
              _identifier_block(_identifiers(identifiers), words)]
    blocks += _ending(lang, deadline, _signature(requester_name), identity=False)
    return Letter(kind="follow-up", lang=lang, subject=text["subject"].format(sent=long_date(earlier.sent_on, lang)),
                  body="\n\n".join(blocks) + "\n", to=vendor.privacy_contact.strip(), to_name=name,
                  deadline=deadline, sent_on=sent_on, requester_name=_signature(requester_name))


_COMPLAINT = {
    "en": {
        "subject": "Complaint under Article 77 GDPR against {vendor}: no answer to my request",
        "intro": (
            "Under Article 77 of {gdpr}, I lodge a complaint against {vendor}, which has not "
            "answered {request} that I made to it."
        ),
        "controller": "The controller:",
        "web": "Website: {domain}",
        "contact": "Privacy contact: {contact}",
        "postal": "Postal address: {address}",
        "timeline": "What happened:",
        "sent": "{sent}: I sent my request to {contact}.",
        "due": "{due}: the period of Article 12(3) for answering it ended.",
        "today": ("{today}: I have received no answer, no notice of an extension under Article 12(3) "
                  "and no reasons for not acting under Article 12(4)."),
        "evidence": "What I have recorded about the controller's processing of my data:",
        "held": "It holds data about me that I never gave it:",
        "sent_elsewhere": "Its pages sent my data to third parties:",
        "identifiers": "The identifiers under which it holds my data:",
        "ask": (
            "I ask the authority to handle this complaint, to order the controller to comply with "
            "my request (Article 58(2)(c)), and to inform me of the progress and the outcome of "
            "the complaint (Article 77(2)). I can provide a copy of my request and proof that it "
            "was sent."
        ),
        "reach": "You can reach me at {address}.",
        "closing": "Yours faithfully,",
        "anonymous": "The complainant",
    },
    "es": {
        "subject": "Reclamación conforme al artículo 77 del RGPD contra {vendor}: falta de respuesta a mi solicitud",
        "intro": (
            "Conforme al artículo 77 del {gdpr}, presento una reclamación contra {vendor}, que no "
            "ha respondido a {request} que le dirigí."
        ),
        "controller": "El responsable del tratamiento:",
        "web": "Sitio web: {domain}",
        "contact": "Contacto de privacidad: {contact}",
        "postal": "Dirección postal: {address}",
        "timeline": "Los hechos:",
        "sent": "{sent}: envié mi solicitud a {contact}.",
        "due": "{due}: venció el plazo del artículo 12, apartado 3, para responderla.",
        "today": ("{today}: no he recibido respuesta, ni aviso de prórroga conforme al artículo 12, "
                  "apartado 3, ni los motivos para no actuar conforme al artículo 12, apartado 4."),
        "evidence": "Lo que he registrado sobre el tratamiento de mis datos por el responsable:",
        "held": "Tiene datos sobre mí que nunca le facilité:",
        "sent_elsewhere": "Sus páginas enviaron mis datos a terceros:",
        "identifiers": "Los identificadores con los que tiene mis datos:",
        "ask": (
            "Solicito a la autoridad que tramite esta reclamación, que ordene al responsable "
            "atender mi solicitud (artículo 58, apartado 2, letra c)) y que me informe del curso y "
            "del resultado de la reclamación (artículo 77, apartado 2). Puedo aportar una copia de "
            "mi solicitud y la prueba de su envío."
        ),
        "reach": "Pueden contactarme en {address}.",
        "closing": "Atentamente,",
        "anonymous": "La persona reclamante",
    },
}


def render_complaint(lang: str, authority: AuthorityFacts, vendor: VendorFacts, earlier: EarlierRequest,
                     today: date, identifiers: Sequence[tuple[str, str]],
                     held: Sequence[HeldValue] = (), sent_elsewhere: Sequence[SentElsewhere] = (),
                     requester_name: str | None = None, reply_to: str | None = None,
                     terms: TermsCited | None = None) -> Letter:
    """A complaint to a supervisory authority (Art. 77) about a request left unanswered past its
    due date, with the timeline and what the ledger holds about the vendor. The authority must
    inform the complainant within three months (Art. 78(2)): that is the letter's deadline.
    InputError when the request is not overdue on `today` or was answered."""
    _check_lang(lang)
    if earlier.answered_on is not None:
        raise InputError(f"the request was answered on {earlier.answered_on.isoformat()}: a complaint about "
                         "no answer does not apply")
    if today <= earlier.due_on:
        raise InputError(f"the request is not overdue yet: its answer is due by {earlier.due_on.isoformat()}")
    words, text = _COMMON[lang], _COMPLAINT[lang]
    name = vendor.name.strip() if vendor.name and vendor.name.strip() else display_domain(vendor.domain)
    signature = _signature(requester_name)
    addressee = [authority.name] + ([authority.own_name] if authority.own_name and authority.own_name != authority.name
                                    else []) + list(authority.address or ()) + [authority.email or authority.web]
    controller = [name, text["web"].format(domain=display_domain(vendor.domain))]
    if earlier.contact or vendor.privacy_contact:
        controller.append(text["contact"].format(contact=earlier.contact or vendor.privacy_contact))
    postal = ", ".join(line.strip() for line in (vendor.postal_address or "").splitlines() if line.strip())
    if postal:
        controller.append(text["postal"].format(address=postal))
    timeline = [text["sent"].format(sent=long_date(earlier.sent_on, lang), contact=earlier.contact or name),
                text["due"].format(due=long_date(earlier.due_on, lang)),
                text["today"].format(today=long_date(today, lang))]
    blocks = ["\n".join(addressee), words["date"].format(date=long_date(today, lang)), words["salutation"],
              _fill(text["intro"].format(gdpr=words["gdpr"], vendor=name, request=_REQUEST_NAMES[lang][earlier.kind])),
              text["controller"] + "\n" + "\n".join(_bullet(line) for line in controller),
              text["timeline"] + "\n" + "\n".join(_bullet(line) for line in timeline)]
    evidence = []
    if held:
        evidence.append(_fill(text["held"], "- ", "  ") + "\n" + "\n".join(
            _fill(_held_line(h, lang, "it"), "  - ", "    ")
            for h in sorted(held, key=lambda h: (h.earliest, h.label))))
    if sent_elsewhere:
        evidence.append(_fill(text["sent_elsewhere"], "- ", "  ") + "\n" + "\n".join(
            _fill(_sent_line(s, lang, "it"), "  - ", "    ")
            for s in sorted(sent_elsewhere, key=lambda s: (s.first_seen, s.recipient, s.label, s.value))))
    if terms is not None:
        evidence.append(_fill(_terms_text(terms, lang, "it"), "- ", "  "))
    if evidence:
        blocks.append(text["evidence"] + "\n" + "\n".join(evidence))
    items = _identifiers(identifiers)
    blocks.append(text["identifiers"] + "\n" + "\n".join(_bullet(f"{label}: {value}") for label, value in items))
    blocks.append(_fill(text["ask"]))
    if reply_to:
        blocks.append(text["reach"].format(address=reply_to))
    blocks.append(text["closing"] + "\n" + (signature or text["anonymous"]))
    return Letter(kind="complaint", lang=lang, subject=text["subject"].format(vendor=name),
                  body="\n\n".join(blocks) + "\n", to=authority.email or authority.web, to_name=authority.name,
                  deadline=months_after(today, 3), sent_on=today, requester_name=signature)


# -- an objection listing the mails that broke the person's preferences (issue 15) --------------
# `whoknows request object VENDOR --from-check`: what `prefs --check` found, handed over as plain
# facts (whoknows.data_rights.marketing_mail gathers them). Subjects are not kept by whoknows: each
# mail is named by its date and Message-ID, which the vendor can find in its own sending records.


@dataclass(frozen=True)
class BrokenRule:
    """One rule of the person's preferences a mail broke (whoknows.mail_records.RULES)."""

    rule: str  # max-per-month, max-per-week, no-marketing, topic, after-opt-out, channel, duplicate
    since: date | None = None  # no-marketing, topic, channel: when said; after-opt-out: the day of the opt-out
    limit: int | None = None  # max-per-month, max-per-week
    period: str | None = None  # max-per-month: YYYY-MM; max-per-week: YYYY-Www
    messages: int = 0  # max-per-*: the messages in that period; duplicate: the copies
    topics: tuple[str, ...] = ()  # topic: what the mail was about
    allowed: tuple[str, ...] = ()  # topic: the topics the person allowed; channel: the channels
    duplicate: str | None = None  # duplicate: two-addresses, sent-twice


@dataclass(frozen=True)
class MarketingMail:
    """A mail from the vendor and each rule it broke."""

    sent_at: datetime  # UTC
    message: str  # its Message-ID, or `sha256:...` when it had none
    alias: str | None  # the alias it reached
    broke: tuple[BrokenRule, ...]


# The channels as a letter names them (whoknows.preferences.CHANNELS).
CHANNEL_WORDS = {
    "en": {"email": "email", "phone": "telephone", "sms": "SMS", "post": "post", "push": "push notifications"},
    "es": {"email": "correo electrónico", "phone": "teléfono", "sms": "SMS", "post": "correo postal",
           "push": "notificaciones push"},
}
# The topics as a letter names them (the vocabulary is whoknows.mail_topics.TOPICS).
TOPIC_WORDS = {
    "en": {"orders": "orders", "account": "my account", "offers": "offers", "newsletter": "newsletters",
           "events": "events", "surveys": "surveys"},
    "es": {"orders": "pedidos", "account": "mi cuenta", "offers": "ofertas", "newsletter": "boletines",
           "events": "eventos", "surveys": "encuestas"},
}

_MAIL_WORDS = {
    "en": {
        "subject": "Objection to direct marketing and withdrawal of consent (Articles 21 and 7(3) GDPR)",
        "intro": ("Your messages to me show that my choices have not been respected. These are the "
                  "messages, each with its date (UTC) and Message-ID, and what each did against them:"),
        "mail": "{when} UTC, message {message}{alias}: {broke}",
        "alias": ", to {alias}",
        "no_id": "without Message-ID (reference {ref})",
        "max-per-month": "one of {messages} messages in {period}, more than the {limit} a month I had agreed to",
        "max-per-week": ("one of {messages} messages in the week of {period}, more than the {limit} a week I had "
                         "agreed to"),
        "no-marketing": "marketing, although I had refused marketing on {since}",
        "topic": "about {topics}, which I had not agreed to (I had agreed to: {allowed})",
        "no_topic": "nothing",
        "after-opt-out": "marketing, after I withdrew my consent on {since}",
        "channel": "marketing by email, although since {since} I had agreed to be contacted only by {allowed}",
        "no_channel": "marketing by email, although on {since} I had agreed to no channel of contact at all",
        "two-addresses": "the same mailing, sent to two of my addresses",
        "sent-twice": "the same mailing, sent to me twice",
        "and": " and ",
        "withdrawal": (
            "On {since} I withdrew my consent to receiving marketing from you. Under Article 7(3) "
            "GDPR I may withdraw my consent at any time, and withdrawing must be as easy as giving "
            "it; the processing based on it had to stop then. The messages above sent after that "
            "day show that it has not."
        ),
        "twice": (
            "The same mailing reaching two of my addresses, or reaching me twice, shows that you hold "
            "me more than once in your mailing lists. This objection covers every such record and "
            "every address in it."
        ),
    },
    "es": {
        "subject": ("Oposición a la mercadotecnia directa y retirada del consentimiento (artículos 21 y 7, "
                    "apartado 3, del RGPD)"),
        "intro": ("Sus mensajes muestran que no se han respetado mis decisiones. Estos son los mensajes, "
                  "cada uno con su fecha (UTC) y su Message-ID, y lo que cada uno hizo en contra de ellas:"),
        "mail": "{when} UTC, mensaje {message}{alias}: {broke}",
        "alias": ", a {alias}",
        "no_id": "sin Message-ID (referencia {ref})",
        "max-per-month": "uno de {messages} mensajes en {period}, más de los {limit} al mes que había aceptado",
        "max-per-week": ("uno de {messages} mensajes en la semana del {period}, más de los {limit} a la semana "
                         "que había aceptado"),
        "no-marketing": "publicidad, aunque el {since} había rechazado recibirla",
        "topic": "sobre {topics}, que no había aceptado (había aceptado: {allowed})",
        "no_topic": "ninguno",
        "after-opt-out": "publicidad, después de que retirara mi consentimiento el {since}",
        "channel": ("publicidad por correo electrónico, aunque desde el {since} solo había aceptado que me "
                    "contactaran por {allowed}"),
        "no_channel": "publicidad por correo electrónico, aunque el {since} no había aceptado ningún medio de contacto",
        "two-addresses": "el mismo envío, remitido a dos de mis direcciones",
        "sent-twice": "el mismo envío, remitido dos veces",
        "and": " y ",
        "withdrawal": (
            "El {since} retiré mi consentimiento para recibir su publicidad. Según el artículo 7, "
            "apartado 3, del RGPD, puedo retirar mi consentimiento en cualquier momento, y retirarlo "
            "ha de ser tan fácil como darlo; el tratamiento basado en él debía cesar entonces. Los "
            "mensajes anteriores enviados después de ese día muestran que no ha cesado."
        ),
        "twice": (
            "Que el mismo envío llegue a dos de mis direcciones, o me llegue dos veces, muestra que "
            "figuro más de una vez en sus listas de envío. Esta oposición comprende cada uno de esos "
            "registros y cada dirección que contengan."
        ),
    },
}


def _month_name(period: str, lang: str) -> str:
    year, month = period.split("-")
    name = _MONTHS[lang][int(month) - 1]
    return f"{name} {year}" if lang == "en" else f"{name} de {year}"


def _kept_whole(text: str) -> str:
    """A date that wrapping does not split (`_fill` turns the no-break spaces back)."""
    return text.replace(" ", _NBSP)


def _broken_text(broken: BrokenRule, lang: str) -> str:
    words = _MAIL_WORDS[lang]
    since = _kept_whole(long_date(broken.since, lang)) if broken.since else ""
    if broken.rule == "max-per-month":
        return words["max-per-month"].format(messages=broken.messages,
                                             period=_kept_whole(_month_name(broken.period, lang)),
                                             limit=broken.limit)
    if broken.rule == "max-per-week":
        year, week = broken.period.split("-W")
        monday = date.fromisocalendar(int(year), int(week), 1)
        return words["max-per-week"].format(messages=broken.messages, period=_kept_whole(long_date(monday, lang)),
                                            limit=broken.limit)
    if broken.rule == "topic":
        names = TOPIC_WORDS[lang]
        return words["topic"].format(topics=words["and"].join(names[t] for t in broken.topics),
                                     allowed=", ".join(names[t] for t in broken.allowed) or words["no_topic"])
    if broken.rule == "duplicate":
        return words[broken.duplicate]
    if broken.rule == "channel":
        if not broken.allowed:
            return words["no_channel"].format(since=since)
        names = [CHANNEL_WORDS[lang][c] for c in broken.allowed]
        listed = ", ".join(names[:-1]) + words["and"] + names[-1] if len(names) > 1 else names[0]
        return words["channel"].format(since=since, allowed=listed)
    if broken.rule in ("no-marketing", "after-opt-out"):
        return words[broken.rule].format(since=since)
    raise InputError(f"{broken.rule!r} is not a rule a mail can break")


def _marketing_mail_blocks(mails: Sequence[MarketingMail], lang: str) -> list[str]:
    words = _MAIL_WORDS[lang]
    lines = []
    for mail in sorted(mails, key=lambda m: (m.sent_at, m.message)):
        when = _kept_whole(long_date(mail.sent_at.date(), lang)) + mail.sent_at.strftime(", %H:%M")
        message = (words["no_id"].format(ref=mail.message[:19]) if mail.message.startswith("sha256:")
                   else mail.message)
        alias = words["alias"].format(alias=mail.alias) if mail.alias else ""
        broke = "; ".join(_broken_text(b, lang) for b in mail.broke)
        lines.append(_bullet(words["mail"].format(when=when, message=message, alias=alias, broke=broke)))
    blocks = [_fill(words["intro"]) + "\n" + "\n".join(lines)]
    withdrawals = sorted({b.since for m in mails for b in m.broke if b.rule == "after-opt-out" and b.since})
    for day in withdrawals:
        blocks.append(_fill(words["withdrawal"].format(since=_kept_whole(long_date(day, lang)))))
    if any(b.rule == "duplicate" for m in mails for b in m.broke):
        blocks.append(_fill(words["twice"]))
    return blocks


# -- the message -------------------------------------------------------------------------------


def to_eml(letter: Letter, from_address: str, *, now: datetime | None = None) -> bytes:
    """The letter as an RFC 5322 message (CRLF line endings), From the alias, To the contact.

    The Message-ID is random and uses the alias's domain; the Date is in UTC (it says nothing
    about where the user is). Raises InputError when either address is not an email address.
    """
    sender = _address(from_address, letter.requester_name or "", "the sender")
    recipient = _address(letter.to, letter.to_name, f"the privacy contact of {letter.to_name}")
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = letter.subject
    message["Date"] = format_datetime((now or datetime.now(timezone.utc)).astimezone(timezone.utc))
    message["Message-ID"] = f"<{secrets.token_hex(16)}@{sender.domain}>"
    cte = "7bit" if letter.body.isascii() else "quoted-printable"  # 7-bit safe for any server
    message.set_content(letter.body, charset="utf-8", cte=cte)
    message["Content-Language"] = letter.lang  # after set_content, which clears Content-* headers
    return bytes(message)


def email_address(text: str, what: str) -> str:
    """`text` as a bare email address (`mailto:` and spaces around it dropped), the one check every
    address a letter goes to or comes from passes; InputError names the value and `what` it is."""
    return _address(text, "", what).addr_spec


def _address(text: str, display_name: str, what: str) -> Address:
    addr_spec = text.strip()
    if addr_spec.lower().startswith("mailto:"):
        addr_spec = addr_spec[len("mailto:"):]
    try:
        address = Address(display_name=display_name, addr_spec=addr_spec)
    except (ValueError, IndexError, HeaderParseError):
        raise InputError(f"{text!r} is not an email address ({what})") from None
    if not address.username or not address.domain or "." not in address.domain:
        raise InputError(f"{text!r} is not an email address ({what})")
    return address


__all__ = [
    "AuthorityFacts", "BrokenRule", "CHANNEL_WORDS", "EarlierRequest", "MarketingMail", "TOPIC_WORDS", "HeldValue", "KINDS", "LANGUAGES", "Letter", "Missing", "SentElsewhere",
    "Sighting", "TermsCited", "VendorFacts", "email_address", "long_date", "months_after", "one_month_after",
    "render_complaint", "render_follow_up", "render_request", "render_source_request", "response_deadline",
    "to_eml",
]
