// Which tab the popup is about. Pure: the caller passes what `tabs.query` returned.
//
// Normally the popup is about the active tab of its window. When the popup page is itself open in
// a tab (a keyboard user or a test opening popup.html directly), the active tab is the popup, so
// it is about the web page the person looked at last instead. `?tab=ID` names a tab outright.

function isOwnPage(tab, ownOrigin) {
  return typeof tab?.url === "string" && tab.url.startsWith(ownOrigin);
}

function isWeb(tab) {
  return typeof tab?.url === "string" && /^https?:\/\//i.test(tab.url);
}

// "?tab=12" -> 12, or null.
export function requestedTabId(search) {
  const value = new URLSearchParams(search ?? "").get("tab");
  return value !== null && /^\d{1,10}$/.test(value) ? Number(value) : null;
}

export function pickTargetTab(activeTab, allTabs, ownOrigin) {
  if (activeTab && !isOwnPage(activeTab, ownOrigin)) return activeTab;
  const candidates = (allTabs ?? []).filter((tab) => !isOwnPage(tab, ownOrigin));
  candidates.sort((a, b) => Number(isWeb(b)) - Number(isWeb(a)) || (b.lastAccessed ?? 0) - (a.lastAccessed ?? 0));
  return candidates[0] ?? null;
}
