// The "Who knows me" page (companies.html): the picture of `whoknows report`, read from the
// control API (GET /api/v1/companies) when the page opens and on "Refresh", and drawn as the
// report draws it. Strings from the ledger go into the DOM as text (textContent), never as markup.

import * as api from "./lib/api.js";
import { $, element, failureText, say } from "./lib/page.js";
import { pictureView } from "./lib/picture.js";
import { loadConfig } from "./lib/settings.js";

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attributes = {}, title = null) {
  const made = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, String(value));
  if (title) {
    const tooltip = document.createElementNS(SVG, "title");
    tooltip.textContent = title;
    made.append(tooltip);
  }
  return made;
}

function drawGraph(graph) {
  const root = svg("svg", { id: "graph", role: "img", "aria-labelledby": "graph-title",
    viewBox: `0 0 ${graph.width} ${graph.height}`, width: graph.width, height: graph.height });
  const heading = svg("title", { id: "graph-title" });
  heading.textContent = "Your sites and the companies that saw you there";
  root.append(heading);
  for (const edge of graph.edges) {
    root.append(svg("line", { class: `edge ${edge.kind}`, "data-source": edge.source, "data-target": edge.target,
      "data-blocked": edge.blocked, "data-reached": edge.reached, x1: edge.x1, y1: edge.y1, x2: edge.x2,
      y2: edge.y2 }, edge.title));
  }
  for (const node of graph.nodes) {
    const group = svg("g", { class: `node ${node.kind}`, "data-id": node.id,
      ...(node.sites === null ? {} : { "data-sites": node.sites }) }, node.title);
    const label = svg("text", { x: node.labelX, y: node.y, dy: "0.35em", "text-anchor": node.anchor });
    label.textContent = node.label;
    group.append(svg("circle", { cx: node.x, cy: node.y, r: node.r }), label);
    root.append(group);
  }
  return root;
}

function tableSection(table) {
  const section = element("section");
  const heading = element("h2", table.heading);
  heading.id = `${table.key}-title`;
  section.setAttribute("aria-labelledby", heading.id);
  section.append(heading);
  if (table.rows.length === 0) {
    section.append(element("p", table.empty, "note"));
    return section;
  }
  const grid = element("table");
  grid.id = table.key;
  grid.append(element("caption", table.caption), element("thead"), element("tbody"));
  const head = element("tr");
  head.append(...table.columns.map((column) => {
    const cell = element("th", column.title, column.numeric ? "n" : undefined);
    cell.scope = "col";
    return cell;
  }));
  grid.tHead.append(head);
  grid.tBodies[0].append(...table.rows.map((row) => {
    const line = element("tr");
    line.append(...row.map((value, index) => element("td", value, table.columns[index].numeric ? "n" : undefined)));
    return line;
  }));
  section.append(grid);
  return section;
}

function draw(answer) {
  const view = pictureView(answer);
  $("summary").textContent = view.summary;
  $("figure").hidden = view.graph.nodes.length === 0;
  $("graph-holder").replaceChildren(drawGraph(view.graph));
  $("graph-note").textContent = view.graph.note ? ` ${view.graph.note}` : "";
  $("tables").replaceChildren(...view.tables.map(tableSection));
  $("picture").hidden = false;
  say("");
}

async function load() {
  const refresh = $("refresh");
  refresh.disabled = true;
  try {
    const result = await api.send(api.companiesRequest(await loadConfig()));
    if (result.state === api.OK) {
      draw(result.data);
    } else {
      say(failureText(result), { error: true });
    }
  } finally {
    refresh.disabled = false;
  }
}

$("refresh").addEventListener("click", () => {
  say("Loading…");
  load();
});
load();
