"""whoknows.company_picture: the graph of sites and companies, laid out once (the report and the
extension page draw it as it is)."""

from whoknows import company_picture


def test_a_big_ledger_draws_the_companies_seen_most_and_says_what_it_left_out():
    companies = [{"id": f"c{i}", "company": f"Company {i}", "category": "advertising", "sites": 100 - i,
                  "blocked": 1, "reached": 0, "cookies": 0, "values": 0, "first_seen": "2026-01-01",
                  "last_seen": "2026-01-01"} for i in range(company_picture.MAX_COMPANIES + 5)]
    links = [{"site": f"s{j}.example", "display": f"s{j}.example", "id": f"c{i}", "company": f"Company {i}",
              "blocked": 1, "reached": 0} for i in range(len(companies)) for j in range(i % 7, 80, 3)]
    drawn = company_picture.build_picture(companies, links)
    graph = drawn["graph"]
    drawn_companies = [n["key"] for n in graph["nodes"] if n["kind"] == "company"]
    assert sorted(drawn_companies) == sorted(f"c{i}" for i in range(company_picture.MAX_COMPANIES))
    assert graph["left_out"]["companies"] == 5
    assert sum(n["kind"] == "site" for n in graph["nodes"]) == company_picture.MAX_SITES
    assert graph["left_out"]["sites"] == 80 - company_picture.MAX_SITES
    assert len(drawn["sites"]) == 80  # the table lists them all
    # The layout is the same every time, and nothing overlaps in a column.
    assert company_picture.build_picture(companies, links) == drawn
    for kind in ("site", "company"):
        column = sorted((n["y"], n["r"]) for n in graph["nodes"] if n["kind"] == kind)
        assert all(b[0] - a[0] >= a[1] + b[1] for a, b in zip(column, column[1:]))
    assert all(0 < n["y"] < graph["height"] for n in graph["nodes"])


def test_company_circles_grow_with_sites_up_to_a_cap():
    radii = [company_picture.company_radius(n) for n in (1, 2, 5, 20, 1000)]
    assert radii == sorted(radii) and radii[0] < radii[2]
    assert radii[-1] == company_picture.MAX_RADIUS


def test_the_summary_says_how_many_companies_reached_you():
    def rows(*reached):
        return [{"reached": n} for n in reached]
    sites = [{}, {}]
    assert company_picture.summary(rows(1, 0, 2), sites) == (
        "3 companies saw you on 2 of your sites; 2 of them reached you at least once, the others were "
        "blocked every time.")
    assert company_picture.summary(rows(1, 1), sites) == "2 companies saw you on 2 of your sites; all of them reached you at least once."
    assert company_picture.summary(rows(0), sites[:1]) == "1 company saw you on 1 of your sites; it never reached you: blocked every time."
    assert company_picture.summary([], []).startswith("No tracker company seen yet")


def test_long_names_are_cut_beside_their_node_and_whole_in_the_tooltip():
    name = "Very Long Advertising Technology Holdings International"
    drawn = company_picture.build_picture(
        [{"id": "long", "company": name, "category": "advertising", "sites": 1, "blocked": 0, "reached": 1}],
        [{"site": "shop.example", "display": "shop.example", "id": "long", "company": name, "blocked": 0, "reached": 1}])
    [site, company] = drawn["graph"]["nodes"]
    assert company["label"] == "Very Long Advertising Techn…" and len(company["label"]) == company_picture.MAX_LABEL
    assert company["title"].startswith(name) and company["name"] == name
    assert site["label"] == "shop.example"
