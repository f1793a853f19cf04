// The vendor page (vendor.html?site=DOMAIN): the ledger's whole record of one vendor, read once.

import * as api from "./lib/api.js";
import { $, element, failureText, say } from "./lib/page.js";
import { loadConfig } from "./lib/settings.js";
import { vendorView } from "./lib/vendor.js";

function tableSection(table) {
  const section = element("section", undefined, "card");
  const heading = element("h2", table.heading);
  heading.id = `${table.key}-title`;
  section.setAttribute("aria-labelledby", heading.id);
  section.append(heading);
  if (table.rows.length === 0) {
    section.append(element("p", table.caption || "None.", "note"));
    return section;
  }
  const grid = element("table");
  if (table.caption) grid.append(element("caption", table.caption));
  const head = element("tr");
  head.append(...table.columns.map((column) => {
    const cell = element("th", column);
    cell.scope = "col";
    return cell;
  }));
  grid.append(element("thead"), element("tbody"));
  grid.tHead.append(head);
  grid.tBodies[0].append(...table.rows.map((row) => {
    const line = element("tr");
    line.append(...row.map((value) => element("td", value)));
    return line;
  }));
  section.append(grid);
  return section;
}

function draw(record) {
  const view = vendorView(record);
  document.title = `whoknows: ${view.title}`;
  $("title").textContent = view.title;
  $("facts").replaceChildren(...view.facts.flatMap(([label, value]) => [element("dt", label), element("dd", value)]));
  $("tables").replaceChildren(...view.tables.map(tableSection));
  $("preferences").replaceChildren(...view.preferences.map((line) => element("li", line)));
  $("record").hidden = false;
  say("");
}

async function start() {
  const site = new URLSearchParams(location.search).get("site");
  if (!site) {
    say("No vendor named: open this page from the popup.", { error: true });
    return;
  }
  $("title").textContent = site;
  const result = await api.send(api.vendorRequest(await loadConfig(), site));
  if (result.state === api.OK) {
    draw(result.data);
  } else if (result.status === 404) { // (an ERROR: a proxy not running or a browser not paired has no status)
    say(`whoknows has no record of ${site} yet.`);
  } else {
    say(failureText(result), { error: true });
  }
}

start();
