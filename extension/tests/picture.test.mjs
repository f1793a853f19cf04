import assert from "node:assert/strict";
import { test } from "node:test";

import { CLOAKED_COLUMNS, COMPANY_COLUMNS, HELD_COLUMNS, SITE_COLUMNS, leftOutNote, pictureView } from "../lib/picture.js";

// The shape docs/control-api.md gives for GET /api/v1/companies (whoknows/company_picture.py).
const ANSWER = {
  summary: "2 companies saw you on 2 of your sites; 1 of them reached you at least once, the others were blocked every time.",
  companies: [
    { company: "Google", id: "google", category: "advertising", sites: 2, blocked: 2, reached: 2, cookies: 1, values: 1,
      first_seen: "2026-05-28", last_seen: "2026-05-29" },
    { company: "Meta Platforms", id: "meta", category: "advertising", sites: 1, blocked: 1, reached: 0, cookies: 0,
      values: 0, first_seen: "2026-05-28", last_seen: "2026-05-28" },
  ],
  held: [{ company: "Google", id: "google", cookies: "_ga", values: "email (SHA-256)", pages: 2 }],
  sites: [
    { site: "vendor.test", display: "vendor.test", companies: 2, reached_you: 1, blocked: 2, reached: 1 },
    { site: "other.test", display: "other.test", companies: 1, reached_you: 1, blocked: 1, reached: 1 },
  ],
  graph: {
    width: 760, height: 100,
    nodes: [
      { id: "site:vendor.test", kind: "site", key: "vendor.test", label: "vendor.test", x: 240, y: 37, r: 5, companies: 2, title: "vendor.test: 2 companies present" },
      { id: "site:other.test", kind: "site", key: "other.test", label: "other.test", x: 240, y: 63, r: 5, companies: 1, title: "other.test: 1 companies present" },
      { id: "company:google", kind: "company", key: "google", label: "Google", x: 520, y: 37, r: 10.1, sites: 2, title: "Google (advertising): on 2 of your sites" },
      { id: "company:meta", kind: "company", key: "meta", label: "Meta Platforms", x: 520, y: 63, r: 8, sites: 1, title: "Meta" },
    ],
    edges: [
      { source: "site:vendor.test", target: "company:google", kind: "reached", blocked: 1, reached: 1, x1: 240, y1: 37, x2: 520, y2: 37, title: "vendor.test – Google: 1 blocked, 1 reached" },
      { source: "site:vendor.test", target: "company:meta", kind: "blocked", blocked: 1, reached: 0, x1: 240, y1: 37, x2: 520, y2: 63, title: "t" },
      { source: "site:other.test", target: "company:google", kind: "reached", blocked: 1, reached: 1, x1: 240, y1: 63, x2: 520, y2: 37, title: "t" },
    ],
    left_out: { companies: 0, sites: 0 },
  },
};

test("the graph is drawn where the proxy laid it out, labels beside their column", () => {
  const { graph, summary } = pictureView(ANSWER);
  assert.equal(summary, ANSWER.summary);
  assert.deepEqual([graph.width, graph.height], [760, 100]);
  assert.deepEqual(graph.nodes.map((n) => [n.id, n.kind, n.label, n.x, n.y, n.r]),
    ANSWER.graph.nodes.map((n) => [n.id, n.kind, n.label, n.x, n.y, n.r]));
  const site = graph.nodes[0];
  assert.deepEqual([site.labelX, site.anchor, site.sites], [229, "end", null]);
  const google = graph.nodes[2];
  assert.deepEqual([google.labelX, google.anchor, google.sites], [536.1, "start", 2]);
  assert.deepEqual(graph.edges.map((e) => [e.source, e.target, e.kind]), [
    ["site:vendor.test", "company:google", "reached"], ["site:vendor.test", "company:meta", "blocked"],
    ["site:other.test", "company:google", "reached"]]);
  assert.equal(graph.note, "");
});

test("the tables are the company view's, as text cells", () => {
  const [companies, held, sites] = pictureView(ANSWER).tables;
  assert.deepEqual(held.columns.map((c) => c.title), HELD_COLUMNS.map(([, title]) => title));
  assert.deepEqual(held.rows, [["Google", "_ga", "email (SHA-256)", "2"]]);
  assert.deepEqual(companies.columns.map((c) => c.title), COMPANY_COLUMNS.map(([, title]) => title));
  assert.deepEqual(companies.rows[0], ["Google", "advertising", "2", "2", "2", "1", "1", "2026-05-28", "2026-05-29"]);
  assert.deepEqual(sites.columns.map((c) => c.title), SITE_COLUMNS.map(([, title]) => title));
  assert.deepEqual(sites.rows, [["vendor.test", "2", "1", "2", "1"], ["other.test", "1", "1", "1", "1"]]);
  assert.equal(companies.columns[2].numeric, true);
});

test("a malformed answer draws nothing it cannot place, and never fails", () => {
  const view = pictureView({
    graph: {
      width: "wide", nodes: [null, { id: "site:a", kind: "script", x: 1 }, { id: "site:b", kind: "site", x: "1", y: NaN, label: 7 }],
      edges: [{ source: "site:b", target: "company:gone", kind: "reached" }, { source: "site:b", target: "site:b", kind: "<img>" }],
    },
    companies: [{ company: "<script>x</script>", sites: "many" }],
  });
  assert.deepEqual(view.graph.nodes.map((n) => [n.id, n.x, n.y, n.label]), [["site:b", 0, 0, ""]]);
  assert.deepEqual(view.graph.edges, []);
  assert.equal(view.graph.width, 1);
  assert.deepEqual(view.tables[0].rows, [["<script>x</script>", "", "", "", "", "", "", "", ""]]);  // text, shown as such
  assert.deepEqual(pictureView(null).tables.map((t) => t.rows.length), [0, 0, 0]);
});

test("what the graph leaves out is said", () => {
  assert.equal(leftOutNote({ companies: 5, sites: 20 }), "Not drawn: 5 more companies and 20 more sites (in the tables below).");
  assert.equal(leftOutNote({ companies: 0, sites: 3 }), "Not drawn: 3 more sites (in the tables below).");
  assert.equal(leftOutNote(undefined), "");
});

test("a company that hid behind a host of one of your sites gets its own table, as in the report", () => {
  assert.deepEqual(pictureView(ANSWER).tables.map((t) => t.key), ["companies", "held", "sites"]);
  const cloaked = [{ site: "vendor.test", display: "vendor.test", behind: "metrics.vendor.test", id: "adobe",
    company: "Adobe Inc.", domain: "omtrdc.net", first_seen: "2026-05-28", last_seen: "2026-05-29" }];
  const tables = pictureView({ ...ANSWER, cloaked }).tables;
  assert.deepEqual(tables.map((t) => t.key), ["companies", "held", "sites", "cloaked"]);
  assert.deepEqual(tables[3].columns.map((c) => c.title), CLOAKED_COLUMNS.map(([, title]) => title));
  assert.deepEqual(tables[3].rows, [["vendor.test", "metrics.vendor.test", "Adobe Inc.", "omtrdc.net", "2026-05-28", "2026-05-29"]]);
});
