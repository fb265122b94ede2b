"""Headless Chromium for the report test: a screenshot and the rendered DOM of a local HTML file.

Flags keep the browser off the network and away from the user's profile (a private ``--user-data-dir``),
so the page can only show what it carries inline.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _command(binary: str, profile: Path) -> list[str]:
    return [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
    ]


def screenshot(binary: str, page: Path, png: Path, profile: Path, size: str = "1280,2000") -> None:
    command = [*_command(binary, profile), f"--screenshot={png}", f"--window-size={size}", page.as_uri()]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def dump_dom(binary: str, page: Path, profile: Path) -> str:
    command = [*_command(binary, profile), "--dump-dom", page.as_uri()]
    return subprocess.run(command, check=True, capture_output=True, timeout=120, text=True).stdout


def png_facts(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct byte values in the decoded image data): a blank page decodes to a few
    values (filter bytes and one colour), a rendered report to hundreds."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    offset, idat, width, height = 8, b"", 0, 0
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunk = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        offset += 12 + length
    return width, height, len(set(zlib.decompress(idat)))
