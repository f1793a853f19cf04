import assert from "node:assert/strict";
import { test } from "node:test";

import { pickTargetTab, requestedTabId } from "../lib/tabs.js";

const OWN = "chrome-extension://abc/";
const vendor = { id: 1, url: "https://vendor.test/", lastAccessed: 100 };
const other = { id: 2, url: "https://other.test/", lastAccessed: 50 };
const blank = { id: 3, url: "about:blank", lastAccessed: 200 };
const popupTab = { id: 4, url: `${OWN}popup.html`, lastAccessed: 300 };
const vendorPage = { id: 5, url: `${OWN}vendor.html?site=vendor.test`, lastAccessed: 250 };

test("the active tab, when it is a web page", () => {
  assert.equal(pickTargetTab(other, [vendor, other, popupTab], OWN), other);
});

test("popup opened in a tab: the web page looked at last, never an extension page", () => {
  assert.equal(pickTargetTab(popupTab, [vendor, other, blank, popupTab, vendorPage], OWN), vendor);
  assert.equal(pickTargetTab(popupTab, [blank, popupTab], OWN), blank);
  assert.equal(pickTargetTab(popupTab, [popupTab], OWN), null);
  assert.equal(pickTargetTab(undefined, [], OWN), null);
});

test("?tab=ID names a tab", () => {
  assert.equal(requestedTabId("?tab=12"), 12);
  assert.equal(requestedTabId("?tab=x"), null);
  assert.equal(requestedTabId("?tab=-1"), null);
  assert.equal(requestedTabId(""), null);
});
