"""Uplink over device protocol v1: batch bodies (row format 1, or columnar format 2 once the cloud advertised it),
signed requests, and what to do with each answer.

:class:`UplinkClient` holds one persistent HTTP connection (httpx keep-alive). :func:`classify` turns an HTTP
answer into an :class:`Outcome` (pure); :class:`Backoff` spaces retries (time passed in).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import httpx
import orjson
from nacl.signing import SigningKey

import sigma_protocol as protocol
from sigma_bridge.store import StoredEvent


def batch_body(robot_id: str, events: Sequence[StoredEvent]) -> bytes:
    """The ingest body for ``events`` (payloads are stored as JSON already and embedded without re-parsing)."""
    return protocol.encode_batch(
        robot_id,
        (
            {"seq": e.wire_seq, "ts": e.ts, "channel": e.channel, "payload": orjson.Fragment(e.payload)}
            for e in events
        ),
    )


def columnar_body(robot_id: str, events: Sequence[StoredEvent]) -> bytes:
    """The same batch in batch format 2 (sigma_protocol.columnar: per-channel columns, protocol revision 1.2);
    NotColumnarError when an event needs the row format."""
    try:
        payloads = [orjson.loads(e.payload) for e in events]
    except orjson.JSONDecodeError as exc:  # unreadable: the row format carries it as is, and the cloud names it
        raise protocol.NotColumnarError(str(exc)) from exc
    return protocol.encode_columnar_batch(
        robot_id,
        ({"seq": e.wire_seq, "ts": e.ts, "channel": e.channel, "payload": p}
         for e, p in zip(events, payloads, strict=True)),
    )


@dataclass(frozen=True)
class Outcome:
    """What the uplink does next: ``acked`` (drop <= acked_through), ``retry`` (same events later),
    ``reject`` (dead-letter the listed wire seqs, resend the rest), ``refused`` (dead-letter the whole batch: the
    cloud can never accept it), ``split`` (batch too large) or ``fatal`` (keep the batch, retry with backoff)."""

    kind: str
    acked_through: int = 0
    reject_seqs: tuple[int, ...] = ()
    retry_after: float | None = None
    detail: str = ""
    duplicates: int = 0
    accepted: int = 0
    not_sent: bool = False  # the request certainly never reached the server (connection refused)
    ambiguous: bool = False  # the request may have been processed without us seeing the answer
    extra: dict = field(default_factory=dict)


def classify(status: int, body: bytes, headers: dict[str, str] | None = None) -> Outcome:
    """Map an ingest answer to an Outcome, following the protocol's retry table."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        data = {}
    if status == 200:
        ack = protocol.IngestAck.from_json(data)
        return Outcome("acked", acked_through=ack.acked_through, accepted=ack.accepted, duplicates=ack.duplicates)
    detail = f"HTTP {status} {data.get('type', '')}: {data.get('detail', '')}".strip()
    retry_after = None
    if "retry-after" in headers:
        try:
            retry_after = float(headers["retry-after"])
        except ValueError:
            retry_after = None
    kind = str(data.get("type", "")).rsplit("/", 1)[-1]
    if status == 409:  # replay: a request with this nonce was processed
        return Outcome("retry", retry_after=retry_after, detail=detail, ambiguous=True)
    if protocol.is_retryable(status) or kind == "stale-request":
        return Outcome("retry", retry_after=retry_after, detail=detail)
    if status == 413:
        return Outcome("split", detail=detail)
    if status == 422:
        seqs = _error_seqs(data)
        if seqs:
            return Outcome("reject", reject_seqs=seqs, detail=detail)
        return Outcome("refused", detail=detail)  # invalid, but no event named: the batch as a whole
    if status == 400:  # the cloud cannot read this batch (malformed-batch): resending it can never succeed
        return Outcome("refused", detail=detail)
    return Outcome("fatal", detail=detail)  # 401/403/404...: credentials or configuration; keep the data, retry


def _error_seqs(data: dict) -> tuple[int, ...]:
    seqs = set()
    for error in data.get("errors") or []:
        try:
            if error.get("seq") is not None:
                seqs.add(int(error["seq"]))
        except (AttributeError, TypeError, ValueError):
            continue
    return tuple(sorted(seqs))


