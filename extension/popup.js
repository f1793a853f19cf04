// The popup: what the proxy does on the current tab's site, and that site's settings.
//
// It asks the proxy for the tab's site state about once a second while open (with the last ETag,
// so an unchanged state costs a 304), draws it, and forwards the person's changes to the proxy.
// The proxy's answer to a change is the new state, drawn as is: nothing is decided here.

import * as api from "./lib/api.js";
import { ext } from "./lib/browser.js";
import { message } from "./lib/messages.js";
import { $, element, say } from "./lib/page.js";
import { loadConfig } from "./lib/settings.js";
import { companyLine, cookieModeValue, isWebUrl, siteView, summaryLines, trackerNote } from "./lib/state.js";
import { pickTargetTab, requestedTabId } from "./lib/tabs.js";
import { agreementLine, proffersLine } from "./lib/terms.js";

const POLL_MS = 1000;
const OWN_ORIGIN = ext.runtime.getURL("");

const current = {
  tab: null, // the tab this popup is about
  etag: null, // of the last state drawn
  state: null, // the last site state drawn, as the proxy sent it
  view: null, // the same, as lib/state.js siteView made it
  writes: 0, // bumped by every change made: a poll that overlapped one is stale
  pending: 0, // changes not answered yet
};

// --- where the popup looks --------------------------------------------------------------------

async function findTab() {
  const wanted = requestedTabId(location.search);
  if (wanted !== null) return ext.tabs.get(wanted).catch(() => null);
  const [active] = await ext.tabs.query({ active: true, currentWindow: true });
  const popupInATab = !active || active.url?.startsWith(OWN_ORIGIN);
  return pickTargetTab(active, popupInATab ? await ext.tabs.query({}) : [], OWN_ORIGIN);
}

async function refreshTab() {
  if (current.tab === null) return;
  try {
    const tab = await ext.tabs.get(current.tab.id);
    if (tab.url !== current.tab.url) current.etag = null; // navigated: a new site, maybe
    current.tab = tab;
  } catch {
    current.tab = null; // closed
  }
}

// --- drawing ----------------------------------------------------------------------------------

function showOnly(section) {
  for (const id of ["problem", "no-site", "details"]) $(id).hidden = id !== section;
  if (section !== "details") $("vendor-link").hidden = true;
}

const PROBLEMS = {
  [api.NOT_RUNNING]: (config) => ["The whoknows proxy is not running",
    `Nothing answers at ${config.address}. Start it with "whoknows proxy", or check the address in the options.`],
  [api.NOT_PAIRED]: () => ["Not paired",
    "This browser is not paired with the proxy. Open the options and enter the code from \"whoknows extension pair\"."],
  [api.ERROR]: (config, result) => ["The proxy answered with an error", result.message ?? "Unknown error"],
};

function showProblem(result, config) {
  const [title, text] = PROBLEMS[result.state](config, result);
  // Only real changes: the region is live, and a screen reader would repeat it every second.
  if ($("problem-title").textContent !== title) $("problem-title").textContent = title;
  if ($("problem-text").textContent !== text) $("problem-text").textContent = text;
  showOnly("problem");
  current.view = null;
  current.state = null;
}

function showNoSite(text) {
  if ($("no-site").textContent !== text) $("no-site").textContent = text;
  showOnly("no-site");
  current.view = null;
  current.state = null;
}

function thirdPartyItem(party, site) {
  const item = document.createElement("li");
  const domain = document.createElement("span");
  domain.className = "domain";
  domain.textContent = party.domain;
  const about = document.createElement("span");
  about.className = "about";
  about.textContent = `${party.company ?? "company unknown"} · ${party.blocked} blocked, ${party.allowed} let through`
    + (party.allowedHere ? " (allowed here)" : "");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary";
  button.dataset.domain = party.domain;
  button.dataset.allowed = String(party.allowedHere);
  button.textContent = party.allowedHere ? "Stop allowing" : "Allow here";
  button.setAttribute("aria-label", `${button.textContent}: ${party.domain} on ${site}`); // starts as it reads
  item.append(domain, button, about);
  const note = trackerNote(party);
  if (note !== null) {
    const why = document.createElement("span");
    why.className = "why";
    why.textContent = note; // proxy text: never markup
    item.append(why);
  }
  return item;
}

function drawThirdParties(view) {
  const list = $("third-parties");
  const focused = list.contains(document.activeElement) ? document.activeElement.dataset.domain : null;
  list.replaceChildren(...view.thirdParties.map((party) => thirdPartyItem(party, view.site)));
  $("no-third-parties").hidden = view.thirdParties.length > 0;
  if (focused) list.querySelector(`button[data-domain="${CSS.escape(focused)}"]`)?.focus();
}

function drawCookieMode(view) {
  const select = $("cookie-mode");
  select.value = view.cookieMode.choice;
  $("cap-field").hidden = view.cookieMode.choice !== "cap";
  const cap = $("cookie-cap");
  if (view.cookieMode.capDays !== null && document.activeElement !== cap) cap.value = String(view.cookieMode.capDays);
}

function draw(state) {
  const view = siteView(state);
  if (view.site === null) {
    showNoSite("whoknows has no site for this page (it is not a web site the proxy can see).");
    return;
  }
  current.state = state;
  current.view = view;
  document.title = `whoknows: ${view.site}`;
  $("site").textContent = view.site;
  $("protection").checked = view.protection;
  $("counts").replaceChildren(...summaryLines(view).map((line) => {
    const item = document.createElement("li");
    item.textContent = line;
    return item;
  }));
  $("companies").replaceChildren(...view.companyGroups.map((group) => {
    const item = document.createElement("li");
    item.textContent = companyLine(group);
    return item;
  }));
  $("no-companies").hidden = view.companyGroups.length > 0;
  $("terms").replaceChildren(...[proffersLine(view.terms), ...view.terms.map((t) => agreementLine(view.site, t))]
    .map((line) => element("li", line)));
  drawThirdParties(view);
  drawCookieMode(view);
  if ($("alias").value !== (view.alias ?? "")) $("alias").value = view.alias ?? "";
  $("vendor-link").href = `vendor.html?site=${encodeURIComponent(view.site)}`;
  $("vendor-link").hidden = false;
  showOnly("details");
}

