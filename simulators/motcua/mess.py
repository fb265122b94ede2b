"""Real-world mess, served on purpose so that the gateway is tested against what real sources send.

Which dossiers are messy, and how, is a pure function of (seed, index): two numbers from a hash of
(seed, index), separate from the dossier's own random draws, so the rest of a dossier is the same
with or without mess, and ``mess_kind(i)`` can be asked without generating the dossier.

Kinds (weights are shares of the total ``mess_rate``):

- ``nfd``: Vietnamese text (applicant name, address, summary, eForm) in Unicode NFD instead of NFC;
- ``phone_plus84`` / ``phone_84``: the phone number as ``+84…`` or ``84…`` instead of ``0…``;
- ``long_summary``: a summary over 1,000 characters (the portal's ``TrichYeuHoSo`` limit);
- ``missing_dates``: ``acceptedDate`` and/or ``appointmentDate`` null although the dossier was accepted;
- ``identity_length``: an identity number of 11 or 13 digits instead of 12;
- ``withdrawn``: the citizen withdrew the dossier (status 6);
- ``deleted``: served once by a search, then deleted (gone from later searches, 404 on detail).
"""

from __future__ import annotations

import random
import unicodedata
from typing import Any

MESS_WEIGHTS: dict[str, int] = {
    "nfd": 25,
    "phone_plus84": 10,
    "phone_84": 10,
    "long_summary": 10,
    "missing_dates": 15,
    "identity_length": 12,
    "withdrawn": 10,
    "deleted": 8,
}
MESS_KINDS: tuple[str, ...] = tuple(MESS_WEIGHTS)

_FILLER = (
    "Kính gửi Bộ phận tiếp nhận và trả kết quả.",
    "Tôi xin trình bày hoàn cảnh gia đình như sau: gia đình tôi sinh sống ổn định tại địa phương từ nhiều năm nay,"
    " chấp hành tốt chủ trương, chính sách, pháp luật của Nhà nước và quy định của địa phương.",
    "Do nhu cầu công việc và sinh hoạt của gia đình, tôi kính đề nghị cơ quan có thẩm quyền xem xét,"
    " giải quyết hồ sơ của tôi theo đúng quy định hiện hành.",
    "Hồ sơ kèm theo gồm đầy đủ các giấy tờ theo danh mục thành phần hồ sơ đã được niêm yết công khai"
    " tại Bộ phận một cửa và trên Cổng dịch vụ công của tỉnh.",
    "Tôi xin cam đoan những lời khai trên là đúng sự thật và chịu hoàn toàn trách nhiệm trước pháp luật"
    " về nội dung đã khai.",
    "Trường hợp hồ sơ cần bổ sung, đề nghị cán bộ liên hệ qua số điện thoại đã đăng ký hoặc gửi thông báo"
    " qua địa chỉ thư điện tử để tôi kịp thời hoàn thiện.",
    "Rất mong nhận được sự quan tâm, hướng dẫn và giải quyết sớm của Quý cơ quan.",
    "Tôi đã tìm hiểu kỹ các quy định liên quan và cam kết thực hiện đầy đủ nghĩa vụ tài chính (nếu có).",
)


class MessPlan:
    """Decides the mess kind of a dossier from two uniform numbers drawn for it."""

    def __init__(self, rate: float, kinds: tuple[str, ...] | None = None) -> None:
        kinds = tuple(kinds) if kinds else MESS_KINDS
        unknown = [k for k in kinds if k not in MESS_WEIGHTS]
        if unknown:
            raise ValueError(f"unknown mess kind(s) {unknown}; known: {', '.join(MESS_KINDS)}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"mess_rate must be between 0 and 1, got {rate!r}")
        self.rate = rate
        self.kinds = kinds
        total = sum(MESS_WEIGHTS[k] for k in kinds)
        acc = 0.0
        self._cumulative: list[tuple[float, str]] = []
        for kind in kinds:
            acc += MESS_WEIGHTS[kind] / total
            self._cumulative.append((acc, kind))

    def kind(self, u_rate: float, u_kind: float) -> str | None:
        if u_rate >= self.rate:
            return None
        for bound, kind in self._cumulative:
            if u_kind < bound:
                return kind
        return self._cumulative[-1][1]


def long_summary(rng: random.Random, summary: str) -> str:
    """The summary with a pasted letter after it, over 1,000 characters."""
    parts = [summary.rstrip(".") + "."]
    length = len(parts[0])
    while length <= 1000:
        sentence = rng.choice(_FILLER)
        parts.append(sentence)
        length += len(sentence) + 1
    return " ".join(parts)


def apply_mess(kind: str, dossier: dict[str, Any], rng: random.Random) -> None:
    """Make ``dossier`` messy in place (``withdrawn`` is built by the generator, ``deleted`` by the app)."""
    data = dossier["applicant"]["data"]
    if kind == "nfd":
        data["fullname"] = unicodedata.normalize("NFD", data["fullname"])
        data["address"]["detail"] = unicodedata.normalize("NFD", data["address"]["detail"])
        dossier["summary"] = unicodedata.normalize("NFD", dossier["summary"])
        if dossier.get("eForm"):
            dossier["eForm"] = unicodedata.normalize("NFD", dossier["eForm"])
    elif kind in ("phone_plus84", "phone_84") and data.get("phoneNumber"):
        prefix = "+84" if kind == "phone_plus84" else "84"
        data["phoneNumber"] = prefix + data["phoneNumber"][1:]
    elif kind == "long_summary":
        dossier["summary"] = long_summary(rng, dossier["summary"])
    elif kind == "missing_dates":
        which = rng.random()
        if which < 0.75:
            dossier["acceptedDate"] = None
        if which >= 0.5:
            dossier["appointmentDate"] = None
    elif kind == "identity_length":
        identity = data["identityNumber"]
        data["identityNumber"] = identity[:11] if rng.random() < 0.5 else identity + str(rng.randrange(10))
