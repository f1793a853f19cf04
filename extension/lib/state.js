// The proxy's site state (GET /api/v1/site) -> what the popup and the badge show.
//
// Pure and defensive: the proxy decides everything (which site a URL belongs to, what was blocked,
// who owns a tracker); this module only reads its answer, replaces missing or malformed fields
// with "nothing" rather than failing, and orders things for display.

import { NOT_PAIRED, NOT_RUNNING, OK } from "./api.js";
import { termsView } from "./terms.js";

export const COOKIE_CHOICES = Object.freeze(["default", "allow", "session", "cap", "block"]);

export const BADGE_COLOURS = Object.freeze({ count: "#1d4e89", paused: "#6b6b6b" });

function count(value) {
  return Number.isSafeInteger(value) && value > 0 ? value : 0;
}

function text(value) {
  return typeof value === "string" && value.trim() ? value.trim() : null;
}

function object(value) {
  return value && typeof value === "object" && !Array.isArray(value) ? value : {};
}

// A count in the four characters a toolbar badge has room for.
export function compactCount(n) {
  const value = count(n);
  if (value < 1000) return String(value);
  if (value < 100_000) return `${Math.floor(value / 1000)}k`;
  return "99k+";
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

// "cap:7" -> {choice: "cap", capDays: 7}; null -> {choice: "default"}.
export function cookieModeChoice(mode) {
  const value = text(mode);
  if (value === null) return { choice: "default", capDays: null };
  const match = /^cap:(\d+)$/.exec(value);
  if (match) return { choice: "cap", capDays: Number(match[1]) };
  return COOKIE_CHOICES.includes(value) ? { choice: value, capDays: null } : { choice: "default", capDays: null };
}

// The mode the control API expects for a choice in the popup (the proxy checks the range).
export function cookieModeValue(choice, capDays) {
  if (choice === "default") return null;
  if (choice === "cap") {
    const days = String(capDays ?? "").trim();
    if (!/^\d+$/.test(days)) throw new RangeError("Give the number of days cookies may last, e.g. 7");
    return `cap:${Number(days)}`;
  }
  if (!COOKIE_CHOICES.includes(choice)) throw new RangeError(`Unknown cookie mode ${choice}`);
  return choice;
}

// A learned tracker as the proxy reports it: {state: "learned"|"allowed", sites: [...]}, or null.
function learnedOf(value) {
  const item = object(value);
  if (item.state !== "learned" && item.state !== "allowed") return null;
  const sites = (Array.isArray(item.sites) ? item.sites : []).map(text).filter(Boolean);
  return { state: item.state, sites };
}

function thirdParty(entry, allowedHere) {
  const item = object(entry);
  const domain = text(item.domain);
  if (domain === null) return null;
  return {
    domain,
    company: text(item.company),
    blocked: count(item.blocked),
    allowed: count(item.allowed),
    allowedHere: allowedHere.has(domain),
    blockedBy: text(item.blocked_by), // the list whose filter blocked it ("whoknows": what the proxy learned)
    learned: learnedOf(item.learned),
    cloakedBehind: text(item.cloaked_behind), // this site's own host that is a DNS alias of it
  };
}

const SITES_SHOWN = 5;
// The list name the proxy gives its own blocks (learned trackers, shared identifiers).
const LEARNED_LIST = "whoknows";

// "a.test, b.test and 4 more" (as `whoknows check` says it).
function siteList(sites) {
  const more = sites.length > SITES_SHOWN ? ` and ${sites.length - SITES_SHOWN} more` : "";
  return sites.slice(0, SITES_SHOWN).join(", ") + more;
}

// Why the proxy treats a third party as a tracker here, in words (null: nothing to say): learned
// on other sites, hidden behind one of this site's own names, or blocked by a filter list.
export function trackerNote(party) {
  const notes = [];
  if (party.learned) {
    const seen = party.learned.sites.length ? `, seen tracking on ${siteList(party.learned.sites)}` : "";
    notes.push(party.learned.state === "allowed"
      ? `Learned tracker${seen}; you let it in (it gets no cookies and no Referer)`
      : `Learned tracker${seen}` + (party.blockedBy === LEARNED_LIST && party.blocked > 0 ? ": blocked because whoknows learned it" : ""));
  }
  if (party.cloakedBehind) notes.push(`Hidden behind ${party.cloakedBehind}, a name of this site (CNAME)`);
  if (party.blockedBy && party.blocked > 0 && !(party.learned && party.blockedBy === LEARNED_LIST)) {
    notes.push(party.blockedBy === LEARNED_LIST ? "Blocked: whoknows saw it receive this site's identifiers"
      : `Blocked by the list ${party.blockedBy}`);
  }
  return notes.length ? notes.join(". ") + "." : null;
}


// Most blocked first, then most contacted, then by name: the trackers that matter on top.
export function compareThirdParties(a, b) {
  return b.blocked - a.blocked
    || (b.blocked + b.allowed) - (a.blocked + a.allowed)
    || (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0);
}

// One company's line in the popup, from the proxy's grouping (GET /api/v1/site `companies`).
function companyGroup(entry) {
  const item = object(entry);
  const company = text(item.company);
  if (company === null) return null;
  return { company, category: text(item.category), blocked: count(item.blocked), reached: count(item.reached) };
}

// "Google: 9 blocked, 2 reached"
export function companyLine(group) {
  return `${group.company}: ${group.blocked} blocked, ${group.reached} reached`;
}

export function siteView(state) {
  const data = object(state);
  const site = text(data.site);
  const settings = object(data.settings);
  const blocked = object(data.blocked);
  const cookies = object(data.cookies);
  const allowedHere = new Set((Array.isArray(settings.allowed_third_parties) ? settings.allowed_third_parties : [])
    .map(text).filter(Boolean));
  const thirdParties = (Array.isArray(blocked.third_parties) ? blocked.third_parties : [])
    .map((entry) => thirdParty(entry, allowedHere)).filter(Boolean).sort(compareThirdParties);
  // The proxy's `protection` is the answer; `paused` is the setting behind it.
  const protection = typeof data.protection === "boolean" ? data.protection : settings.paused !== true;
  return {
    site,
    protection,
    blockedTotal: count(blocked.total),
    thirdParties,
    companies: [...new Set(thirdParties.map((party) => party.company).filter(Boolean))].sort(),
    // As the proxy grouped them: most requests first.
    companyGroups: (Array.isArray(data.companies) ? data.companies : []).map(companyGroup).filter(Boolean),
    cookiesRemoved: count(cookies.removed),
    cookiesRewritten: count(cookies.rewritten),
    parametersStripped: count(data.parameters_stripped),
    leaks: count(data.leaks),
    leaksPrevented: count(data.leaks_prevented),
    alias: text(data.alias),
    cookieMode: cookieModeChoice(settings.cookie_mode),
    terms: termsView(data.terms),
  };
}

// Lines for the counts list, in words.
export function summaryLines(view) {
  return [
    plural(view.blockedTotal, "request blocked", "requests blocked"),
    `${plural(view.cookiesRemoved, "cookie removed", "cookies removed")}, ${view.cookiesRewritten} rewritten`,
    plural(view.parametersStripped, "tracking parameter stripped", "tracking parameters stripped"),
    plural(view.leaks, "possible leak", "possible leaks"),
    plural(view.leaksPrevented, "leak prevented", "leaks prevented"),
  ];
}

// The toolbar badge for one tab, from the outcome of asking the proxy about the tab's URL.
export function badgeFor(result) {
  if (!result || result.state !== OK) {
    const why = result?.state === NOT_RUNNING ? "the proxy is not running"
      : result?.state === NOT_PAIRED ? "not paired with the proxy (open the options)"
      : (result?.message ?? "no answer from the proxy");
    return { text: "", colour: BADGE_COLOURS.count, title: `whoknows: ${why}` };
  }
  const view = siteView(result.data);
  if (view.site === null) return { text: "", colour: BADGE_COLOURS.count, title: "whoknows: nothing to show on this page" };
  if (!view.protection) {
    return { text: "off", colour: BADGE_COLOURS.paused, title: `whoknows: protection is off on ${view.site}` };
  }
  const title = view.blockedTotal === 0 ? `whoknows: nothing blocked on ${view.site}`
    : `whoknows: ${plural(view.blockedTotal, "request", "requests")} blocked on ${view.site}`;
  return { text: view.blockedTotal === 0 ? "" : compactCount(view.blockedTotal), colour: BADGE_COLOURS.count, title };
}

// Whether a tab's URL is one the proxy could have seen (the popup and badge skip the rest).
export function isWebUrl(url) {
  return typeof url === "string" && /^https?:\/\//i.test(url);
}
