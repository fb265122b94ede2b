"""Vietnamese names and Bến Tre places: the vocabulary the synthetic dossiers are made of.

Why hand-written lists and not a faker library: the data must look like Bến Tre in particular
(southern family names such as Huỳnh and Võ, the province's districts and communes with their
statistics-office codes) and must never change between versions, because dossier ``i`` of seed ``s``
is part of the test contract.  Weights are rough shares, good enough for realistic distributions.
"""

from __future__ import annotations

import unicodedata

#: (family name, weight in per-mille): southern Vietnam, Huỳnh/Võ more frequent than in the north.
FAMILY_NAMES: tuple[tuple[str, int], ...] = (
    ("Nguyễn", 310), ("Trần", 110), ("Lê", 95), ("Phạm", 60), ("Huỳnh", 55), ("Võ", 50),
    ("Phan", 40), ("Trương", 25), ("Đặng", 20), ("Bùi", 15), ("Đỗ", 15), ("Hồ", 15),
    ("Ngô", 13), ("Dương", 12), ("Lâm", 12), ("Đoàn", 10), ("Mai", 10), ("Châu", 8),
    ("Thái", 6), ("Lý", 6), ("Tô", 5), ("Cao", 5), ("Đinh", 5), ("Lương", 4), ("Hoàng", 9),
)

MALE_MIDDLE: tuple[str, ...] = (
    "Văn", "Văn", "Văn", "Minh", "Hoàng", "Quốc", "Thanh", "Hữu", "Đức", "Công", "Tấn", "Phước", "Thành", "Trọng",
)
FEMALE_MIDDLE: tuple[str, ...] = (
    "Thị", "Thị", "Thị", "Ngọc", "Thu", "Kim", "Mỹ", "Thanh", "Bích", "Hồng", "Phương", "Thùy", "Diễm", "Kiều",
)
MALE_GIVEN: tuple[str, ...] = (
    "An", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Hải", "Hiếu", "Hòa", "Hùng", "Huy", "Khang", "Khánh", "Khoa",
    "Kiệt", "Lâm", "Lộc", "Long", "Luân", "Minh", "Nam", "Nghĩa", "Nhân", "Phát", "Phong", "Phúc", "Quang",
    "Sang", "Sơn", "Tài", "Tâm", "Thắng", "Thành", "Thiện", "Thịnh", "Toàn", "Trí", "Trung", "Tuấn", "Vinh",
    "Vũ", "Bảo", "Đông", "Hậu", "Lợi", "Tín", "Nhựt", "Quý", "Tùng", "Việt",
)
FEMALE_GIVEN: tuple[str, ...] = (
    "Anh", "Ánh", "Châu", "Diễm", "Dung", "Duyên", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hồng", "Hương",
    "Huyền", "Lan", "Liên", "Linh", "Loan", "Mai", "My", "Nga", "Ngân", "Ngọc", "Nhung", "Như", "Oanh", "Phượng",
    "Quyên", "Tâm", "Thảo", "Thơ", "Thủy", "Thư", "Trang", "Trinh", "Tuyết", "Uyên", "Vân", "Vy", "Xuân", "Yến",
    "Nhi", "Hân", "Thúy", "Kiều", "Lụa", "Cúc", "Đào", "Sương",
)

#: 3-digit CCCD province-of-birth codes other than Bến Tre (083), for people born elsewhere.
OTHER_BIRTH_PROVINCES: tuple[str, ...] = ("079", "082", "084", "086", "080", "087", "089", "001", "092", "094")

#: Mobile prefixes of Viettel, Vinaphone, Mobifone, Vietnamobile (10-digit numbers, leading 0).
PHONE_PREFIXES: tuple[str, ...] = (
    "032", "033", "034", "035", "036", "037", "038", "039", "086", "096", "097", "098",
    "081", "082", "083", "084", "085", "088", "091", "094",
    "070", "076", "077", "078", "079", "089", "090", "093", "056", "058",
)
EMAIL_DOMAINS: tuple[str, ...] = ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "bentre.gov.vn")

PROVINCE_CODE = "83"

