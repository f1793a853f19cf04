// Messages between the extension's pages and its background: an allow-list and a validator.
//
// The background acts only on a message whose type is listed here and whose fields have exactly
// the listed kinds (no extra fields), sent by this extension itself. Nothing else can reach it
// (no content scripts, no `externally_connectable`), and this keeps it that way if that changes.

const FIELD_CHECKS = Object.freeze({
  tabId: (value) => Number.isSafeInteger(value) && value >= 0,
});

// type -> {field: required?}
export const MESSAGE_TYPES = Object.freeze({
  // The popup saw a change (or made one) for a tab: redraw that tab's badge now.
  "refresh-badge": Object.freeze({ tabId: true }),
  // The options page saved an address or a token: redraw every tab's badge.
  "settings-changed": Object.freeze({}),
});

export function message(type, fields = {}) {
  return { type, ...fields };
}

// -> {ok: true, message} (a clean copy) or {ok: false, reason}
export function validateMessage(candidate) {
  if (candidate === null || typeof candidate !== "object" || Array.isArray(candidate)) {
    return { ok: false, reason: "not an object" };
  }
  const spec = Object.hasOwn(MESSAGE_TYPES, candidate.type) ? MESSAGE_TYPES[candidate.type] : null;
  if (spec === null) return { ok: false, reason: `unknown message type ${JSON.stringify(candidate.type)}` };
  const clean = { type: candidate.type };
  for (const key of Object.keys(candidate)) {
    if (key === "type") continue;
    if (!Object.hasOwn(spec, key)) return { ok: false, reason: `unexpected field ${key}` };
    if (!FIELD_CHECKS[key](candidate[key])) return { ok: false, reason: `bad ${key}` };
    clean[key] = candidate[key];
  }
  for (const [key, required] of Object.entries(spec)) {
    if (required && !Object.hasOwn(clean, key)) return { ok: false, reason: `missing ${key}` };
  }
  return { ok: true, message: clean };
}

// Sender check: only this extension's own pages (not a content script, not another extension).
export function fromOwnPage(sender, extensionId, extensionOrigin) {
  return Boolean(sender) && sender.id === extensionId
    && typeof sender.url === "string" && sender.url.startsWith(extensionOrigin);
}
