import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { siteView } from "../lib/state.js";
import { agreementLine, proffersLine, termsView } from "../lib/terms.js";

// The `terms` of GET /api/v1/site (docs/control-api.md).
const TERMS = [
  { term: "nostalking", version: 1, title: "No stalking", url: "http://whoknows.proxy/personal-terms/nostalking/1",
    offered_since: "2026-03-01T10:00:00Z", agreed_on: "2026-03-02T08:00:00Z", agreed_by: "header" },
  { term: "other", version: 2, title: "Other", offered_since: "2026-03-05T10:00:00Z", agreed_on: null, agreed_by: null },
  { term: "fresh", version: 1, title: "Fresh", offered_since: null, agreed_on: null, agreed_by: null },
];

describe("personal terms in the popup", () => {
  test("what you proffer, and what the site did about each term", () => {
    const terms = termsView(TERMS);
    assert.equal(proffersLine(terms), "Your terms: No stalking (nostalking/1), Other (other/2), Fresh (fresh/1)");
    assert.deepEqual(terms.map((t) => agreementLine("vendor.test", t)), [
      "vendor.test agreed to No stalking on 2026-03-02 (by its Personal-Terms-Agreed header)",
      "vendor.test has not agreed to Other (offered since 2026-03-05)",
      "vendor.test has not been offered Fresh yet",
    ]);
  });

  test("an agreement by the well-known file says so", () => {
    const [t] = termsView([{ ...TERMS[0], agreed_by: "well-known" }]);
    assert.equal(agreementLine("other.test", t), "other.test agreed to No stalking on 2026-03-02 (by its /.well-known/personal-terms)");
  });

  test("none proffered says how to proffer one", () => {
    assert.equal(proffersLine(termsView([])), "Your terms: none proffered (whoknows terms offer nostalking)");
  });

  test("missing or malformed fields read as nothing, never fail", () => {
    assert.deepEqual(termsView(null), []);
    assert.deepEqual(termsView("nostalking"), []);
    const terms = termsView([null, 7, { term: "" , version: 1 }, { term: "x", version: "1" },
      { term: "nostalking", version: 1, agreed_on: "yesterday", agreed_by: "carrier pigeon", offered_since: 5 }]);
    assert.deepEqual(terms, [{ key: "nostalking/1", title: "nostalking", offeredSince: null, agreedOn: null, agreedBy: null }]);
    const [agreed] = termsView([{ term: "t", version: 1, agreed_on: "2026-01-01", agreed_by: "carrier pigeon" }]);
    assert.equal(agreementLine("a.test", agreed), "a.test agreed to t on 2026-01-01");
  });

  test("the site view carries them", () => {
    assert.deepEqual(siteView({ site: "vendor.test", terms: TERMS.slice(0, 1) }).terms, termsView(TERMS.slice(0, 1)));
    assert.deepEqual(siteView({ site: "vendor.test" }).terms, []);
  });
});
