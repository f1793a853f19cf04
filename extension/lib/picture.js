// The picture of who knows you (GET /api/v1/companies, what `whoknows report` draws) -> the
// "Who knows me" page's graph and tables.
//
// Pure and defensive, like lib/vendor.js: the proxy lays the graph out (whoknows/company_picture.py),
// so this module only checks its answer: numbers that are not finite become 0, strings that are
// missing become "", an edge to a node that is not there is dropped. Every string stays a string:
// the page puts them in the DOM as text, never as markup.

export const NODE_KINDS = Object.freeze(["site", "company"]);
export const EDGE_KINDS = Object.freeze(["reached", "blocked"]);
export const LABEL_GAP = 6;

function text(value) {
  return typeof value === "string" ? value : "";
}

function number(value) {
  return Number.isFinite(value) ? value : 0;
}

function list(value) {
  return Array.isArray(value) ? value : [];
}

function object(value) {
  return value && typeof value === "object" && !Array.isArray(value) ? value : {};
}

// The company view's columns, as `whoknows report` has them (whoknows/report.py).
export const COMPANY_COLUMNS = Object.freeze([
  ["company", "Company", false], ["category", "Category", false], ["sites", "Sites", true],
  ["blocked", "Blocked", true], ["reached", "Reached", true], ["cookies", "Cookies", true],
  ["values", "Your values", true], ["first_seen", "First seen", false], ["last_seen", "Last seen", false],
]);
export const HELD_COLUMNS = Object.freeze([
  ["company", "Company", false], ["cookies", "Cookie names", false],
  ["values", "Your values sent", false], ["pages", "Pages learned", true],
]);
export const CLOAKED_COLUMNS = Object.freeze([
  ["display", "Site", false], ["behind", "Its host", false], ["company", "Company", false],
  ["domain", "Company's domain", false], ["first_seen", "First seen", false], ["last_seen", "Last seen", false],
]);
export const SITE_COLUMNS = Object.freeze([
  ["display", "Site", false], ["companies", "Companies present", true], ["reached_you", "Reached you", true],
  ["blocked", "Blocked", true], ["reached", "Reached", true],
]);

function node(entry) {
  const item = object(entry);
  const kind = NODE_KINDS.includes(item.kind) ? item.kind : null;
  const id = text(item.id);
  if (kind === null || id === "") return null;
  const x = number(item.x);
  const r = Math.max(0, number(item.r));
  const site = kind === "site";
  return {
    id, kind, label: text(item.label), title: text(item.title), x, y: number(item.y), r,
    sites: site ? null : number(item.sites),
    // Sites' names to the left of their column, companies' to the right, as in the report.
    labelX: site ? x - r - LABEL_GAP : x + r + LABEL_GAP,
    anchor: site ? "end" : "start",
  };
}

function edge(entry, ids) {
  const item = object(entry);
  const kind = EDGE_KINDS.includes(item.kind) ? item.kind : null;
  const source = text(item.source);
  const target = text(item.target);
  if (kind === null || !ids.has(source) || !ids.has(target)) return null;
  return {
    kind, source, target, title: text(item.title), blocked: number(item.blocked), reached: number(item.reached),
    x1: number(item.x1), y1: number(item.y1), x2: number(item.x2), y2: number(item.y2),
  };
}

function cell(value, numeric) {
  if (numeric) return Number.isFinite(value) ? String(value) : "";
  return typeof value === "string" ? value : "";
}

function table(key, heading, caption, columns, rows, empty) {
  return {
    key, heading, caption, empty,
    columns: columns.map(([, title, numeric]) => ({ title, numeric })),
    rows: list(rows).map((row) => columns.map(([field, , numeric]) => cell(object(row)[field], numeric))),
  };
}

// What the page needs to say about what the graph leaves out (the tables list everything).
export function leftOutNote(leftOut) {
  const info = object(leftOut);
  const parts = [];
  if (number(info.companies) > 0) parts.push(`${number(info.companies)} more companies`);
  if (number(info.sites) > 0) parts.push(`${number(info.sites)} more sites`);
  return parts.length ? `Not drawn: ${parts.join(" and ")} (in the tables below).` : "";
}

export function pictureView(answer) {
  const data = object(answer);
  const graph = object(data.graph);
  const nodes = list(graph.nodes).map(node).filter(Boolean);
  const ids = new Set(nodes.map((n) => n.id));
  const edges = list(graph.edges).map((e) => edge(e, ids)).filter(Boolean);
  return {
    summary: text(data.summary),
    graph: {
      width: Math.max(1, number(graph.width)), height: Math.max(1, number(graph.height)),
      nodes, edges, note: leftOutNote(graph.left_out),
    },
    tables: [
      table("companies", "Companies", "Requests blocked and reached, cookies it tried to set and your values it was "
        + "sent (distinct), on all your sites.", COMPANY_COLUMNS, data.companies, "No tracker company seen yet."),
      table("held", "What they hold", "The identifiers each company got to hold over all your sites: cookie names "
        + "(whoknows keeps no cookie values), your values by kind and encoding, and how many of your page addresses "
        + "it learned ('whoknows company show NAME' says where and when).", HELD_COLUMNS, data.held,
      "No company got to hold anything the proxy saw."),
      table("sites", "Your sites", "The companies present on each site's pages, and how many of them reached you there.",
        SITE_COLUMNS, data.sites, "No site seen yet."),
      // Only when a company hid behind a host of one of your sites (CNAME), as in the report.
      ...(list(data.cloaked).length ? [table("cloaked", "Hidden behind your sites' own hosts", "Hosts of your sites "
        + "that DNS said are aliases (CNAME) of a company's tracker domain: its requests looked first-party "
        + "('behind metrics.shop.example (CNAME)').", CLOAKED_COLUMNS, data.cloaked, "")] : []),
    ],
  };
}
