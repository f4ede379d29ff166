"""Hostile images against ``plitool scan`` (OCR, issue 14), each run as a separate process under a
memory cap: a decompression bomb is refused from its header, a JPEG declaring 65,500 × 65,500
pixels is decoded at 1/8 scale or refused, and the other files of the batch are still scanned."""

from __future__ import annotations

import json
import os
import resource
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from .conftest import TIMEOUT, Plitool

MEMORY_CAP = 1536 << 20


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(path: Path, side: int = 30000) -> Path:
    """A PNG that declares side × side RGB pixels: 2.7 GB decoded, 100 bytes on disk."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 256))
                     + _chunk(b"IEND", b""))
    return path


def jpeg_giant(path: Path, tmp: Path) -> Path:
    """A small real JPEG whose frame header is rewritten to claim 65,500 × 65,500 pixels."""
    from PIL import Image

    Image.new("L", (64, 64), 255).save(tmp / "small.jpg", quality=80)
    data = bytearray((tmp / "small.jpg").read_bytes())
    sof = data.find(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", 65500, 65500)
    path.write_bytes(bytes(data))
    return path


def scan_capped(plitool: Plitool, *paths: Path) -> tuple[int, dict, str]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))

    argv = [sys.executable, "-m", "plitool.cli", "--case", str(plitool.case_root), "scan", "--json", *map(str, paths)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT * 2, preexec_fn=limit,
                          cwd=plitool.case_root, env={**os.environ, "PLITOOL_LANG": "en"}, errors="replace")
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def _good(tmp_path: Path) -> Path:
    good = tmp_path / "good.txt"
    good.write_text("联系电话 13812341234\n", encoding="utf-8")
    return good


@pytest.mark.skipif(os.name != "posix", reason="memory caps need setrlimit")
def test_a_decompression_bomb_is_refused_from_its_header(plitool: Plitool, tmp_path: Path) -> None:
    bomb = png_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 200
    code, data, _err = scan_capped(plitool, bomb, _good(tmp_path))
    assert code == 1
    by_name = {f["name"]: f for f in data["files"]}
    assert by_name["bomb.png"]["status"] == "failed"
    if by_name["bomb.png"]["error"].startswith("not scanned: image"):
        pytest.skip("tesseract is not installed: the image is not opened at all")
    assert "refused" in by_name["bomb.png"]["error"]
    assert by_name["good.txt"]["counts"] == {"phone": 1}


@pytest.mark.skipif(os.name != "posix", reason="memory caps need setrlimit")
def test_a_jpeg_claiming_65500_square_stays_within_memory(plitool: Plitool, tmp_path: Path) -> None:
    giant = jpeg_giant(tmp_path / "giant.jpg", tmp_path)
    code, data, _err = scan_capped(plitool, giant, _good(tmp_path))
    by_name = {f["name"]: f for f in data["files"]}
    shot = by_name["giant.jpg"]
    assert shot["format"] == "image" and shot["total"] == 0
    assert shot["status"] in ("failed", "scanned") and code == (1 if shot["status"] == "failed" else 0)
    assert by_name["good.txt"]["counts"] == {"phone": 1}
