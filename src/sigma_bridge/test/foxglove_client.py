"""A minimal Foxglove WebSocket protocol client for tests (the real protocol over a real socket)."""

from __future__ import annotations

import json
import struct

from websockets.sync.client import connect

SUBPROTOCOLS = ["foxglove.sdk.v1", "foxglove.websocket.v1"]
OP_MESSAGE_DATA = 0x01


class FoxgloveClient:
    """Connects, collects advertised channels, subscribes by topic and reads message payloads."""

    def __init__(self, port: int) -> None:
        self.ws = connect(f"ws://127.0.0.1:{port}", subprotocols=SUBPROTOCOLS, open_timeout=10, max_size=None)
        self.channels: dict[str, dict] = {}
        self.server_info: dict | None = None
        self._subs: dict[int, str] = {}

    def _handle_text(self, text: str) -> None:
        msg = json.loads(text)
        if msg.get("op") == "serverInfo":
            self.server_info = msg
        elif msg.get("op") == "advertise":
            for ch in msg["channels"]:
                self.channels[ch["topic"]] = ch

    def wait_for_channels(self, topics: list[str], timeout: float = 10.0) -> None:
        while not all(t in self.channels for t in topics):
            frame = self.ws.recv(timeout=timeout)
            if isinstance(frame, str):
                self._handle_text(frame)

    def subscribe(self, topics: list[str]) -> None:
        subs = []
        for i, topic in enumerate(topics, start=len(self._subs) + 1):
            subs.append({"id": i, "channelId": self.channels[topic]["id"]})
            self._subs[i] = topic
        self.ws.send(json.dumps({"op": "subscribe", "subscriptions": subs}))

    def next_message(self, timeout: float = 10.0) -> tuple[str, int, bytes]:
        """(topic, log time [ns], payload) of the next data message."""
        while True:
            frame = self.ws.recv(timeout=timeout)
            if isinstance(frame, str):
                self._handle_text(frame)
                continue
            if frame[0] == OP_MESSAGE_DATA:
                sub_id, t_ns = struct.unpack_from("<IQ", frame, 1)
                return self._subs.get(sub_id, "?"), t_ns, bytes(frame[13:])

    def close(self) -> None:
        self.ws.close()
