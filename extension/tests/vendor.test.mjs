import assert from "node:assert/strict";
import { test } from "node:test";

import { aboutObservation, lifetime, shortTime, vendorView } from "../lib/vendor.js";

// The shape of `whoknows vendor show --json` (whoknows/vendor_records.py: vendor_record).
const RECORD = {
  vendor: "vendor.test",
  display: "vendor.test",
  name: "Vendor Shop",
  created_at: "2025-01-02T03:04:05.678+00:00",
  company: { name: "Vendor GmbH", privacy_contact: "privacy@vendor.test", address: "Street 1\n12345 Town",
    countries: ["de"], categories: ["commerce"], domains: ["vendor.test", "vendor-cdn.test"], sources: {} },
  aliases: [{ address: "you+vendor.abc@mail.example", state: "active", created_at: "2025-01-03T00:00:00+00:00", state_changed_at: null }],
  disclosures: [],
  preferences: { marketing: false, channels: ["email"], max_per_month: 2, notes: null, updated_at: "2025-01-03T00:00:00+00:00" },
  observations: {
    third_parties: { distinct: 1, seen: 9, blocked: 4, top: [
      { subject: "tracker.test", count: 9, blocked: 4, first_seen: "2025-01-03T00:00:00+00:00", last_seen: "2025-01-04T10:11:12+00:00",
        detail: { owner: "Meta", tracker: true } }] },
    cookies: { distinct: 0, seen: 0, blocked: 0, top: [] },
    parameters: { distinct: 0, seen: 0, blocked: 0, top: [] },
  },
};

test("the record as the page shows it", () => {
  const view = vendorView(RECORD);
  assert.equal(view.title, "vendor.test (Vendor Shop)");
  assert.deepEqual(view.facts.slice(0, 3), [["Company", "Vendor GmbH"], ["Privacy contact", "privacy@vendor.test"], ["Postal address", "Street 1\n12345 Town"]]);
  assert.deepEqual(view.facts.find(([label]) => label === "Also runs"), ["Also runs", "vendor-cdn.test"]);
  assert.equal(view.facts.find(([label]) => label === "Sales contact"), undefined);  // none recorded
  const withSales = vendorView({ ...RECORD, company: { ...RECORD.company, sales_contact: "sales@vendor.test" } });
  assert.deepEqual(withSales.facts.slice(0, 4), [...view.facts.slice(0, 3), ["Sales contact", "sales@vendor.test"]]);
  const aliases = view.tables.find((t) => t.key === "aliases");
  assert.deepEqual(aliases.rows, [["you+vendor.abc@mail.example", "active", "2025-01-03 00:00"]]);
  const thirdParties = view.tables.find((t) => t.key === "third_parties");
  assert.equal(thirdParties.caption, "1 distinct, seen 9 times, 4 blocked");
  assert.deepEqual(thirdParties.rows, [["tracker.test", "9", "4", "Meta, tracker", "2025-01-04 10:11"]]);
  assert.equal(view.tables.find((t) => t.key === "cookies").caption, "None seen.");
  assert.deepEqual(view.preferences, ["Marketing: no", "Channels: email", "At most 2 messages a month"]);
});

test("an empty or odd record still renders", () => {
  const view = vendorView({ vendor: "x.test" });
  assert.equal(view.title, "x.test");
  assert.deepEqual(view.facts[0], ["Company", "unknown"]);
  assert.ok(view.tables.every((t) => t.rows.length === 0));
  assert.deepEqual(view.preferences, ["None stated."]);
  assert.equal(vendorView(null).title, "");
});

test("cookie lifetimes and times in words", () => {
  assert.equal(lifetime(null), "session");
  assert.equal(lifetime(0), "deletion");
  assert.equal(lifetime(7 * 86400), "7 d");
  assert.equal(lifetime(90), "2 min");
  assert.equal(aboutObservation({ third_party: true, owner: "Meta", asked_lifetime_seconds: 400 * 86400,
    granted_lifetime_seconds: 7 * 86400, mode: "cap:7" }), "third party, Meta, asked 400 d, kept 7 d");
  assert.equal(aboutObservation({ asked_lifetime_seconds: 3600, mode: "block" }), "asked 1 h, removed");
  assert.equal(shortTime("garbage"), "");
});

test("learned trackers, CNAME cloaking and the list that blocked a third party", () => {
  const view = vendorView({
    vendor: "widgets.test",
    learned_tracker: { domain: "widgets.test", state: "learned", sites: ["a.test", "b.test", "c.test"] },
    observations: { third_parties: { distinct: 3, seen: 4, blocked: 3, top: [
      { subject: "px.test", count: 2, blocked: 2, detail: { tracker: true, blocked: 2, blocked_by: "whoknows" },
        learned: { state: "learned", sites: ["a.test", "b.test", "c.test"] } },
      { subject: "tracker-cdn.test", count: 1, blocked: 1,
        detail: { owner: "Adobe", blocked: 1, blocked_by: "easylist", cloaked_behind: "metrics.widgets.test" }, learned: null },
      { subject: "chat.test", count: 1, blocked: 0, detail: { tracker: true, allowed: 1 }, learned: { state: "allowed", sites: [] } },
    ] } },
  });
  assert.deepEqual(view.facts.find(([label]) => label === "Learned tracker"),
    ["Learned tracker", "seen tracking on a.test, b.test, c.test; blocked on every site but its own"]);
  const about = Object.fromEntries(view.tables.find((t) => t.key === "third_parties").rows.map((row) => [row[0], row[3]]));
  assert.equal(about["px.test"], "learned tracker, blocked by whoknows");
  assert.equal(about["tracker-cdn.test"], "Adobe, behind metrics.widgets.test (CNAME), blocked by easylist");
  assert.equal(about["chat.test"], "learned tracker, let in by you");
  assert.equal(vendorView({ vendor: "x.test", learned_tracker: { state: "<b>" } }).facts.some(([l]) => l === "Learned tracker"), false);
});
