"""The card registry behind the BHXH simulator: who has been registered, under which key, with which card.

The registry's idempotency key is ``maHoSoLT`` (the linked-dossier id).  The first valid request for a
key issues a card (``000``); every later request with that key returns the *same* card (``001``)
whatever else it carries, because the registry has no update operation: a correction is for a person.
A new key for a child whose identity number already holds a card answers ``002`` with the existing card
and issues nothing, so one child never ends up with two cards (the gateway should raise it for review).

Card numbers are deterministic: ``maSoBhxh`` = the 2-digit province + 8 digits drawn from
SHA-256(seed, maHoSoLT), re-drawn on the (rare) collision, so the same seed and keys give the same cards
in every run; ``maThe`` = ``TE`` + ``1`` + province + ``maSoBhxh`` (15 characters).  The card is valid
from the birth date to the day before the sixth birthday.

All state sits behind one lock: the server runs a thread per connection, and two concurrent requests
with one key must still produce one card and one write.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from simulators.bhxh.validation import parse_date

REGISTERED = "000"
ALREADY_REGISTERED = "001"
CHILD_HAS_CARD = "002"
NOT_FOUND = "404"

MESSAGES = {
    REGISTERED: "Đăng ký thành công, đã cấp thẻ BHYT",
    ALREADY_REGISTERED: "Hồ sơ đã được đăng ký trước đó, trả lại thẻ đã cấp",
    CHILD_HAS_CARD: "Trẻ em đã được cấp thẻ BHYT theo một hồ sơ liên thông khác",
    NOT_FOUND: "Không tìm thấy thẻ BHYT",
}


class UnderSixRuleViolated(Exception):
    """The child is six or older on the registration day: not eligible for a child card."""

    field = "treEm/ngaySinh"
    message = "trẻ đã đủ 6 tuổi, không thuộc diện cấp thẻ BHYT trẻ em dưới 6 tuổi"


def sixth_birthday(birth: date) -> date:
    """The sixth birthday; a child born on 29 February turns six on 1 March (year+6 is never leap)."""
    try:
        return birth.replace(year=birth.year + 6)
    except ValueError:
        return date(birth.year + 6, 3, 1)


def card_end(birth: date) -> date:
    """``gtTheDen``: the day before the sixth birthday (28 February for a 29-February child)."""
    return sixth_birthday(birth) - timedelta(days=1)


@dataclass(frozen=True)
class Card:
    ma_so_bhxh: str
    ma_the: str
    ho_ten: str
    ngay_sinh: date
    gioi_tinh: str
    so_dinh_danh: str | None
    ma_dkbd: str
    ma_ho_so_lt: str
    ngay_cap: date

    @property
    def gt_the_tu(self) -> date:
        return self.ngay_sinh

    @property
    def gt_the_den(self) -> date:
        return card_end(self.ngay_sinh)

    def status_on(self, day: date) -> tuple[bool, str]:
        if day < self.gt_the_tu:
            return False, "Chưa có hiệu lực"
        if day > self.gt_the_den:
            return False, "Hết hiệu lực"
        return True, "Còn hiệu lực"

    def to_dict(self, day: date | None = None) -> dict[str, Any]:
        """The card with the WSDL's field names (``TheBHYT``); validity only when ``day`` is given."""
        data: dict[str, Any] = {
            "maThe": self.ma_the,
            "maSoBhxh": self.ma_so_bhxh,
            "hoTen": self.ho_ten,
            "ngaySinh": f"{self.ngay_sinh:%Y%m%d}",
            "gioiTinh": self.gioi_tinh,
            "soDinhDanh": self.so_dinh_danh,
            "maDKBD": self.ma_dkbd,
            "gtTheTu": f"{self.gt_the_tu:%Y%m%d}",
            "gtTheDen": f"{self.gt_the_den:%Y%m%d}",
            "ngayCapThe": f"{self.ngay_cap:%Y%m%d}",
            "maHoSoLT": self.ma_ho_so_lt,
        }
        if day is not None:
            data["conHieuLuc"], data["trangThaiThe"] = self.status_on(day)
        return data


@dataclass
class Registration:
    request: dict[str, Any]
    card: Card
    writes: int = 1
    repeats: int = 0