#: district code -> (name, urban?, [(ward code, ward name)]).  Statistics-office style codes, before the
#: 2025 merger; ward codes are 5 digits in the province's block, in the real order of magnitude.
DISTRICTS: dict[str, tuple[str, bool, tuple[tuple[str, str], ...]]] = {}


def _wards(start: int, names: str) -> tuple[tuple[str, str], ...]:
    return tuple((f"{start + 3 * k:05d}", name.strip()) for k, name in enumerate(names.split(",")))


DISTRICTS["829"] = ("Thành phố Bến Tre", True, _wards(28756, (
    "Phường Phú Khương,Phường Phú Tân,Phường 4,Phường 5,Phường 6,Phường 7,Phường 8,Phường An Hội,"
    "Xã Sơn Đông,Xã Bình Phú,Xã Nhơn Thạnh,Xã Phú Nhuận,Xã Mỹ Thạnh An,Xã Phú Hưng,Xã Mỹ Thành")))
DISTRICTS["831"] = ("Huyện Châu Thành", False, _wards(28810, (
    "Thị trấn Châu Thành,Xã Tân Thạch,Xã Qưới Sơn,Xã An Khánh,Xã Giao Long,Xã Phú Túc,Xã Tam Phước,"
    "Xã Tiên Thủy,Xã Sơn Hòa,Xã Hữu Định,Xã Phú An Hòa,Xã An Phước,Xã Tường Đa,Xã Thành Triệu")))
DISTRICTS["832"] = ("Huyện Chợ Lách", False, _wards(28894, (
    "Thị trấn Chợ Lách,Xã Phú Phụng,Xã Sơn Định,Xã Vĩnh Bình,Xã Hòa Nghĩa,Xã Long Thới,Xã Phú Sơn,"
    "Xã Tân Thiềng,Xã Vĩnh Thành,Xã Vĩnh Hòa,Xã Hưng Khánh Trung B")))
DISTRICTS["833"] = ("Huyện Mỏ Cày Nam", False, _wards(28948, (
    "Thị trấn Mỏ Cày,Xã Định Thủy,Xã Đa Phước Hội,Xã Tân Hội,Xã Phước Hiệp,Xã Bình Khánh,Xã An Thạnh,"
    "Xã An Định,Xã Thành Thới B,Xã Tân Trung,Xã Cẩm Sơn,Xã Hương Mỹ,Xã Minh Đức,Xã Ngãi Đăng")))
DISTRICTS["834"] = ("Huyện Giồng Trôm", False, _wards(29032, (
    "Thị trấn Giồng Trôm,Xã Phong Nẫm,Xã Mỹ Thạnh,Xã Châu Hòa,Xã Lương Hòa,Xã Lương Quới,Xã Bình Hòa,"
    "Xã Sơn Phú,Xã Hưng Lễ,Xã Thạnh Phú Đông,Xã Tân Hào")))
DISTRICTS["835"] = ("Huyện Bình Đại", False, _wards(29113, (
    "Thị trấn Bình Đại,Xã Tam Hiệp,Xã Long Định,Xã Phú Thuận,Xã Vang Quới Tây,Xã Thới Lai,Xã Thạnh Trị,"
    "Xã Bình Thắng,Xã Thạnh Phước,Xã Thừa Đức")))
DISTRICTS["836"] = ("Huyện Ba Tri", False, _wards(29182, (
    "Thị trấn Ba Tri,Xã An Đức,Xã Mỹ Hòa,Xã Tân Xuân,Xã Phú Ngãi,Xã An Hòa Tây,Xã Vĩnh An,Xã Bảo Thạnh,"
    "Xã An Thủy,Xã Tân Thủy,Xã An Ngãi Trung,Xã Phước Ngãi")))
DISTRICTS["837"] = ("Huyện Thạnh Phú", False, _wards(29257, (
    "Thị trấn Thạnh Phú,Xã Phú Khánh,Xã Đại Điền,Xã Quới Điền,Xã Tân Phong,Xã Mỹ Hưng,Xã An Thạnh,"
    "Xã Thới Thạnh,Xã Giao Thạnh,Xã An Nhơn,Xã Bình Thạnh")))
