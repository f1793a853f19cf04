// Background (a service worker in Chromium, an event page in Firefox): the toolbar badge.
//
// The badge shows how many requests the proxy blocked for the site of each tab. It is redrawn
// when a tab is activated or navigates, when a window gets focus, when a page of the extension
// says something changed, and every FOLLOW_EVERY_MS for FOLLOW_FOR_MS after a navigation: that is
// while a page loads its trackers, so the count moves; after that it stays put until the next event,
// and the background can be unloaded in between.

import { send, siteRequest } from "./lib/api.js";
import { ext } from "./lib/browser.js";
import { fromOwnPage, validateMessage } from "./lib/messages.js";
import { loadConfig } from "./lib/settings.js";
import { badgeFor, BADGE_COLOURS, isWebUrl } from "./lib/state.js";

const FOLLOW_EVERY_MS = 2000;
const FOLLOW_FOR_MS = 20000;

const following = new Map(); // tabId -> time until which the tab's badge is refreshed
let followTimer = null;

async function setBadge(tabId, badge) {
  try {
    await Promise.all([
      ext.action.setBadgeText({ tabId, text: badge.text }),
      ext.action.setBadgeBackgroundColor({ tabId, color: badge.colour }),
      ext.action.setTitle({ tabId, title: badge.title }),
    ]);
  } catch {
    following.delete(tabId); // the tab closed meanwhile
  }
}

async function refreshTab(tab) {
  if (!tab || !Number.isInteger(tab.id) || tab.id < 0) return;
  if (!isWebUrl(tab.url)) {
    await setBadge(tab.id, { text: "", colour: BADGE_COLOURS.count, title: "whoknows" });
    return;
  }
  const config = await loadConfig();
  await setBadge(tab.id, badgeFor(await send(siteRequest(config, { url: tab.url }))));
}

async function refreshTabId(tabId) {
  try {
    await refreshTab(await ext.tabs.get(tabId));
  } catch {
    following.delete(tabId);
  }
}

async function refreshActiveTabs() {
  const tabs = await ext.tabs.query({ active: true });
  await Promise.all(tabs.map(refreshTab));
}

function follow(tabId) {
  following.set(tabId, Date.now() + FOLLOW_FOR_MS);
  if (followTimer === null) followTimer = setTimeout(followTick, FOLLOW_EVERY_MS);
}

async function followTick() {
  followTimer = null;
  const now = Date.now();
  for (const [tabId, until] of following) {
    if (until < now) following.delete(tabId);
  }
  await Promise.all([...following.keys()].map(refreshTabId));
  if (following.size > 0 && followTimer === null) followTimer = setTimeout(followTick, FOLLOW_EVERY_MS);
}

// Listeners are registered at the top level, synchronously, so that an unloaded background is
// woken up for them.
ext.tabs.onActivated.addListener(({ tabId }) => {
  refreshTabId(tabId);
});

ext.tabs.onUpdated.addListener((tabId, changeInfo, tab) => {
  if (changeInfo.url !== undefined || changeInfo.status !== undefined) {
    refreshTab(tab);
    if (isWebUrl(tab.url)) follow(tabId);
  }
});

ext.tabs.onRemoved.addListener((tabId) => {
  following.delete(tabId);
});

ext.windows?.onFocusChanged?.addListener(() => {
  refreshActiveTabs();
});

ext.runtime.onStartup.addListener(() => {
  refreshActiveTabs();
});

ext.runtime.onInstalled.addListener(() => {
  refreshActiveTabs();
});

ext.runtime.onMessage.addListener((candidate, sender) => {
  if (!fromOwnPage(sender, ext.runtime.id, ext.runtime.getURL(""))) return false;
  const checked = validateMessage(candidate);
  if (!checked.ok) {
    console.warn(`whoknows: ignored a message (${checked.reason})`);
    return false;
  }
  const { message } = checked;
  if (message.type === "refresh-badge") refreshTabId(message.tabId);
  else if (message.type === "settings-changed") refreshActiveTabs();
  return false; // no answer: the pages do not wait for the badge
});