@dataclass(frozen=True)
class RegistrationResult:
    code: str
    card: Card

    @property
    def message(self) -> str:
        return MESSAGES[self.code]


class CardRegistry:
    """Registrations keyed by ``maHoSoLT``, with lookups by card number and by the child's identity."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._lock = threading.Lock()
        self._by_key: dict[str, Registration] = {}
        self._by_card: dict[str, str] = {}
        self._by_identity: dict[str, str] = {}
        self._numbers: set[str] = set()
        self._duplicates: dict[str, dict[str, Any]] = {}

    def register(self, request: dict[str, Any], today: date) -> RegistrationResult:
        """Register a validated request (see :func:`validate_registration`) or return the earlier card.

        Raises :class:`UnderSixRuleViolated` for a new key whose child is already six.
        """
        key = request["maHoSoLT"]
        child = request["treEm"]
        with self._lock:
            existing = self._by_key.get(key)
            if existing is not None:
                existing.repeats += 1
                return RegistrationResult(ALREADY_REGISTERED, existing.card)
            birth = parse_date(child["ngaySinh"])
            assert birth is not None, "validated before registration"
            if today >= sixth_birthday(birth):
                raise UnderSixRuleViolated()
            identity = child.get("soDinhDanh")
            if identity and identity in self._by_identity:
                holder = self._by_key[self._by_identity[identity]]
                seen = self._duplicates.setdefault(
                    key, {"existingMaHoSoLT": holder.card.ma_ho_so_lt, "count": 0}
                )
                seen["count"] += 1
                return RegistrationResult(CHILD_HAS_CARD, holder.card)
            number = self._new_number(key, request["maTinh"])
            card = Card(
                ma_so_bhxh=number,
                ma_the=f"TE1{request['maTinh']}{number}",
                ho_ten=child["hoTen"],
                ngay_sinh=birth,
                gioi_tinh=child["gioiTinh"],
                so_dinh_danh=identity,
                ma_dkbd=request["maDKBD"],
                ma_ho_so_lt=key,
                ngay_cap=today,
            )
            self._by_key[key] = Registration(request=copy.deepcopy(request), card=card)
            self._by_card[card.ma_the] = key
            if identity:
                self._by_identity[identity] = key
            return RegistrationResult(REGISTERED, card)

    def _new_number(self, key: str, province: str) -> str:
        attempt = 0
        while True:
            digest = hashlib.sha256(f"{self.seed}\x1f{key}\x1f{attempt}".encode()).digest()
            number = f"{province}{int.from_bytes(digest[:8], 'big') % 10**8:08d}"
            if number not in self._numbers:
                self._numbers.add(number)
                return number
            attempt += 1

    def find_by_card(self, ma_the: str) -> Card | None:
        with self._lock:
            key = self._by_card.get(ma_the)
            return self._by_key[key].card if key else None

    def find_by_identity(self, so_dinh_danh: str) -> Card | None:
        with self._lock:
            key = self._by_identity.get(so_dinh_danh)
            return self._by_key[key].card if key else None

    def snapshot(self) -> dict[str, Any]:
        """``registrations`` and ``duplicates`` as ``GET /_sim/received`` shows them (deep copies)."""
        with self._lock:
            registrations = {
                key: {
                    "request": copy.deepcopy(reg.request),
                    "card": reg.card.to_dict(),
                    "writes": reg.writes,
                    "repeats": reg.repeats,
                }
                for key, reg in self._by_key.items()
            }
            return {
                "registrations": registrations,
                "duplicates": copy.deepcopy(self._duplicates),
                "totals": {
                    "registrations": len(registrations),
                    "writes": sum(r["writes"] for r in registrations.values()),
                    "repeats": sum(r["repeats"] for r in registrations.values()),
                    "duplicates": sum(d["count"] for d in self._duplicates.values()),
                },
            }

    def reset(self, seed: int | None = None) -> None:
        with self._lock:
            if seed is not None:
                self.seed = seed
            self._by_key.clear()
            self._by_card.clear()
            self._by_identity.clear()
            self._numbers.clear()
            self._duplicates.clear()