// --- talking to the proxy ---------------------------------------------------------------------

async function poll() {
  await refreshTab();
  const config = await loadConfig();
  if (current.tab === null) {
    showNoSite("No web page to show: open a site, then this popup.");
    return;
  }
  if (!isWebUrl(current.tab.url)) {
    $("site").textContent = "";
    showNoSite("whoknows only sees web pages (http and https).");
    return;
  }
  const writes = current.writes;
  const result = await api.send(api.siteRequest(config, { url: current.tab.url }, current.view ? current.etag : null));
  if (writes !== current.writes || current.pending > 0) return; // a change was made meanwhile: its answer wins
  if (result.state !== api.OK) {
    current.etag = null;
    showProblem(result, config);
    return;
  }
  if (result.unchanged) return;
  current.etag = result.etag;
  draw(result.data);
  tellBackground(message("refresh-badge", { tabId: current.tab.id }));
}

async function pollForever() {
  try {
    await poll();
  } catch (error) {
    say(`whoknows: ${error.message}`, { error: true });
  }
  setTimeout(pollForever, POLL_MS);
}

function tellBackground(msg) {
  ext.runtime.sendMessage(msg).catch(() => {}); // no background listening is not our problem
}

// Sends one change; draws the proxy's answer (the new state) or says why it failed. Changes go
// out one after the other, in the order they were made (a cookie mode, then its number of days),
// and controls stay enabled meanwhile (disabling one would throw a keyboard user's focus away).
let queue = Promise.resolve();

function change(build, describe) {
  if (current.view === null) return Promise.resolve(null);
  const site = current.view.site;
  current.writes += 1;
  current.pending += 1;
  $("details").setAttribute("aria-busy", "true");
  const run = queue.then(() => sendChange(build, site, describe)).finally(() => {
    current.pending -= 1;
    if (current.pending === 0) $("details").removeAttribute("aria-busy");
  });
  queue = run.catch(() => null);
  return run;
}

async function sendChange(build, site, describe) {
  const config = await loadConfig();
  const result = await api.send(build(config, site));
  if (result.state !== api.OK) {
    say(result.message ?? "The proxy did not take the change", { error: true });
    if (current.state) draw(current.state); // put the controls back as they were
    return null;
  }
  // With more changes queued behind this one, drawing it would undo them on screen for a moment.
  const drawn = result.data && "site" in result.data && current.pending === 1;
  if (drawn) draw(result.data);
  current.etag = drawn ? result.etag : null; // a write's answer carries its state's ETag
  say(describe(result.data ?? {}));
  if (current.tab) tellBackground(message("refresh-badge", { tabId: current.tab.id }));
  return result.data;
}

// --- what the person does ---------------------------------------------------------------------

function onProtection(event) {
  const on = event.target.checked;
  change((config, site) => api.protectionRequest(config, site, !on), (state) => {
    const view = siteView(state);
    return view.protection
      ? `Protection is on for ${view.site}.`
      : `Protection is off for ${view.site}: reload the page to load what was blocked.`;
  });
}

function onCookieMode() {
  const choice = $("cookie-mode").value;
  $("cap-field").hidden = choice !== "cap";
  let mode;
  try {
    mode = cookieModeValue(choice, $("cookie-cap").value);
  } catch (error) {
    say(error.message, { error: true });
    return;
  }
  change((config, site) => api.cookieModeRequest(config, site, mode), (state) => {
    const view = siteView(state);
    return `Cookies from ${view.site}: ${mode === null ? "the default policy" : mode}. Reload the page to apply it.`;
  });
}

function onThirdParty(event) {
  const button = event.target.closest("button[data-domain]");
  if (!button) return;
  const other = button.dataset.domain;
  const allow = button.dataset.allowed !== "true";
  change((config, site) => api.thirdPartyRequest(config, site, other, allow),
    () => (allow ? `${other} is allowed on this site.` : `${other} is no longer allowed on this site.`));
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false; // no clipboard access here: the address stays on screen, selectable
  }
}

async function onAlias() {
  const data = await change((config, site) => api.aliasRequest(config, site), () => "");
  const alias = typeof data?.alias === "string" ? data.alias : null;
  if (alias === null) return;
  $("alias").value = alias;
  const copied = await copyText(alias);
  say(copied ? `Copied ${alias} to the clipboard.` : `This site's alias is ${alias} (select it to copy).`);
}

function openOptions() {
  ext.runtime.openOptionsPage().catch(() => window.open("options.html"));
}

function wire() {
  $("protection").addEventListener("change", onProtection);
  $("cookie-mode").addEventListener("change", onCookieMode);
  $("cookie-cap").addEventListener("change", onCookieMode);
  $("third-parties").addEventListener("click", onThirdParty);
  $("alias-button").addEventListener("click", onAlias);
  $("open-options").addEventListener("click", openOptions);
  $("alias").addEventListener("focus", (event) => event.target.select());
  $("options-link").addEventListener("click", (event) => {
    event.preventDefault();
    openOptions();
  });
}

async function start() {
  wire();
  current.tab = await findTab();
  await pollForever();
}

start();
