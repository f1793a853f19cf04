// Options: where the proxy's control API is, pairing with it, and a connection test.

import * as api from "./lib/api.js";
import { ext } from "./lib/browser.js";
import { message } from "./lib/messages.js";
import { $, say } from "./lib/page.js";
import { forgetToken, loadConfig, saveAddress, saveToken } from "./lib/settings.js";

// What the manifest's host_permissions name. Firefox lets the person withhold them, and a fetch to
// the control API without them fails (the API sends no CORS headers, on purpose).
const CONTROL_HOSTS = { origins: ["http://127.0.0.1/*", "http://localhost/*"] };

let hostAccess = true;

function tellBackground() {
  ext.runtime.sendMessage(message("settings-changed")).catch(() => {});
}

// Must be called before the first `await` of a click or submit handler: Firefox grants a
// permission request only during the person's action.
function askHostAccess() {
  if (hostAccess) return Promise.resolve(true);
  return ext.permissions.request(CONTROL_HOSTS).then((granted) => {
    hostAccess = granted;
    return granted;
  }, () => false);
}

// The address in the form, checked and saved; null (and a message) when it is not usable.
async function addressFromForm() {
  let address;
  try {
    address = api.normaliseAddress($("address").value);
  } catch (error) {
    say(error.message, { error: true });
    $("address").focus();
    return null;
  }
  $("address").value = address;
  const before = await loadConfig();
  if (before.address !== address) {
    await saveAddress(address);
    tellBackground();
  }
  return address;
}

async function describePairing() {
  const config = await loadConfig();
  const line = $("pairing-state");
  if (!config.token) {
    line.textContent = "This browser is not paired with the proxy.";
    return null;
  }
  const result = api.interpretPing(await api.send(api.pingRequest(config)));
  line.textContent = result.state === api.OK ? `Paired with the proxy at ${config.address}.`
    : result.state === api.NOT_PAIRED ? "The proxy no longer accepts this browser's token: pair again."
    : "Paired, but the proxy does not answer right now.";
  return result;
}

function pingMessage(result, address) {
  switch (result.state) {
    case api.OK:
      return [`Connected: whoknows ${result.version} answers at ${address}, and this browser is paired.`, false];
    case api.NOT_PAIRED:
      return [`whoknows ${result.version ?? ""} answers at ${address}, but this browser is not paired: enter a pairing code.`, true];
    case api.NOT_RUNNING:
      return [`Nothing answers at ${address}. Is "whoknows proxy" running, with its control API on that port?`, true];
    default:
      return [result.message ?? "The proxy answered with an error.", true];
  }
}

async function onTest() {
  const access = askHostAccess();
  const address = await addressFromForm();
  if (address === null) return;
  if (!(await access)) {
    say("The extension may not reach 127.0.0.1 and localhost, so it cannot talk to the proxy.", { error: true });
    return;
  }
  say("Testing the connection…");
  const config = await loadConfig();
  const result = api.interpretPing(await api.send(api.pingRequest(config)));
  const [text, error] = pingMessage(result, address);
  say(text, { error });
  await describePairing();
}

async function onSaveAddress(event) {
  event.preventDefault();
  const address = await addressFromForm();
  if (address !== null) say(`Saved: the extension looks for the proxy at ${address}.`);
}

async function onPair(event) {
  event.preventDefault();
  const access = askHostAccess();
  const address = await addressFromForm();
  if (address === null) return;
  let code;
  try {
    code = api.normalisePairingCode($("code").value);
  } catch (error) {
    say(error.message, { error: true });
    $("code").focus();
    return;
  }
  if (!(await access)) {
    say("The extension may not reach 127.0.0.1 and localhost, so it cannot pair.", { error: true });
    return;
  }
  say("Pairing…");
  const result = await api.send(api.pairRequest(address, code));
  if (result.state !== api.OK || typeof result.data?.token !== "string" || !result.data.token) {
    const text = result.state === api.NOT_RUNNING ? pingMessage(result, address)[0]
      : (result.message ?? "The proxy did not pair this browser.");
    say(`Not paired: ${text}`, { error: true });
    return;
  }
  await saveToken(result.data.token);
  $("code").value = "";
  tellBackground();
  const check = await describePairing();
  say(check?.state === api.OK ? `Paired with whoknows ${check.version} at ${address}.` : "Paired.");
}

async function onUnpair() {
  await forgetToken();
  tellBackground();
  await describePairing();
  say("This browser forgot its token: pair again to use the popup.");
}

async function start() {
  $("address-form").addEventListener("submit", onSaveAddress);
  $("test").addEventListener("click", onTest);
  $("pair-form").addEventListener("submit", onPair);
  $("unpair").addEventListener("click", onUnpair);
  let edited = false; // the person may type before storage answers: their text wins
  $("address").addEventListener("input", () => { edited = true; }, { once: true });
  const config = await loadConfig();
  if (!edited) $("address").value = config.address;
  hostAccess = await ext.permissions.contains(CONTROL_HOSTS).catch(() => true);
  await describePairing();
}

start();
