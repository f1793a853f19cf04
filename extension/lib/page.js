// What the extension's pages share (popup, options, vendor, companies): finding their elements,
// the status line, elements made from the proxy's strings (as text, never as markup), and the
// sentence for an answer that could not be read.

import { NOT_PAIRED, NOT_RUNNING } from "./api.js";

export const $ = (id) => document.getElementById(id);

// The page's status line (#status): a plain note, or an error.
export function say(text, { error = false } = {}) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", error);
}

// An element holding `text` as text: strings from the ledger go into the DOM as textContent.
export function element(tag, text, className) {
  const made = document.createElement(tag);
  if (text !== undefined) made.textContent = text;
  if (className) made.className = className;
  return made;
}

// Why a page that reads the control API once (vendor, companies) has nothing to show: the
// sentence for its status line, said as an error.
export function failureText(result) {
  if (result.state === NOT_RUNNING) return "The whoknows proxy is not running: start it with \"whoknows proxy\".";
  if (result.state === NOT_PAIRED) return "This browser is not paired with the proxy: pair it in the extension's options.";
  return result.message;
}
