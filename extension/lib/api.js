// The proxy's control API (see docs/control-api.md): request building and response reading.
//
// Pure: requests are plain objects ({method, url, headers, body}) and responses are read from
// ({status, etag, text}), so every rule here is unit-tested without a browser. `send` is the one
// place that touches the network, and it takes `fetch` as a parameter.
//
// Every outcome is one of four states the pages show as they are:
//   ok          the proxy answered (with `data`, or `unchanged` for a 304)
//   not-running nothing answers at the control address (connection refused, timeout)
//   not-paired  the proxy answers but refuses our token (401), or we have none
//   error       anything else, with the proxy's one-line message when it sent one

export const DEFAULT_ADDRESS = "http://127.0.0.1:8081";
export const API_PREFIX = "/api/v1";
export const TIMEOUT_MS = 3000;

export const OK = "ok";
export const NOT_RUNNING = "not-running";
export const NOT_PAIRED = "not-paired";
export const ERROR = "error";

// The control API binds loopback only and checks the Host header against exactly these names,
// and the extension's host permissions cover exactly these: anything else cannot work.
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost"]);

export class InputError extends Error {}

// "8081", "127.0.0.1:8081", "http://localhost:8081/" -> "http://127.0.0.1:8081" style origins.
export function normaliseAddress(text) {
  let value = String(text ?? "").trim();
  if (value === "") throw new InputError("Enter the proxy's control address, e.g. " + DEFAULT_ADDRESS);
  if (/^\d+$/.test(value)) value = `127.0.0.1:${value}`;
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) value = `http://${value}`;
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new InputError(`"${text}" is not an address like ${DEFAULT_ADDRESS}`);
  }
  if (url.protocol !== "http:") {
    throw new InputError("The control API speaks plain http on loopback (http://127.0.0.1:PORT)");
  }
  if (!LOOPBACK_HOSTS.has(url.hostname)) {
    throw new InputError("The control API listens on this machine only: use 127.0.0.1 or localhost");
  }
  if (url.username || url.password || (url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) {
    throw new InputError(`Give only the host and port, e.g. ${DEFAULT_ADDRESS}`);
  }
  if (url.port === "") throw new InputError(`Give the port too, e.g. ${DEFAULT_ADDRESS}`);
  return url.origin;
}

// A pairing code as the person may type it: spaces and case do not matter, the dash is optional.
export function normalisePairingCode(text) {
  const compact = String(text ?? "").replace(/[\s-]+/g, "").toUpperCase();
  if (!/^[A-Z0-9]{8}$/.test(compact)) {
    throw new InputError("A pairing code is 8 letters or digits (XXXX-XXXX): run `whoknows extension pair`");
  }
  return `${compact.slice(0, 4)}-${compact.slice(4)}`;
}

function endpoint(address, path, query) {
  const url = new URL(API_PREFIX + path, address);
  for (const [name, value] of Object.entries(query ?? {})) url.searchParams.set(name, value);
  return url.href;
}

function authHeaders(token) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function get(config, path, query, extraHeaders = {}) {
  return {
    method: "GET",
    url: endpoint(config.address, path, query),
    headers: { Accept: "application/json", ...authHeaders(config.token), ...extraHeaders },
    body: null,
  };
}

// Writes are POSTs of a JSON object (the API refuses anything else, so forms and images cannot write).
function post(config, path, payload) {
  return {
    method: "POST",
    url: endpoint(config.address, path),
    headers: { Accept: "application/json", "Content-Type": "application/json", ...authHeaders(config.token) },
    body: JSON.stringify(payload),
  };
}

export function pingRequest(config) {
  return get(config, "/ping");
}

export function pairRequest(address, code) {
  return post({ address }, "/pair", { code });
}

// What of a tab's URL the proxy is told: its origin only. The proxy needs the host to work out
// the site; the path and query (search terms, tokens in links) stay in the browser.
export function pageOrigin(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? `${parsed.origin}/` : "";
  } catch {
    return "";
  }
}

