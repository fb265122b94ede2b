"""Masking of personal data wherever it is shown (Decree 13/2023/NĐ-CP on personal-data protection).

Identity numbers (CCCD, 12 digits; old CMND, 9), health-insurance card numbers and phone numbers are masked in logs, error
messages and CLI output; only the staged source records and the payload archive hold them whole.
"""

from __future__ import annotations

import logging
import re

_PHONE = re.compile(r"(?<!\d)(?:\+?84|0)(\d{2})\d{4,5}(\d{3})(?!\d)")
_ID = re.compile(r"(?<!\d)(\d{3})\d{4,7}(\d{2})(?!\d)")
_CARD = re.compile(r"(?<![A-Z0-9])([A-Z]{2}\d)(\d{2})\d{8}(\d{2})(?!\d)")  # BHYT card: TE + 1 + province + 10


def mask_identity(value: str | None) -> str | None:
    """``083185001234`` → ``083*******34``: enough to tell two people apart, not to use the number."""
    if not value:
        return value
    digits = str(value)
    if len(digits) <= 5:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


def mask_phone(value: str | None) -> str | None:
    if not value:
        return value
    text = str(value)
    if len(text) <= 6:
        return "*" * len(text)
    return text[:4] + "*" * (len(text) - 7) + text[-3:]


def mask_text(text: str) -> str:
    """Mask every phone-like and identity-like digit run in free text."""
    text = _CARD.sub(lambda m: f"{m.group(1)}{m.group(2)}********{m.group(3)}", text)
    text = _PHONE.sub(lambda m: mask_phone(m.group(0)) or "", text)
    return _ID.sub(lambda m: mask_identity(m.group(0)) or "", text)


class MaskingFilter(logging.Filter):
    """A logging filter that masks personal data in the formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def install_log_masking(logger: logging.Logger | None = None) -> None:
    target = logger or logging.getLogger()
    if not any(isinstance(f, MaskingFilter) for f in target.filters):
        target.addFilter(MaskingFilter())
    for handler in target.handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())
