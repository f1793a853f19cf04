import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { NOT_PAIRED, NOT_RUNNING, OK } from "../lib/api.js";
import { badgeFor, companyLine, compactCount, cookieModeChoice, cookieModeValue, isWebUrl, siteView, summaryLines, trackerNote } from "../lib/state.js";

// The shape docs/control-api.md gives for GET /api/v1/site.
const STATE = {
  site: "vendor.test",
  protection: true,
  blocked: {
    total: 7,
    third_parties: [
      { domain: "cdn.test", company: null, blocked: 0, allowed: 12 },
      { domain: "tracker.test", company: "Meta", blocked: 5, allowed: 0 },
      { domain: "ads.test", company: "Alphabet", blocked: 2, allowed: 1 },
      { domain: "pixel.test", company: "Meta", blocked: 0, allowed: 3 },
    ],
  },
  companies: [
    { company: "Meta", category: "advertising", blocked: 5, reached: 3, domains: ["tracker.test", "pixel.test"] },
    { company: "Alphabet", category: "advertising", blocked: 2, reached: 1, domains: ["ads.test"] },
  ],
  cookies: { removed: 3, rewritten: 1 },
  parameters_stripped: 2,
  leaks: 0,
  alias: null,
  settings: { paused: false, cookie_mode: "cap:30", allowed_third_parties: ["pixel.test"] },
};

describe("siteView", () => {
  test("counts, and third parties most blocked first, with their companies", () => {
    const view = siteView(STATE);
    assert.equal(view.site, "vendor.test");
    assert.equal(view.protection, true);
    assert.equal(view.blockedTotal, 7);
    assert.deepEqual(view.thirdParties.map((p) => p.domain), ["tracker.test", "ads.test", "cdn.test", "pixel.test"]);
    assert.deepEqual(view.thirdParties[0], { domain: "tracker.test", company: "Meta", blocked: 5, allowed: 0, allowedHere: false,
      blockedBy: null, learned: null, cloakedBehind: null });
    assert.equal(view.thirdParties.find((p) => p.domain === "pixel.test").allowedHere, true);
    assert.deepEqual(view.companies, ["Alphabet", "Meta"]);
    assert.deepEqual(view.cookieMode, { choice: "cap", capDays: 30 });
    assert.equal(view.cookiesRemoved, 3);
    assert.equal(view.parametersStripped, 2);
  });

  test("companies as the proxy grouped them, in its order, one line each", () => {
    const view = siteView(STATE);
    assert.deepEqual(view.companyGroups.map(companyLine), ["Meta: 5 blocked, 3 reached", "Alphabet: 2 blocked, 1 reached"]);
    const odd = siteView({ site: "x.test", companies: [null, { company: "" }, { company: "<b>X</b>", blocked: "9", reached: -1 }] });
    assert.deepEqual(odd.companyGroups, [{ company: "<b>X</b>", category: null, blocked: 0, reached: 0 }]);
    assert.deepEqual(siteView({ site: "x.test", companies: "nope" }).companyGroups, []);
  });

  test("why a third party is a tracker: learned (blocked or let in), CNAME-cloaked, or on a list", () => {
    const parties = (third_parties) => Object.fromEntries(siteView({ site: "vendor.test", blocked: { total: 9, third_parties } })
      .thirdParties.map((p) => [p.domain, trackerNote(p)]));
    const notes = parties([
      { domain: "widgets.test", blocked: 2, blocked_by: "whoknows", learned: { state: "learned", sites: ["a.test", "b.test", "c.test"] } },
      { domain: "chat.test", allowed: 1, learned: { state: "allowed", sites: ["a.test", "b.test", "c.test", "d.test", "e.test", "f.test", "g.test"] } },
      { domain: "tracker-cdn.test", blocked: 1, blocked_by: "easylist", cloaked_behind: "metrics.vendor.test" },
      { domain: "ids.test", blocked: 1, blocked_by: "whoknows" },
      { domain: "cdn.test", allowed: 4 },
      { domain: "odd.test", blocked: 1, blocked_by: 5, learned: { state: "<b>x</b>", sites: "a.test" }, cloaked_behind: [] },
    ]);
    assert.equal(notes["widgets.test"], "Learned tracker, seen tracking on a.test, b.test, c.test: blocked because whoknows learned it.");
    assert.equal(notes["chat.test"], "Learned tracker, seen tracking on a.test, b.test, c.test, d.test, e.test and 2 more; "
      + "you let it in (it gets no cookies and no Referer).");
    assert.equal(notes["tracker-cdn.test"], "Hidden behind metrics.vendor.test, a name of this site (CNAME). Blocked by the list easylist.");
    assert.equal(notes["ids.test"], "Blocked: whoknows saw it receive this site's identifiers.");
    assert.equal(notes["cdn.test"], null);
    assert.equal(notes["odd.test"], null); // malformed fields say nothing rather than something wrong
  });

  test("a paused site has protection off", () => {
    const view = siteView({ ...STATE, protection: false, settings: { ...STATE.settings, paused: true } });
    assert.equal(view.protection, false);
  });

  test("a page with no site, and malformed answers, give an empty view rather than an error", () => {
    assert.equal(siteView({ site: null }).site, null);
    const view = siteView({ site: "x.test", blocked: { total: -3, third_parties: [null, { domain: 5 }, { domain: "ok.test", blocked: "9" }] } });
    assert.equal(view.blockedTotal, 0);
    assert.deepEqual(view.thirdParties, [{ domain: "ok.test", company: null, blocked: 0, allowed: 0, allowedHere: false,
      blockedBy: null, learned: null, cloakedBehind: null }]);
    assert.equal(siteView(undefined).site, null);
    assert.equal(siteView("nonsense").blockedTotal, 0);
  });

  test("the summary says it in words, singular and plural", () => {
    const lines = summaryLines(siteView({ ...STATE, blocked: { total: 1 }, parameters_stripped: 1 }));
    assert.equal(lines[0], "1 request blocked");
    assert.equal(lines[1], "3 cookies removed, 1 rewritten");
    assert.equal(lines[2], "1 tracking parameter stripped");
    const leaky = summaryLines(siteView({ ...STATE, leaks: 2, leaks_prevented: 1 }));
    assert.deepEqual(leaky.slice(3), ["2 possible leaks", "1 leak prevented"]);
  });
});

