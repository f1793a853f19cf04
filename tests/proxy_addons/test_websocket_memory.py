"""The WebSocket memory addon: a long WebSocket session keeps only the message being forwarded."""

from mitmproxy import websocket
from mitmproxy.test import taddons
from mitmproxy.test import tflow
from wsproto.frame_protocol import Opcode

import proxy_addons
from proxy_addons.websocket_memory import WebSocketMemory


def deliver(addon, flow, content: bytes, from_client: bool) -> websocket.WebSocketMessage:
    """What mitmproxy's WebSocket layer does with each message: append it, then run the hook."""
    message = websocket.WebSocketMessage(Opcode.BINARY, from_client, content)
    flow.websocket.messages.append(message)
    addon.websocket_message(flow)
    return message


def test_an_hour_of_messages_leaves_only_the_one_being_forwarded():
    addon = WebSocketMemory()
    flow = tflow.twebsocketflow()
    with taddons.context(addon):
        for n in range(10_000):
            message = deliver(addon, flow, f"tick {n}".encode() * 50, from_client=bool(n % 2))
            assert flow.websocket.messages == [message]  # what later addons and mitmproxy read
            assert message.content == f"tick {n}".encode() * 50 and not message.dropped


def test_a_message_another_addon_dropped_stays_dropped():
    addon = WebSocketMemory()
    flow = tflow.twebsocketflow()
    message = websocket.WebSocketMessage(Opcode.TEXT, True, b"secret")
    flow.websocket.messages.append(message)
    message.drop()
    addon.websocket_message(flow)
    assert flow.websocket.messages == [message] and message.dropped


def test_it_runs_in_the_proxy_after_every_other_whoknows_addon():
    names = [getattr(addon, "name", type(addon).__name__) for addon in proxy_addons.whoknows_addons()]
    assert names[-1] == WebSocketMemory.name
