import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, test } from "node:test";

import * as api from "../lib/api.js";

const config = { address: "http://127.0.0.1:8081", token: "t0ken" };

describe("normaliseAddress", () => {
  for (const [typed, origin] of [
    ["8081", "http://127.0.0.1:8081"],
    ["127.0.0.1:9000", "http://127.0.0.1:9000"],
    ["  http://localhost:8081/  ", "http://localhost:8081"],
    ["HTTP://127.0.0.1:8081", "http://127.0.0.1:8081"],
  ]) {
    test(`"${typed}" -> ${origin}`, () => assert.equal(api.normaliseAddress(typed), origin));
  }
  for (const [typed, why] of [
    ["", /Enter the proxy's control address/],
    ["https://127.0.0.1:8081", /plain http/],
    ["http://192.168.1.2:8081", /this machine only/],
    ["http://evil.example:8081", /this machine only/],
    ["http://127.0.0.1:8081/api", /only the host and port/],
    ["http://user:pw@127.0.0.1:8081", /only the host and port/],
    ["http://127.0.0.1", /port too/],
    ["http://[::1", /not an address/],
  ]) {
    test(`refuses "${typed}"`, () => assert.throws(() => api.normaliseAddress(typed), why));
  }
});

describe("normalisePairingCode", () => {
  test("spaces, case and the dash do not matter", () => {
    assert.equal(api.normalisePairingCode(" abcd efgh "), "ABCD-EFGH");
    assert.equal(api.normalisePairingCode("ABCD-EFGH"), "ABCD-EFGH");
    assert.equal(api.normalisePairingCode("abcdefgh"), "ABCD-EFGH");
  });
  test("a code of the wrong length says how to get one", () => {
    assert.throws(() => api.normalisePairingCode("ABC-DEF"), /whoknows extension pair/);
    assert.throws(() => api.normalisePairingCode(""), /8 letters or digits/);
  });
});

describe("requests", () => {
  test("reads carry the token, writes also a JSON body", () => {
    const read = api.siteRequest(config, { url: "https://shop.vendor.test:8443/cart?x=1" });
    assert.equal(read.method, "GET");
    assert.equal(read.url, "http://127.0.0.1:8081/api/v1/site?url=https%3A%2F%2Fshop.vendor.test%3A8443%2F");
    assert.equal(read.headers.Authorization, "Bearer t0ken");
    assert.equal(read.body, null);

    const write = api.cookieModeRequest(config, "vendor.test", "cap:7");
    assert.equal(write.method, "POST");
    assert.equal(write.url, "http://127.0.0.1:8081/api/v1/site/cookies");
    assert.equal(write.headers["Content-Type"], "application/json");
    assert.deepEqual(JSON.parse(write.body), { site: "vendor.test", mode: "cap:7" });
  });

  test("each write names its endpoint and fields", () => {
    assert.deepEqual(JSON.parse(api.protectionRequest(config, "vendor.test", true).body), { site: "vendor.test", paused: true });
    assert.deepEqual(JSON.parse(api.cookieModeRequest(config, "vendor.test", null).body), { site: "vendor.test", mode: null });
    const thirdParty = api.thirdPartyRequest(config, "vendor.test", "sso.test", true);
    assert.ok(thirdParty.url.endsWith("/api/v1/site/third-party"));
    assert.deepEqual(JSON.parse(thirdParty.body), { site: "vendor.test", other: "sso.test", allowed: true });
    const alias = api.aliasRequest(config, "vendor.test");
    assert.ok(alias.url.endsWith("/api/v1/site/alias"));
    assert.deepEqual(JSON.parse(alias.body), { site: "vendor.test" });
  });

  test("the proxy is told a page's origin, never its path or query", () => {
    assert.equal(api.pageOrigin("https://vendor.test/account/orders?id=42&token=secret#x"), "https://vendor.test/");
    assert.equal(api.pageOrigin("http://user:pw@Shop.Vendor.test/"), "http://shop.vendor.test/");
    assert.equal(api.pageOrigin("chrome://extensions/"), "");
    assert.equal(api.pageOrigin("about:blank"), "");
    assert.equal(api.pageOrigin("not a url"), "");
    assert.equal(api.pageOrigin(undefined), "");
  });

  test("the ETag goes back as If-None-Match, and a site can be named instead of a URL", () => {
    const request = api.siteRequest(config, { site: "vendor.test" }, '"abc"');
    assert.equal(request.url, "http://127.0.0.1:8081/api/v1/site?site=vendor.test");
    assert.equal(request.headers["If-None-Match"], '"abc"');
    assert.equal(api.siteRequest(config, { url: "https://a.test/" }).headers["If-None-Match"], undefined);
  });

  test("no token: no Authorization header (ping and pair need none)", () => {
    assert.equal(api.pingRequest({ address: config.address, token: null }).headers.Authorization, undefined);
    const pair = api.pairRequest(config.address, "ABCD-EFGH");
    assert.equal(pair.headers.Authorization, undefined);
    assert.deepEqual(JSON.parse(pair.body), { code: "ABCD-EFGH" });
    assert.equal(api.vendorRequest(config, "vendor.test").url, "http://127.0.0.1:8081/api/v1/vendor?site=vendor.test");
  });

  test("the picture of who knows you is a GET with the token", () => {
    const request = api.companiesRequest(config);
    assert.equal(request.method, "GET");
    assert.equal(request.url, "http://127.0.0.1:8081/api/v1/companies");
    assert.equal(request.headers.Authorization, `Bearer ${config.token}`);
  });
});

describe("interpretResponse", () => {
  test("200 with a JSON object is ok, with its ETag", () => {
    assert.deepEqual(api.interpretResponse({ status: 200, etag: '"1"', text: '{"site": "vendor.test"}' }),
      { state: api.OK, data: { site: "vendor.test" }, etag: '"1"' });
  });
  test("304 means unchanged", () => {
    assert.deepEqual(api.interpretResponse({ status: 304, etag: '"1"', text: "" }), { state: api.OK, unchanged: true, etag: '"1"' });
  });
  test("401 means not paired, with the proxy's words", () => {
    const result = api.interpretResponse({ status: 401, text: '{"error": "bad token"}' });
    assert.equal(result.state, api.NOT_PAIRED);
    assert.equal(result.message, "bad token");
  });
  test("409 keeps the proxy's message (how to set aliases up)", () => {
    const result = api.interpretResponse({ status: 409, text: '{"error": "aliases are not set up: run whoknows alias setup"}' });
    assert.equal(result.state, api.ERROR);
    assert.equal(result.status, 409);
    assert.match(result.message, /whoknows alias setup/);
  });
  test("something else on the port is an error, not a crash", () => {
    assert.equal(api.interpretResponse({ status: 200, text: "<html>hello</html>" }).state, api.ERROR);
    assert.equal(api.interpretResponse({ status: 200, text: "[1, 2]" }).state, api.ERROR);
    assert.match(api.interpretResponse({ status: 404, text: "<html>" }).message, /not whoknows/);
    assert.match(api.interpretResponse({ status: 500, text: "" }).message, /HTTP 500/);
  });
});

describe("interpretPing", () => {
  test("paired, not paired, not whoknows", () => {
    assert.equal(api.interpretPing({ state: api.OK, data: { whoknows: "0.1", paired: true } }).state, api.OK);
    const unpaired = api.interpretPing({ state: api.OK, data: { whoknows: "0.1", paired: false } });
    assert.equal(unpaired.state, api.NOT_PAIRED);
    assert.equal(unpaired.version, "0.1");
    assert.equal(api.interpretPing({ state: api.OK, data: { hello: 1 } }).state, api.ERROR);
    assert.equal(api.interpretPing({ state: api.NOT_RUNNING }).state, api.NOT_RUNNING);
  });
});

// `send` against a real HTTP server on loopback: real fetch, real 304s, real refused connections.
describe("send", () => {
  let server;
  let address;
  const seen = [];

  before(async () => {
    server = http.createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => { body += chunk; });
      request.on("end", () => {
        seen.push({ method: request.method, url: request.url, headers: request.headers, body });
        if (request.url.startsWith("/api/v1/slow")) return; // never answers
        if (request.headers["if-none-match"] === '"v1"') {
          response.writeHead(304, { ETag: '"v1"' });
          response.end();
          return;
        }
        if (request.headers.authorization !== "Bearer t0ken") {
          response.writeHead(401, { "Content-Type": "application/json" });
          response.end('{"error": "no or bad token"}');
          return;
        }
        response.writeHead(200, { "Content-Type": "application/json", ETag: '"v1"' });
        response.end(JSON.stringify({ site: "vendor.test", echo: body ? JSON.parse(body) : null }));
      });
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    address = `http://127.0.0.1:${server.address().port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test("a state, then 304 with its ETag", async () => {
    const first = await api.send(api.siteRequest({ address, token: "t0ken" }, { url: "https://vendor.test/" }));
    assert.equal(first.state, api.OK);
    assert.equal(first.data.site, "vendor.test");
    assert.equal(first.etag, '"v1"');
    const second = await api.send(api.siteRequest({ address, token: "t0ken" }, { url: "https://vendor.test/" }, first.etag));
    assert.deepEqual(second, { state: api.OK, unchanged: true, etag: '"v1"' });
  });

  test("a write arrives as a JSON POST", async () => {
    const result = await api.send(api.protectionRequest({ address, token: "t0ken" }, "vendor.test", true));
    assert.deepEqual(result.data.echo, { site: "vendor.test", paused: true });
    const last = seen.at(-1);
    assert.equal(last.method, "POST");
    assert.equal(last.headers["content-type"], "application/json");
  });

  test("a wrong token is 'not paired'", async () => {
    const result = await api.send(api.siteRequest({ address, token: "nope" }, { url: "https://vendor.test/" }));
    assert.equal(result.state, api.NOT_PAIRED);
  });

  test("a closed port is 'not running'", async () => {
    const closed = http.createServer();
    await new Promise((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = closed.address().port;
    await new Promise((resolve) => closed.close(resolve));
    const result = await api.send(api.pingRequest({ address: `http://127.0.0.1:${port}`, token: null }));
    assert.equal(result.state, api.NOT_RUNNING);
    assert.match(result.message, new RegExp(`not running at http://127.0.0.1:${port}`));
  });

  test("a proxy that does not answer in time is 'not running'", async () => {
    const request = { method: "GET", url: `${address}/api/v1/slow`, headers: {}, body: null };
    const result = await api.send(request, { timeoutMs: 100 });
    assert.equal(result.state, api.NOT_RUNNING);
    assert.match(result.message, /does not answer/);
  });
});