// The site state for a tab: by its URL (the proxy works out the site) or by a site name.
export function siteRequest(config, { url, site }, etag) {
  const query = site ? { site } : { url: pageOrigin(url) };
  return get(config, "/site", query, etag ? { "If-None-Match": etag } : {});
}

export function vendorRequest(config, site) {
  return get(config, "/vendor", { site });
}

// The picture of who knows you (what `whoknows report` draws), for the "Who knows me" page.
export function companiesRequest(config) {
  return get(config, "/companies");
}

export function protectionRequest(config, site, paused) {
  return post(config, "/site/protection", { site, paused: Boolean(paused) });
}

export function cookieModeRequest(config, site, mode) {
  return post(config, "/site/cookies", { site, mode: mode ?? null });
}

export function thirdPartyRequest(config, site, other, allowed) {
  return post(config, "/site/third-party", { site, other, allowed: Boolean(allowed) });
}

export function aliasRequest(config, site) {
  return post(config, "/site/alias", { site });
}

function errorMessage(body, fallback) {
  return body && typeof body.error === "string" && body.error.trim() ? body.error.trim() : fallback;
}

function parseBody(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // not JSON: whatever answers there is not the control API
  }
}

// ({status, etag, text}) -> {state, data?, etag?, unchanged?, status?, message?}
export function interpretResponse({ status, etag = null, text = "" }) {
  if (status === 304) return { state: OK, unchanged: true, etag };
  const body = parseBody(text);
  if (status >= 200 && status < 300) {
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return { state: ERROR, status, message: "Something that is not whoknows answers at the control address" };
    }
    return { state: OK, data: body, etag };
  }
  if (status === 401) {
    return { state: NOT_PAIRED, status, message: errorMessage(body, "The proxy does not know this browser: pair it in the options") };
  }
  if (status === 403 || status === 421) {
    return { state: ERROR, status, message: errorMessage(body, "The control API refused the request") };
  }
  if (body === undefined) {
    return { state: ERROR, status, message: `Something that is not whoknows answers at the control address (HTTP ${status})` };
  }
  return { state: ERROR, status, message: errorMessage(body, `The proxy answered HTTP ${status}`) };
}

// What a failed fetch means: nothing listening (refused), or nothing answering in time.
export function interpretFailure(error, address) {
  const where = address ? ` at ${address}` : "";
  if (error && error.name === "AbortError") {
    return { state: NOT_RUNNING, message: `The whoknows proxy does not answer${where}` };
  }
  return { state: NOT_RUNNING, message: `The whoknows proxy is not running${where}` };
}

// A ping answer: is the proxy there, and does it accept our token?
export function interpretPing(result) {
  if (result.state !== OK) return result;
  const data = result.data ?? {};
  if (typeof data.whoknows !== "string") {
    return { state: ERROR, message: "Something that is not whoknows answers at the control address" };
  }
  if (data.paired !== true) {
    return { state: NOT_PAIRED, version: data.whoknows, message: "The proxy is running, but this browser is not paired with it" };
  }
  return { state: OK, version: data.whoknows, data };
}

// Performs one request. `fetchImpl` is the global fetch in the pages; tests pass their own.
export async function send(request, { fetchImpl = globalThis.fetch, timeoutMs = TIMEOUT_MS } = {}) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const address = new URL(request.url).origin;
  try {
    const response = await fetchImpl(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body ?? undefined,
      cache: "no-store", // we send If-None-Match ourselves; a 304 must reach us as a 304
      credentials: "omit",
      redirect: "error",
      signal: controller.signal,
    });
    const text = await response.text();
    return interpretResponse({ status: response.status, etag: response.headers.get("ETag"), text });
  } catch (error) {
    return interpretFailure(error, address);
  } finally {
    clearTimeout(timer);
  }
}
