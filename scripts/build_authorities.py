#!/usr/bin/env python3
"""Build `whoknows/data/authorities.json.gz`: the data protection authority of each EU/EEA country,
where a complaint under GDPR Art. 77 goes (`whoknows request complain`).

Source: the members of the European Data Protection Board, as the EDPB lists them
(https://www.edpb.europa.eu/about-edpb/about-edpb/members_en): the national supervisory authority
of each of the 27 EU member states, and of Iceland, Liechtenstein and Norway (EEA). Names, postal
addresses and email addresses are as each authority publishes them on its own site (the page named
in `web`), written down here by hand and checked against what could be checked without a network.

What is not here on purpose: an address or an email address that could not be confirmed is left
out (`None`) rather than guessed; every authority has `web`, its home page, from which its
complaint form is reached. Some authorities take complaints only by their web form (France,
Ireland, the Netherlands, Spain): they have no `email`. A letter to an authority without an email
address is written for its form or the post.

Germany has a federal authority (the BfDI, the EDPB member) and one per Land; a complaint about a
company is handled by the authority of the Land where the company is established, and the BfDI,
like any German authority, takes it and passes it on (Art. 77 lets you lodge it in the member state
where you live).

Run `python scripts/build_authorities.py` after a change; `tests/scripts/test_build_authorities.py`
checks that the shipped file is what this script writes, and that every EU/EEA country is there
once with a way to reach its authority.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts.build_company_directory import write_shipped  # noqa: E402
from whoknows.authorities import DATA_FILE, FORMAT  # noqa: E402

SOURCE = "European Data Protection Board, members: https://www.edpb.europa.eu/about-edpb/about-edpb/members_en"

# country (ISO 3166-1 alpha-2), name in English, own name, postal address lines or None, email or None,
# home page, note or None.
AUTHORITIES = [
    ("AT", "Austrian Data Protection Authority", "Österreichische Datenschutzbehörde",
     ["Barichgasse 40-42", "1030 Wien", "Austria"], "dsb@dsb.gv.at", "https://www.dsb.gv.at", None),
    ("BE", "Belgian Data Protection Authority", "Autorité de protection des données / Gegevensbeschermingsautoriteit",
     ["Rue de la Presse 35", "1000 Bruxelles", "Belgium"], "contact@apd-gba.be",
     "https://www.autoriteprotectiondonnees.be", None),
    ("BG", "Commission for Personal Data Protection", "Комисия за защита на личните данни",
     None, None, "https://www.cpdp.bg", None),
    ("CY", "Commissioner for Personal Data Protection", "Επίτροπος Προστασίας Δεδομένων Προσωπικού Χαρακτήρα",
     ["Iasonos 1", "1082 Nicosia", "Cyprus"], "commissioner@dataprotection.gov.cy",
     "https://www.dataprotection.gov.cy", None),
    ("CZ", "Office for Personal Data Protection", "Úřad pro ochranu osobních údajů",
     ["Pplk. Sochora 27", "170 00 Praha 7", "Czech Republic"], None, "https://www.uoou.cz", None),
    ("DE", "Federal Commissioner for Data Protection and Freedom of Information",
     "Der Bundesbeauftragte für den Datenschutz und die Informationsfreiheit (BfDI)",
     ["Graurheindorfer Straße 153", "53117 Bonn", "Germany"], "poststelle@bfdi.bund.de",
     "https://www.bfdi.bund.de",
     "a complaint about a company is handled by the authority of the Land where the company is "
     "established; the BfDI passes it on"),
    ("DK", "Danish Data Protection Agency", "Datatilsynet",
     ["Carl Jacobsens Vej 35", "2500 Valby", "Denmark"], "dt@datatilsynet.dk", "https://www.datatilsynet.dk", None),
    ("EE", "Estonian Data Protection Inspectorate", "Andmekaitse Inspektsioon",
     ["Tatari 39", "10134 Tallinn", "Estonia"], "info@aki.ee", "https://www.aki.ee", None),
    ("ES", "Spanish Data Protection Agency", "Agencia Española de Protección de Datos (AEPD)",
     ["C/ Jorge Juan, 6", "28001 Madrid", "Spain"], None, "https://www.aepd.es", None),
    ("FI", "Office of the Data Protection Ombudsman", "Tietosuojavaltuutetun toimisto",
     ["Lintulahdenkuja 4", "00530 Helsinki", "Finland"], "tietosuoja@om.fi", "https://tietosuoja.fi", None),
    ("FR", "French Data Protection Authority", "Commission Nationale de l'Informatique et des Libertés (CNIL)",
     ["3 Place de Fontenoy", "TSA 80715", "75334 Paris Cedex 07", "France"], None, "https://www.cnil.fr", None),
    ("GR", "Hellenic Data Protection Authority", "Αρχή Προστασίας Δεδομένων Προσωπικού Χαρακτήρα",
     ["Kifisias 1-3", "115 23 Athens", "Greece"], "contact@dpa.gr", "https://www.dpa.gr", None),
    ("HR", "Croatian Personal Data Protection Agency", "Agencija za zaštitu osobnih podataka (AZOP)",
     None, None, "https://azop.hr", None),
    ("HU", "Hungarian National Authority for Data Protection and Freedom of Information",
     "Nemzeti Adatvédelmi és Információszabadság Hatóság (NAIH)",
     ["Falk Miksa utca 9-11", "1055 Budapest", "Hungary"], "ugyfelszolgalat@naih.hu", "https://naih.hu", None),
    ("IE", "Data Protection Commission", "Data Protection Commission",
     ["21 Fitzwilliam Square South", "Dublin 2, D02 RD28", "Ireland"], None, "https://www.dataprotection.ie", None),
    ("IS", "Icelandic Data Protection Authority", "Persónuvernd",
     None, "postur@personuvernd.is", "https://www.personuvernd.is", None),
    ("IT", "Italian Data Protection Authority", "Garante per la protezione dei dati personali",
     ["Piazza Venezia 11", "00187 Roma", "Italy"], "protocollo@gpdp.it", "https://www.garanteprivacy.it", None),
    ("LI", "Data Protection Authority of Liechtenstein", "Datenschutzstelle Fürstentum Liechtenstein",
     None, None, "https://www.datenschutzstelle.li", None),
    ("LT", "State Data Protection Inspectorate", "Valstybinė duomenų apsaugos inspekcija",
     None, None, "https://vdai.lrv.lt", None),
    ("LU", "National Commission for Data Protection", "Commission nationale pour la protection des données (CNPD)",
     ["15, Boulevard du Jazz", "L-4370 Belvaux", "Luxembourg"], "info@cnpd.lu", "https://cnpd.public.lu", None),
    ("LV", "Data State Inspectorate", "Datu valsts inspekcija", None, None, "https://www.dvi.gov.lv", None),
    ("MT", "Office of the Information and Data Protection Commissioner",
     "Office of the Information and Data Protection Commissioner (IDPC)",
     ["Floor 2, Airways House", "High Street", "Sliema SLM 1549", "Malta"], "idpc.info@idpc.org.mt",
     "https://idpc.org.mt", None),
    ("NL", "Dutch Data Protection Authority", "Autoriteit Persoonsgegevens",
     ["Postbus 93374", "2509 AJ Den Haag", "Netherlands"], None, "https://autoriteitpersoonsgegevens.nl", None),
    ("NO", "Norwegian Data Protection Authority", "Datatilsynet",
     ["Postboks 458 Sentrum", "0105 Oslo", "Norway"], "postkasse@datatilsynet.no", "https://www.datatilsynet.no",
     None),
    ("PL", "Personal Data Protection Office", "Urząd Ochrony Danych Osobowych (UODO)",
     ["ul. Stawki 2", "00-193 Warszawa", "Poland"], "kancelaria@uodo.gov.pl", "https://uodo.gov.pl", None),
    ("PT", "National Data Protection Commission", "Comissão Nacional de Proteção de Dados (CNPD)",
     ["Av. D. Carlos I, 134, 1.º", "1200-651 Lisboa", "Portugal"], "geral@cnpd.pt", "https://www.cnpd.pt", None),
    ("RO", "National Supervisory Authority for Personal Data Processing",
     "Autoritatea Națională de Supraveghere a Prelucrării Datelor cu Caracter Personal (ANSPDCP)",
     ["B-dul G-ral. Gheorghe Magheru 28-30", "Sector 1, 010336 București", "Romania"],
     "anspdcp@dataprotection.ro", "https://www.dataprotection.ro", None),
    ("SE", "Swedish Authority for Privacy Protection", "Integritetsskyddsmyndigheten (IMY)",
     ["Box 8114", "104 20 Stockholm", "Sweden"], "imy@imy.se", "https://www.imy.se", None),
    ("SI", "Information Commissioner", "Informacijski pooblaščenec",
     ["Dunajska cesta 22", "1000 Ljubljana", "Slovenia"], "gp.ip@ip-rs.si", "https://www.ip-rs.si", None),
    ("SK", "Office for Personal Data Protection of the Slovak Republic",
     "Úrad na ochranu osobných údajov Slovenskej republiky", None, None, "https://dataprotection.gov.sk", None),
]


def build() -> dict:
    entries = {}
    for country, name, own_name, address, email, web, note in AUTHORITIES:
        if country in entries:
            raise ValueError(f"{country} is listed twice")
        entries[country] = {"name": name, "own_name": own_name, "address": address, "email": email,
                            "web": web, "note": note}
    return {"format": FORMAT, "source": SOURCE, "authorities": entries}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=DATA_FILE)
    args = parser.parse_args(argv)
    document = build()
    size = write_shipped(args.output, document)
    print(f"wrote {len(document['authorities'])} authorities, {size} bytes to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
