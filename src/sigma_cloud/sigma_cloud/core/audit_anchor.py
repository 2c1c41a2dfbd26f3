"""Signed audit-head checkpoints, anchored outside the database (next to the telemetry archives).

The audit log is hash-chained and `audit_verify()` checks the chain against `audit_head`, but whoever owns the schema
can rewrite rows, hashes and head consistently. Each maintenance pass therefore exports the head (last id, last
hash) as a checkpoint signed with an Ed25519 key that the database never sees, as a new file under
`<archive location>/audit/`. `verify_checkpoints` re-reads every checkpoint and checks that the row it names still
has the hash it recorded: a rewrite of anything at or before a checkpoint, or a truncation below it, is reported.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import fsspec
import orjson
import psycopg
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

import sigma_protocol as protocol
from sigma_cloud.core.config import Settings
from sigma_cloud.core.rows import one_row

CHECKPOINT_DIR = "audit"


def checkpoint_key(settings: Settings) -> SigningKey:
    """The checkpoint signing key: SIGMA_AUDIT_SIGNING_KEY (base64 seed), else a key file in data_dir (0600)."""
    if settings.audit_signing_key:
        return SigningKey(protocol.b64decode(settings.audit_signing_key))
    path = Path(settings.data_dir) / "audit-checkpoint.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(protocol.b64encode(bytes(SigningKey.generate())))
    return SigningKey(protocol.b64decode(path.read_text().strip()))


def _canonical(body: dict) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def export_checkpoint(conn: psycopg.Connection, settings: Settings, now: dt.datetime | None = None) -> str | None:
    """Write a signed checkpoint of audit_head as a new file (owner connection); None when the head has not moved."""
    last_id, last_hash = one_row(conn.execute("SELECT last_id, encode(last_hash, 'hex') FROM audit_head").fetchone(),
                                 "audit_head")
    fs, root = fsspec.core.url_to_fs(f"{settings.archive_location.rstrip('/')}/{CHECKPOINT_DIR}")
    fs.makedirs(root, exist_ok=True)
    path = f"{root}/checkpoint-{last_id:012d}.json"
    if fs.exists(path):
        return None  # this head is anchored already; files are never rewritten
    key = checkpoint_key(settings)
    body = {"last_id": last_id, "last_hash": last_hash,
            "at": (now or dt.datetime.now(dt.timezone.utc)).isoformat()}
    signed = {**body, "public_key": protocol.b64encode(bytes(key.verify_key)),
              "signature": protocol.b64encode(key.sign(_canonical(body)).signature)}
    with fs.open(path, "xb") as handle:
        handle.write(orjson.dumps(signed, option=orjson.OPT_INDENT_2))
    return path


def verify_checkpoints(conn: psycopg.Connection, settings: Settings) -> list[str]:
    """Problems found comparing the audit log with every exported checkpoint (empty: consistent with all)."""
    problems: list[str] = []
    expected_key = bytes(checkpoint_key(settings).verify_key)
    fs, root = fsspec.core.url_to_fs(f"{settings.archive_location.rstrip('/')}/{CHECKPOINT_DIR}")
    paths = sorted(fs.glob(f"{root}/checkpoint-*.json")) if fs.exists(root) else []
    broken = one_row(conn.execute("SELECT audit_verify()").fetchone(), "audit_verify()")[0]
    if broken is not None:
        problems.append(f"audit chain broken at id {broken}")
    for path in paths:
        with fs.open(path, "rb") as handle:
            data = orjson.loads(handle.read())
        body = {k: data[k] for k in ("last_id", "last_hash", "at")}
        try:
            VerifyKey(expected_key).verify(_canonical(body), protocol.b64decode(data["signature"]))
        except (BadSignatureError, ValueError):
            problems.append(f"{path}: signature does not verify with the checkpoint key")
            continue
        if body["last_id"] == 0:
            continue
        row = conn.execute("SELECT encode(hash, 'hex') FROM audit_log WHERE id = %s", (body["last_id"],)).fetchone()
        if row is None:
            problems.append(f"{path}: audit row {body['last_id']} is missing (truncated)")
        elif row[0] != body["last_hash"]:
            problems.append(f"{path}: audit row {body['last_id']} hash differs from the checkpoint (rewritten)")
    return problems
