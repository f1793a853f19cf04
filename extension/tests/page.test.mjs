import assert from "node:assert/strict";
import { test } from "node:test";

import { ERROR, NOT_PAIRED, NOT_RUNNING, interpretFailure, interpretResponse } from "../lib/api.js";
import { element, failureText, say } from "../lib/page.js";

// Just enough of a DOM for the helpers: an element that takes text, and refuses markup.
function fakeDocument() {
  const made = (tag) => {
    const node = { tagName: tag, textContent: "", className: "", classes: new Set() };
    node.classList = { toggle: (name, on) => (on ? node.classes.add(name) : node.classes.delete(name)) };
    Object.defineProperty(node, "innerHTML", { set() { throw new Error("markup written"); } });
    return node;
  };
  const status = made("p");
  return { createElement: made, getElementById: (id) => (id === "status" ? status : null), status };
}

test("an element holds the proxy's string as text, markup and all", () => {
  globalThis.document = fakeDocument();
  try {
    const cell = element("td", "<b>Meta</b> & co", "n");
    assert.equal(cell.tagName, "td");
    assert.equal(cell.textContent, "<b>Meta</b> & co");
    assert.equal(cell.className, "n");
    const empty = element("tr");
    assert.equal(empty.textContent, "");
    assert.equal(empty.className, "");
  } finally {
    delete globalThis.document;
  }
});

test("the status line says a note or an error, and an error clears with the next note", () => {
  globalThis.document = fakeDocument();
  try {
    say("Pairing…");
    assert.equal(document.status.textContent, "Pairing…");
    assert.equal(document.status.classes.has("error"), false);
    say("Not paired: wrong code", { error: true });
    assert.equal(document.status.classes.has("error"), true);
    say("");
    assert.equal(document.status.textContent, "");
    assert.equal(document.status.classes.has("error"), false);
  } finally {
    delete globalThis.document;
  }
});

test("a page that could not read the proxy says why, and what to do", () => {
  const refused = interpretFailure(new TypeError("Failed to fetch"), "http://127.0.0.1:8765");
  assert.equal(refused.state, NOT_RUNNING);
  assert.equal(failureText(refused), "The whoknows proxy is not running: start it with \"whoknows proxy\".");
  const unknown = interpretResponse({ status: 401, text: "{}" });
  assert.equal(unknown.state, NOT_PAIRED);
  assert.equal(failureText(unknown), "This browser is not paired with the proxy: pair it in the extension's options.");
  const broken = interpretResponse({ status: 500, text: JSON.stringify({ error: "the ledger is locked" }) });
  assert.equal(broken.state, ERROR);
  assert.equal(failureText(broken), broken.message);
  assert.match(failureText(broken), /the ledger is locked/);
});