class Backoff:
    """Exponential backoff with full jitter between ``base`` and ``cap`` seconds; reset on success."""

    def __init__(self, base: float = 0.1, cap: float = 2.0, rng: random.Random | None = None) -> None:
        self.base, self.cap = base, cap
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self, hint: float | None = None) -> float:
        """Seconds to wait before the next try (at least the server's Retry-After ``hint``)."""
        self.attempt += 1
        delay = self._rng.uniform(0, min(self.cap, self.base * 2 ** min(self.attempt, 30)))
        return max(delay, hint or 0.0)

    def reset(self) -> None:
        self.attempt = 0


class UplinkClient:
    """Signed device requests over one persistent HTTP connection."""

    def __init__(self, base_url: str, robot_id: str, key: SigningKey, timeout: float = 10.0,
                 columnar: bool = True) -> None:
        self.robot_id = robot_id
        self._key = key
        # Batch format: rows (format 1) until an ingest answer names format 2 (X-Sigma-Batch-Formats), then columns;
        # back to rows for good if the cloud ever cannot read a columnar batch (a rolled-back cloud).
        self.columnar = columnar
        self.batch_format = protocol.BATCH_FORMAT_ROWS
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout,
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )

    def request(self, method: str, path: str, body: bytes, now: float, timeout: float | None = None,
                traceparent: str = "", content_type: str = "application/json") -> httpx.Response:
        """Send one signed request (fresh nonce per attempt); network errors propagate as httpx errors.
        `traceparent` (W3C, protocol revision 1.1) travels outside the signature (docs/device-protocol.md)."""
        headers = protocol.sign_request(self._key, method, path, self.robot_id, body, now)
        if traceparent:
            headers[protocol.HEADER_TRACEPARENT] = traceparent
        if body:
            headers["Content-Type"] = content_type
        kw = {} if timeout is None else {"timeout": timeout}
        return self._http.request(method, path, content=body or None, headers=headers, **kw)

    def _body(self, events: Sequence[StoredEvent]) -> tuple[bytes, str]:
        if self.batch_format == protocol.BATCH_FORMAT_COLUMNAR:
            try:
                return columnar_body(self.robot_id, events), protocol.CONTENT_TYPE_COLUMNAR
            except protocol.NotColumnarError:
                pass  # e.g. a payload with a `units` map: this batch goes as rows
        return batch_body(self.robot_id, events), "application/json"

    def send_batch(self, events: Sequence[StoredEvent], now: float, priority: bool = False) -> Outcome:
        """POST one batch; network failures become a ``retry`` outcome. ``priority``: signed for the ingest's
        priority lane (a small batch with a safety event; docs/device-protocol.md "Priority lane")."""
        trace = protocol.new_traceparent().header()  # each batch starts a trace
        body, content_type = self._body(events)
        path = protocol.INGEST_PRIORITY_PATH if priority else protocol.INGEST_PATH
        try:
            r = self.request("POST", path, body, now, traceparent=trace, content_type=content_type)
        except httpx.ConnectError as exc:
            return Outcome("retry", detail=f"cannot connect: {exc}", not_sent=True)
        except httpx.HTTPError as exc:  # timeouts, resets: the batch may have been stored, resend it unchanged
            return Outcome("retry", detail=f"{type(exc).__name__}: {exc}", ambiguous=True)
        if content_type == protocol.CONTENT_TYPE_COLUMNAR and r.status_code in (400, 415):
            # A cloud that cannot read columns stored nothing: rows from now on, and this batch again at once.
            self.columnar = False
            self.batch_format = protocol.BATCH_FORMAT_ROWS
            return self.send_batch(events, now, priority)
        if self.columnar and protocol.BATCH_FORMAT_COLUMNAR in protocol.accepted_formats(
                r.headers.get(protocol.HEADER_BATCH_FORMATS)):
            self.batch_format = protocol.BATCH_FORMAT_COLUMNAR
        out = classify(r.status_code, r.content, dict(r.headers))
        if out.kind != "acked":  # what the robot logs about it names the request's trace (docs/logs.md)
            out = replace(out, detail=f"{out.detail} traceparent={trace}")
        return out

    def close(self) -> None:
        self._http.close()
