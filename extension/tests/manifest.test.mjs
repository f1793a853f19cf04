// The extension as shipped: the manifest's promises (permissions, files) and no remote code.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const manifest = JSON.parse(readFileSync(join(ROOT, "manifest.json"), "utf8"));
const shipped = (dir = ROOT) => readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
  if (entry.name === "tests" || entry.name === "node_modules") return [];
  const path = join(dir, entry.name);
  return entry.isDirectory() ? shipped(path) : [path];
});
const sources = shipped().filter((path) => /\.(js|html|css)$/.test(path));

test("Manifest V3, one background module for both browsers", () => {
  assert.equal(manifest.manifest_version, 3);
  assert.equal(manifest.background.service_worker, "background.js");
  assert.deepEqual(manifest.background.scripts, ["background.js"]);
  assert.equal(manifest.background.type, "module");
  assert.match(manifest.browser_specific_settings.gecko.id, /@/);
  assert.ok(manifest.browser_specific_settings.gecko.strict_min_version);
});

test("only the permissions the README explains", () => {
  assert.deepEqual(manifest.permissions, ["storage", "tabs"]);
  assert.deepEqual(manifest.host_permissions, ["http://127.0.0.1/*", "http://localhost/*"]);
  assert.equal(manifest.optional_permissions, undefined);
  assert.equal(manifest.content_scripts, undefined);
  assert.equal(manifest.web_accessible_resources, undefined);
  assert.equal(manifest.externally_connectable, undefined);
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  for (const permission of [...manifest.permissions, ...manifest.host_permissions]) {
    assert.ok(readme.includes(`\`${permission}\``), `README.md explains ${permission}`);
  }
});

test("the pages may connect to loopback only, and run only their own scripts", () => {
  const csp = manifest.content_security_policy.extension_pages;
  assert.match(csp, /script-src 'self';/);
  assert.match(csp, /connect-src http:\/\/127\.0\.0\.1:\* http:\/\/localhost:\*;/);
  assert.doesNotMatch(csp, /unsafe|https?:\/\/(?!127\.0\.0\.1|localhost)/);
});

test("every file the manifest names exists; icons are PNGs of their stated size", () => {
  const named = [manifest.background.service_worker, manifest.action.default_popup, manifest.options_ui.page,
    ...Object.values(manifest.icons), ...Object.values(manifest.action.default_icon)];
  for (const file of named) assert.ok(existsSync(join(ROOT, file)), file);
  for (const [size, file] of Object.entries({ ...manifest.icons, ...manifest.action.default_icon })) {
    const png = readFileSync(join(ROOT, file));
    assert.equal(png.subarray(1, 4).toString(), "PNG", file);
    assert.equal(png.readUInt32BE(16), Number(size), `${file} width`);
    assert.equal(png.readUInt32BE(20), Number(size), `${file} height`);
  }
});

test("no remote code: scripts are local modules, nothing loads from the web", () => {
  for (const path of sources) {
    const text = readFileSync(path, "utf8");
    const remote = text.match(/(?:src|href|import[^"']*from)\s*=?\s*["']https?:\/\/[^"']*/gi);
    assert.equal(remote, null, `${path} loads ${remote}`);
    assert.doesNotMatch(text, /\beval\s*\(|new Function\s*\(/, path);
    if (path.endsWith(".html")) {
      for (const tag of text.match(/<script\b[^>]*>/gi) ?? []) {
        assert.match(tag, /type="module" src="[a-z]+\.js"/, `${path}: ${tag}`);
      }
      assert.doesNotMatch(text, /<script\b[^>]*>\s*[^<\s]/i, `${path} has an inline script`);
      assert.doesNotMatch(text, /\son[a-z]+\s*=/i, `${path} has an inline event handler`);
    }
  }
});

test("every import resolves to a shipped file, and every script parses", () => {
  for (const path of sources.filter((p) => p.endsWith(".js"))) {
    const text = readFileSync(path, "utf8");
    for (const [, target] of text.matchAll(/\bfrom\s+"([^"]+)"/g)) {
      assert.match(target, /^\.\.?\//, `${path} imports ${target}`);
      assert.ok(existsSync(resolve(dirname(path), target)), `${path} imports ${target}`);
    }
    execFileSync(process.execPath, ["--check", path]);
  }
});
