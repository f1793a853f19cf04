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
