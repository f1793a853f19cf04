import assert from "node:assert/strict";
import { test } from "node:test";

import { fromOwnPage, message, MESSAGE_TYPES, validateMessage } from "../lib/messages.js";

test("listed messages pass, as clean copies", () => {
  assert.deepEqual(validateMessage(message("refresh-badge", { tabId: 3 })), { ok: true, message: { type: "refresh-badge", tabId: 3 } });
  assert.deepEqual(validateMessage({ type: "settings-changed" }), { ok: true, message: { type: "settings-changed" } });
});

test("anything else is refused, with the reason", () => {
  const cases = [
    [null, /not an object/],
    ["refresh-badge", /not an object/],
    [[], /not an object/],
    [{}, /unknown message type/],
    [{ type: "toString" }, /unknown message type/],
    [{ type: "__proto__" }, /unknown message type/],
    [{ type: "set-token", token: "x" }, /unknown message type/],
    [{ type: "refresh-badge" }, /missing tabId/],
    [{ type: "refresh-badge", tabId: -1 }, /bad tabId/],
    [{ type: "refresh-badge", tabId: "3" }, /bad tabId/],
    [{ type: "refresh-badge", tabId: 1.5 }, /bad tabId/],
    [{ type: "refresh-badge", tabId: 3, url: "https://x.test" }, /unexpected field url/],
    [{ type: "settings-changed", tabId: 3 }, /unexpected field tabId/],
  ];
  for (const [candidate, reason] of cases) {
    const result = validateMessage(candidate);
    assert.equal(result.ok, false, JSON.stringify(candidate));
    assert.match(result.reason, reason);
  }
});

test("the allow-list cannot be changed at run time", () => {
  assert.throws(() => { MESSAGE_TYPES["set-token"] = {}; }, TypeError);
  assert.throws(() => { MESSAGE_TYPES["refresh-badge"].url = true; }, TypeError);
});

test("only this extension's own pages are listened to", () => {
  const origin = "chrome-extension://abc/";
  assert.ok(fromOwnPage({ id: "abc", url: "chrome-extension://abc/popup.html" }, "abc", origin));
  assert.ok(!fromOwnPage({ id: "other", url: "chrome-extension://other/popup.html" }, "abc", origin));
  assert.ok(!fromOwnPage({ id: "abc", url: "https://vendor.test/", tab: { id: 1 } }, "abc", origin));
  assert.ok(!fromOwnPage({ id: "abc" }, "abc", origin));
  assert.ok(!fromOwnPage(undefined, "abc", origin));
});
