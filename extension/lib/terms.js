// Personal terms in the popup: which terms you proffer, and what this site did about them.
//
// From the `terms` of the proxy's site state (GET /api/v1/site, docs/control-api.md): one entry per
// term proffered now, with when the proxy first offered it to this site and when and how the site
// agreed (a Personal-Terms-Agreed response header, or its /.well-known/personal-terms). Pure and
// defensive like lib/state.js: a missing or malformed field reads as "nothing".

const AGREED_BY = Object.freeze({
  header: "by its Personal-Terms-Agreed header",
  "well-known": "by its /.well-known/personal-terms",
});

function text(value) {
  return typeof value === "string" && value.trim() ? value.trim() : null;
}

// "2026-03-01T10:00:00Z" -> "2026-03-01"; anything else -> null.
function day(value) {
  const found = /^(\d{4}-\d{2}-\d{2})/.exec(text(value) ?? "");
  return found ? found[1] : null;
}

function term(entry) {
  const item = entry && typeof entry === "object" && !Array.isArray(entry) ? entry : {};
  const id = text(item.term);
  if (id === null || !Number.isSafeInteger(item.version)) return null;
  const agreedOn = day(item.agreed_on);
  return {
    key: `${id}/${item.version}`,
    title: text(item.title) ?? id,
    offeredSince: day(item.offered_since),
    agreedOn,
    agreedBy: agreedOn === null ? null : (AGREED_BY[item.agreed_by] ?? null),
  };
}

// The terms as the popup shows them: [{key, title, offeredSince, agreedOn, agreedBy}].
export function termsView(terms) {
  return (Array.isArray(terms) ? terms : []).map(term).filter(Boolean);
}

// "Your terms: No stalking (nostalking/1)", or how to proffer one.
export function proffersLine(terms) {
  if (terms.length === 0) return "Your terms: none proffered (whoknows terms offer nostalking)";
  return `Your terms: ${terms.map((t) => `${t.title} (${t.key})`).join(", ")}`;
}

// What `site` did about one term: agreed (when, how), not agreed (offered since when), or not offered yet.
export function agreementLine(site, t) {
  if (t.agreedOn !== null) return `${site} agreed to ${t.title} on ${t.agreedOn}` + (t.agreedBy ? ` (${t.agreedBy})` : "");
  if (t.offeredSince !== null) return `${site} has not agreed to ${t.title} (offered since ${t.offeredSince})`;
  return `${site} has not been offered ${t.title} yet`;
}
