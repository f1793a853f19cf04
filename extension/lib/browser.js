// The WebExtension API under one name in both browsers: Firefox's `browser` and Chromium's
// `chrome` both return promises in Manifest V3, so the rest of the code awaits `ext.*` calls.
export const ext = globalThis.browser ?? globalThis.chrome;
