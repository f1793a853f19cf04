"""WebSocket memory: a connection open all day holds only the message being forwarded, not all of them.

mitmproxy keeps every message of a WebSocket connection in `flow.websocket.messages` until the
connection ends, for tools that show or save whole sessions. A chat, a trading screen or live
notifications stay open for hours: each message, both ways, would stay in the proxy's memory
(bench/bench_soak.py measured +3.5 MB a minute for one connection echoing 40 messages a second).

Nothing in whoknows reads past messages, so after each `websocket_message` hook the earlier ones
are dropped; the message being forwarded stays (`messages[-1]`, as mitmproxy's own addons read it).
In the chain after every other whoknows addon. Under `mitmdump -s proxy_addons/whoknows.py`, a
capture file (`-w`) then holds only each connection's last message.
"""

from __future__ import annotations

from mitmproxy import http


class WebSocketMemory:
    name = "whoknows_websocket_memory"

    def websocket_message(self, flow: http.HTTPFlow) -> None:
        messages = flow.websocket.messages
        if len(messages) > 1:
            del messages[:-1]
