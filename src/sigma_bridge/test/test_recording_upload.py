"""The recording uploader's pure parts: chunk planning and which files are still to upload (no network)."""

from __future__ import annotations

import hashlib

import pytest

from sigma_bridge.recording_upload import REFUSED, UPLOADED, FileInfo, pending_files, plan_chunk, recording_path


def test_chunks_cover_the_file_exactly_once() -> None:
    size, offset, seen = 10_000, 0, []
    while True:
        start, length = plan_chunk(size, offset, 4096)
        if not length:
            break
        seen.append((start, length))
        offset = start + length
    assert seen == [(0, 4096), (4096, 4096), (8192, 1808)]
    with pytest.raises(ValueError, match="outside"):
        plan_chunk(10, 11, 4)
    with pytest.raises(ValueError, match="chunk size"):
        plan_chunk(10, 0, 0)


def test_pending_files_skip_uploaded_and_refused(tmp_path) -> None:
    for name in ("a.mcap", "b.mcap", "c.mcap", "d.mcap.part"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / ("a.mcap" + UPLOADED)).write_text("done")
    (tmp_path / ("c.mcap" + REFUSED)).write_text("HTTP 409")
    assert pending_files(tmp_path) == [tmp_path / "b.mcap"]
    assert pending_files(tmp_path / "missing") == []


def test_request_path_names_offset_size_and_digest(tmp_path) -> None:
    f = tmp_path / "r1_safety_3_5.mcap"
    f.write_bytes(b"abc")
    info = FileInfo.of(f)
    assert info.size == 3 and info.sha256 == hashlib.sha256(b"abc").hexdigest()
    assert recording_path("r1", info, 2) == \
        f"/v1/devices/r1/recordings/r1_safety_3_5.mcap?offset=2&size=3&sha256={info.sha256}"
