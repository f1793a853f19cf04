// What the extension keeps: the proxy's control address and the token pairing gave it.
// Both live in `storage.local` (this browser only, never synced): the token is a secret that
// lets its holder change the proxy's settings, so it must not travel to other machines.

import { DEFAULT_ADDRESS } from "./api.js";
import { ext } from "./browser.js";

export async function loadConfig() {
  const stored = await ext.storage.local.get(["address", "token"]);
  return {
    address: typeof stored.address === "string" && stored.address ? stored.address : DEFAULT_ADDRESS,
    token: typeof stored.token === "string" && stored.token ? stored.token : null,
  };
}

export async function saveAddress(address) {
  await ext.storage.local.set({ address });
}

export async function saveToken(token) {
  await ext.storage.local.set({ token });
}

export async function forgetToken() {
  await ext.storage.local.remove("token");
}