DISTRICTS["838"] = ("Huyện Mỏ Cày Bắc", False, _wards(29320, (
    "Xã Phước Mỹ Trung,Xã Tân Thành Bình,Xã Thành An,Xã Hòa Lộc,Xã Tân Bình,Xã Khánh Thạnh Tân,"
    "Xã Nhuận Phú Tân,Xã Thạnh Ngãi,Xã Phú Mỹ,Xã Hưng Khánh Trung A")))

#: Where people live, by district (per-mille): the city and the big rural districts dominate.
DISTRICT_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("829", 200), ("831", 130), ("832", 70), ("833", 110), ("834", 120), ("835", 90), ("836", 120),
    ("837", 80), ("838", 80),
)

STREETS: tuple[str, ...] = (
    "Đồng Khởi", "Hùng Vương", "Nguyễn Đình Chiểu", "Trương Định", "Lê Lợi", "30 Tháng 4", "Nguyễn Huệ",
    "Đoàn Hoàng Minh", "Nguyễn Thị Định", "Phan Ngọc Tòng", "Cách Mạng Tháng Tám", "Trần Quốc Tuấn",
    "Nguyễn Văn Tư", "Lạc Long Quân", "Võ Nguyên Giáp",
)
HAMLETS: tuple[str, ...] = (
    "Ấp 1", "Ấp 2", "Ấp 3", "Ấp 4", "Ấp Phú Lợi", "Ấp Tân Hòa", "Ấp An Bình", "Ấp Thạnh Hưng", "Ấp Bình Thới",
    "Ấp Long Hòa", "Ấp Mỹ An", "Ấp Phước Thạnh", "Ấp Giồng Keo", "Ấp Cây Da",
)

#: Birth places and their health-facility codes (maCSKCB), for birth registrations.
HOSPITALS: tuple[tuple[str, str], ...] = (
    ("83001", "Bệnh viện Nguyễn Đình Chiểu"),
    ("83002", "Bệnh viện đa khoa Minh Đức"),
    ("83010", "Trung tâm Y tế huyện Châu Thành"),
    ("83011", "Trung tâm Y tế huyện Ba Tri"),
    ("83012", "Trung tâm Y tế huyện Mỏ Cày Nam"),
    ("83013", "Trung tâm Y tế huyện Giồng Trôm"),
    ("83014", "Trung tâm Y tế huyện Bình Đại"),
    ("83015", "Trung tâm Y tế huyện Thạnh Phú"),
)

COMPANY_KINDS: tuple[str, ...] = ("Công ty TNHH", "Công ty TNHH MTV", "Công ty Cổ phần", "Doanh nghiệp tư nhân")
COMPANY_TRADES: tuple[str, ...] = (
    "Xây dựng", "Thương mại", "Dừa", "Thủy sản", "Vận tải", "Dịch vụ", "Nông nghiệp", "Cơ khí", "Du lịch",
)
COMPANY_BRANDS: tuple[str, ...] = (
    "Hoàng Phát", "Phú Thịnh", "Minh Long", "Tân Tiến", "Bến Tre Xanh", "Hưng Thịnh", "Thành Công", "Đại Lợi",
    "Mekong", "Ngọc Châu", "An Khang", "Trường Thịnh",
)
ORGANISATIONS: tuple[str, ...] = (
    "Trường Tiểu học An Hội", "Trạm Y tế xã Tân Thạch", "Hợp tác xã Dừa Tân Thạch", "Hội Nông dân xã An Đức",
    "Trường THCS Phú Khương", "Hợp tác xã Nông nghiệp Chợ Lách", "Ban quản lý chợ Ba Tri",
)


def ascii_fold(text: str) -> str:
    """Drop Vietnamese diacritics (``Đặng Thị Hạnh`` -> ``Dang Thi Hanh``), for e-mail local parts."""
    text = text.replace("Đ", "D").replace("đ", "d")
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c))


def expand_weights(pairs: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
    """A weighted list as a flat tuple, so one ``rng.choice`` is a weighted draw (fast, no bisect)."""
    return tuple(value for value, weight in pairs for _ in range(weight))
