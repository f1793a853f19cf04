// A vendor's record (GET /api/v1/vendor, the shape of `whoknows vendor show --json`) -> the
// vendor page's sections: plain strings in tables, so the page only builds DOM nodes from text.

function text(value) {
  return typeof value === "string" && value.trim() ? value.trim() : null;
}

function list(value) {
  return Array.isArray(value) ? value : [];
}

function object(value) {
  return value && typeof value === "object" && !Array.isArray(value) ? value : {};
}

// "2024-05-01T10:20:30.123456+00:00" -> "2024-05-01 10:20" (the ledger's times are UTC ISO).
export function shortTime(value) {
  const match = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})/.exec(text(value) ?? "");
  return match ? `${match[1]} ${match[2]}` : "";
}

export function lifetime(seconds) {
  if (seconds === null || seconds === undefined) return "session";
  if (!Number.isFinite(seconds)) return "?";
  if (seconds <= 0) return "deletion";
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["min", 60]]) {
    if (seconds >= size) return `${Math.round(seconds / size)} ${unit}`;
  }
  return `${seconds} s`;
}

// What the proxy noted about one observation, in a few words (`learned`: the entry's learned
// tracker status, as `vendor show --json` has it).
export function aboutObservation(detail, learned = null) {
  const info = object(detail);
  const status = object(learned);
  const parts = [];
  if ("third_party" in info) parts.push(info.third_party ? "third party" : "first party");
  if (text(info.owner)) parts.push(text(info.owner));
  if (status.state === "learned") parts.push("learned tracker");
  else if (status.state === "allowed") parts.push("learned tracker, let in by you");
  else if (info.tracker) parts.push("tracker");
  if (text(info.cloaked_behind)) parts.push(`behind ${text(info.cloaked_behind)} (CNAME)`);
  if (text(info.blocked_by) && info.blocked) parts.push(`blocked by ${text(info.blocked_by)}`);
  if ("asked_lifetime_seconds" in info) {
    const kept = info.mode === "block" ? "removed" : `kept ${lifetime(info.granted_lifetime_seconds)}`;
    parts.push(`asked ${lifetime(info.asked_lifetime_seconds)}, ${kept}`);
  }
  return parts.join(", ");
}

function blockedCell(value) {
  if (typeof value === "boolean") return value ? "yes" : "no";
  return Number.isFinite(value) ? String(value) : "";
}

function preferencesLines(prefs) {
  if (!prefs || typeof prefs !== "object") return ["None stated."];
  const lines = [];
  if (prefs.marketing === true) lines.push("Marketing: yes");
  if (prefs.marketing === false) lines.push("Marketing: no");
  const channels = list(prefs.channels).map(text).filter(Boolean);
  if (channels.length) lines.push(`Channels: ${channels.join(", ")}`);
  if (Number.isFinite(prefs.max_per_month)) lines.push(`At most ${prefs.max_per_month} messages a month`);
  if (text(prefs.notes)) lines.push(`Notes: ${text(prefs.notes)}`);
  return lines.length ? lines : ["None stated."];
}

const OBSERVATION_SECTIONS = [
  ["third_parties", "Third parties on its pages"],
  ["cookies", "Cookies"],
  ["parameters", "Tracking parameters"],
];

function observationSection(key, heading, summary) {
  const info = object(summary);
  const rows = list(info.top).map((entry) => {
    const item = object(entry);
    return [text(item.subject) ?? "", String(Number.isFinite(item.count) ? item.count : ""),
      blockedCell(item.blocked), aboutObservation(item.detail, item.learned), shortTime(item.last_seen)];
  });
  const distinct = Number.isFinite(info.distinct) ? info.distinct : rows.length;
  const caption = distinct
    ? `${distinct} distinct, seen ${info.seen ?? 0} times${info.blocked ? `, ${info.blocked} blocked` : ""}`
    : "None seen.";
  return { key, heading, caption, columns: ["Name", "Seen", "Blocked", "About", "Last seen"], rows };
}

export function vendorView(record) {
  const data = object(record);
  const company = object(data.company);
  const vendor = text(data.display) ?? text(data.vendor) ?? "";
  const facts = [
    ["Company", text(company.name) ?? "unknown"],
    ["Privacy contact", text(company.privacy_contact) ?? "unknown"],
    ["Postal address", text(company.address) ?? "unknown"],
  ];
  // where your intents go (`vendor add --sales-contact`): only ever the user's entry, so shown only when given
  if (text(company.sales_contact)) facts.push(["Sales contact", text(company.sales_contact)]);
  const countries = list(company.countries).map(text).filter(Boolean);
  if (countries.length) facts.push(["Countries", countries.join(", ")]);
  const categories = list(company.categories).map(text).filter(Boolean);
  if (categories.length) facts.push(["Categories", categories.join(", ")]);
  const others = list(company.domains).map(text).filter((domain) => domain && domain !== data.vendor);
  if (others.length) facts.push(["Also runs", others.join(", ")]);
  const learned = object(data.learned_tracker);
  if (learned.state === "learned" || learned.state === "allowed") {
    const sites = list(learned.sites).map(text).filter(Boolean);
    facts.push(["Learned tracker", (sites.length ? `seen tracking on ${sites.join(", ")}; ` : "")
      + (learned.state === "allowed" ? "let in by you, without cookies or Referer" : "blocked on every site but its own")]);
  }
  if (shortTime(data.created_at)) facts.push(["In the ledger since", shortTime(data.created_at)]);
  return {
    title: text(data.name) ? `${vendor} (${text(data.name)})` : vendor,
    facts,
    tables: [
      {
        key: "aliases", heading: "Aliases", caption: list(data.aliases).length ? "" : "None yet.",
        columns: ["Address", "State", "Created"],
        rows: list(data.aliases).map((a) => [text(a?.address) ?? "", text(a?.state) ?? "", shortTime(a?.created_at)]),
      },
      {
        key: "disclosures", heading: "What it was given", caption: list(data.disclosures).length ? "" : "Nothing recorded.",
        columns: ["Kind", "Value", "How", "First seen", "Last seen"],
        rows: list(data.disclosures).map((d) => [text(d?.kind) ?? "", text(d?.value) ?? "", text(d?.source) ?? "",
          shortTime(d?.first_seen), shortTime(d?.last_seen)]),
      },
      ...OBSERVATION_SECTIONS.map(([key, heading]) => observationSection(key, heading, object(data.observations)[key])),
    ],
    preferences: preferencesLines(data.preferences),
  };
}