describe("cookie modes", () => {
  test("state -> choice", () => {
    assert.deepEqual(cookieModeChoice(null), { choice: "default", capDays: null });
    assert.deepEqual(cookieModeChoice("block"), { choice: "block", capDays: null });
    assert.deepEqual(cookieModeChoice("cap:7"), { choice: "cap", capDays: 7 });
    assert.deepEqual(cookieModeChoice("weird"), { choice: "default", capDays: null });
  });
  test("choice -> what the API takes", () => {
    assert.equal(cookieModeValue("default", "7"), null);
    assert.equal(cookieModeValue("session", ""), "session");
    assert.equal(cookieModeValue("cap", " 14 "), "cap:14");
    assert.throws(() => cookieModeValue("cap", ""), /number of days/);
    assert.throws(() => cookieModeValue("cap", "1.5"), /number of days/);
    assert.throws(() => cookieModeValue("forever", ""), /Unknown cookie mode/);
  });
});

describe("badge", () => {
  const ok = (data) => ({ state: OK, data });
  test("the number of blocked requests for the tab's site", () => {
    assert.deepEqual(badgeFor(ok(STATE)), { text: "7", colour: "#1d4e89", title: "whoknows: 7 requests blocked on vendor.test" });
  });
  test("nothing blocked: no number", () => {
    const badge = badgeFor(ok({ ...STATE, blocked: { total: 0, third_parties: [] } }));
    assert.equal(badge.text, "");
    assert.equal(badge.title, "whoknows: nothing blocked on vendor.test");
  });
  test("protection off says so", () => {
    const badge = badgeFor(ok({ ...STATE, protection: false }));
    assert.equal(badge.text, "off");
    assert.match(badge.title, /protection is off on vendor.test/);
  });
  test("no proxy, no pairing, no site: empty badge, the reason in the title", () => {
    assert.deepEqual(badgeFor({ state: NOT_RUNNING }).text, "");
    assert.match(badgeFor({ state: NOT_RUNNING }).title, /not running/);
    assert.match(badgeFor({ state: NOT_PAIRED }).title, /not paired/);
    assert.match(badgeFor(ok({ site: null })).title, /nothing to show/);
  });
  test("large counts fit in four characters", () => {
    assert.equal(compactCount(0), "0");
    assert.equal(compactCount(999), "999");
    assert.equal(compactCount(1500), "1k");
    assert.equal(compactCount(99_999), "99k");
    assert.equal(compactCount(250_000), "99k+");
    for (const n of [0, 5, 999, 1000, 12_345, 99_999, 10 ** 9]) assert.ok(compactCount(n).length <= 4);
  });
});

test("only http and https pages are the proxy's business", () => {
  assert.ok(isWebUrl("https://vendor.test/"));
  assert.ok(isWebUrl("HTTP://vendor.test/"));
  assert.ok(!isWebUrl("chrome://extensions/"));
  assert.ok(!isWebUrl("about:blank"));
  assert.ok(!isWebUrl(undefined));
});
