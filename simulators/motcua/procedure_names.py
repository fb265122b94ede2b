"""Procedure names by agency kind and sector, written the way the national procedure database words them.

Each sector lists whole names plus (objects x actions) combinations such as "Cấp lại Thẻ công chứng
viên", which is how the real catalogue grows: one permit, several procedures (issue, re-issue, change,
revoke).  The justice department's list is long on purpose: it must yield 121 online procedures.
"""

from __future__ import annotations

Sector = tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]  # name, whole names, objects, actions

_CRUD = ("Cấp", "Cấp lại", "Thay đổi nội dung", "Thu hồi")

JUSTICE: tuple[Sector, ...] = (
    ("Lý lịch tư pháp", (
        "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam, người nước ngoài đang cư trú tại Việt Nam",
        "Cấp Phiếu lý lịch tư pháp cho cơ quan tiến hành tố tụng",
        "Cấp Phiếu lý lịch tư pháp cho cơ quan nhà nước, tổ chức chính trị, tổ chức chính trị - xã hội",
        "Cấp Phiếu lý lịch tư pháp qua ứng dụng VNeID"), (), ()),
    ("Luật sư", (
        "Đăng ký hoạt động của tổ chức hành nghề luật sư", "Hợp nhất công ty luật", "Sáp nhập công ty luật",
        "Chuyển đổi công ty luật trách nhiệm hữu hạn và công ty luật hợp danh",
        "Chấm dứt hoạt động của tổ chức hành nghề luật sư"), (
        "Giấy đăng ký hoạt động của tổ chức hành nghề luật sư",
        "Giấy đăng ký hoạt động của chi nhánh của tổ chức hành nghề luật sư",
        "Giấy đăng ký hoạt động của công ty luật nước ngoài",
        "Giấy đăng ký hành nghề luật sư với tư cách cá nhân",
        "Giấy phép thành lập chi nhánh của tổ chức hành nghề luật sư nước ngoài"), _CRUD),
    ("Công chứng", (
        "Bổ nhiệm công chứng viên", "Bổ nhiệm lại công chứng viên", "Miễn nhiệm công chứng viên",
        "Thành lập Văn phòng công chứng", "Hợp nhất Văn phòng công chứng", "Sáp nhập Văn phòng công chứng",
        "Chuyển nhượng Văn phòng công chứng", "Chấm dứt hoạt động Văn phòng công chứng",
        "Đăng ký tập sự hành nghề công chứng", "Thay đổi nơi tập sự hành nghề công chứng"), (
        "Thẻ công chứng viên", "Giấy đăng ký hoạt động của Văn phòng công chứng"), _CRUD),
    ("Giám định tư pháp", (
        "Bổ nhiệm giám định viên tư pháp", "Miễn nhiệm giám định viên tư pháp",
        "Thành lập Văn phòng giám định tư pháp", "Chuyển đổi loại hình Văn phòng giám định tư pháp",
        "Thay đổi tên gọi, địa chỉ trụ sở, người đại diện theo pháp luật của Văn phòng giám định tư pháp"), (
        "Giấy đăng ký hoạt động của Văn phòng giám định tư pháp",), ("Cấp", "Cấp lại", "Thu hồi")),
    ("Trọng tài thương mại", (
        "Thành lập Trung tâm trọng tài", "Đăng ký hoạt động chi nhánh Trung tâm trọng tài",
        "Chấm dứt hoạt động Trung tâm trọng tài"), (
        "Giấy đăng ký hoạt động của Trung tâm trọng tài",
        "Giấy đăng ký hoạt động của chi nhánh tổ chức trọng tài nước ngoài"), ("Cấp", "Cấp lại", "Thay đổi nội dung")),
    ("Hòa giải thương mại", (
        "Đăng ký làm hòa giải viên thương mại vụ việc", "Thành lập Trung tâm hòa giải thương mại",
        "Chấm dứt hoạt động Trung tâm hòa giải thương mại"), (
        "Giấy đăng ký hoạt động của Trung tâm hòa giải thương mại",
        "Giấy đăng ký hoạt động của chi nhánh Trung tâm hòa giải thương mại"), ("Cấp", "Cấp lại", "Thay đổi nội dung")),
    ("Quản tài viên", (
        "Đăng ký hành nghề quản lý, thanh lý tài sản với tư cách cá nhân",
        "Đăng ký hành nghề quản lý, thanh lý tài sản đối với doanh nghiệp",
        "Thay đổi thành viên hợp danh của công ty hợp danh quản lý, thanh lý tài sản",
        "Chuyển đổi doanh nghiệp quản lý, thanh lý tài sản"), (), ()),
    ("Đấu giá tài sản", (
        "Đăng ký hoạt động của doanh nghiệp đấu giá tài sản", "Đăng ký danh sách đấu giá viên",
        "Phê duyệt đủ điều kiện thực hiện hình thức đấu giá trực tuyến",
        "Đăng ký tham dự kiểm tra kết quả tập sự hành nghề đấu giá"), (
        "Thẻ đấu giá viên", "Giấy đăng ký hoạt động của doanh nghiệp đấu giá tài sản",
        "Giấy đăng ký hoạt động của chi nhánh doanh nghiệp đấu giá tài sản"), _CRUD),
    ("Trợ giúp pháp lý", (
        "Giải quyết yêu cầu trợ giúp pháp lý", "Rút yêu cầu trợ giúp pháp lý của người được trợ giúp pháp lý",
        "Lựa chọn, thay đổi người thực hiện trợ giúp pháp lý", "Đăng ký tham gia trợ giúp pháp lý",
        "Chấm dứt tham gia trợ giúp pháp lý", "Cấp lại thẻ cộng tác viên trợ giúp pháp lý",
        "Khiếu nại về trợ giúp pháp lý"), (), ()),
    ("Quốc tịch", (
        "Nhập quốc tịch Việt Nam", "Trở lại quốc tịch Việt Nam", "Thôi quốc tịch Việt Nam",
        "Cấp Giấy xác nhận có quốc tịch Việt Nam", "Cấp Giấy xác nhận là người gốc Việt Nam",
        "Ghi chú về việc nhập quốc tịch Việt Nam", "Cấp bản sao Trích lục quyết định cho nhập quốc tịch"), (), ()),
    ("Nuôi con nuôi", (
        "Đăng ký việc nuôi con nuôi nước ngoài",
        "Giải quyết việc người nước ngoài thường trú ở nước ngoài nhận trẻ em Việt Nam làm con nuôi",
        "Cấp, gia hạn, sửa đổi giấy phép hoạt động của tổ chức con nuôi nước ngoài",
        "Đăng ký lại việc nuôi con nuôi có yếu tố nước ngoài",
        "Ghi chú việc nuôi con nuôi đã được giải quyết tại cơ quan có thẩm quyền của nước ngoài"), (), ()),
    ("Bồi thường nhà nước", (
        "Giải quyết yêu cầu bồi thường tại cơ quan trực tiếp quản lý người thi hành công vụ gây thiệt hại",
        "Phục hồi danh dự",
        "Chi trả tiền bồi thường trong trường hợp cơ quan giải quyết bồi thường được bảo đảm kinh phí",
        "Giải quyết yêu cầu bồi thường tại cơ quan giải quyết bồi thường"), (), ()),
    ("Thừa phát lại", (
        "Bổ nhiệm Thừa phát lại", "Miễn nhiệm Thừa phát lại", "Thành lập Văn phòng Thừa phát lại",
        "Chấm dứt hoạt động Văn phòng Thừa phát lại", "Đăng ký tập sự hành nghề Thừa phát lại"), (
        "Thẻ Thừa phát lại", "Giấy đăng ký hoạt động của Văn phòng Thừa phát lại"), _CRUD),
    ("Tư vấn pháp luật", (
        "Đăng ký hoạt động của Trung tâm tư vấn pháp luật",
        "Thay đổi nội dung đăng ký hoạt động của Trung tâm tư vấn pháp luật", "Cấp thẻ tư vấn viên pháp luật",
        "Cấp lại thẻ tư vấn viên pháp luật", "Thu hồi thẻ tư vấn viên pháp luật",
        "Chấm dứt hoạt động Trung tâm tư vấn pháp luật"), (), ()),
    ("Chứng thực", (
        "Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan nước ngoài cấp",
        "Chứng thực chữ ký người dịch mà người dịch là cộng tác viên dịch thuật",
        "Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản",
        "Cấp bản sao có chứng thực từ bản chính hợp đồng, giao dịch đã được chứng thực"), (), ()),
    ("Hộ tịch", ("Cấp bản sao trích lục hộ tịch", "Xác nhận thông tin hộ tịch"), (), ()),
)

CONSTRUCTION: tuple[Sector, ...] = (
    ("Hoạt động xây dựng", (
        "Cấp giấy phép xây dựng mới đối với công trình cấp đặc biệt, cấp I, cấp II",
        "Thẩm định báo cáo nghiên cứu khả thi đầu tư xây dựng",
        "Thẩm định thiết kế xây dựng triển khai sau thiết kế cơ sở"), (
        "Giấy phép di dời công trình", "Chứng chỉ hành nghề hoạt động xây dựng hạng II, hạng III",
        "Chứng chỉ năng lực hoạt động xây dựng hạng II, hạng III"), ("Cấp", "Cấp lại", "Điều chỉnh")),
    ("Nhà ở", (
        "Công nhận chủ đầu tư dự án nhà ở xã hội", "Cho thuê nhà ở công vụ",
        "Bán nhà ở cũ thuộc sở hữu nhà nước"), (), ()),
    ("Kinh doanh bất động sản", (
        "Thông báo nhà ở hình thành trong tương lai đủ điều kiện được bán, cho thuê mua",
        "Cấp chứng chỉ hành nghề môi giới bất động sản"), (), ()),
    ("Quy hoạch xây dựng", (
        "Thẩm định đồ án quy hoạch chi tiết xây dựng", "Cung cấp thông tin về quy hoạch xây dựng"), (), ()),
)

ENVIRONMENT: tuple[Sector, ...] = (
    ("Đất đai", (
        "Giao đất, cho thuê đất không thông qua đấu giá quyền sử dụng đất",
        "Chuyển mục đích sử dụng đất phải được phép của cơ quan nhà nước có thẩm quyền đối với tổ chức",
        "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
        "Cấp Giấy chứng nhận quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất lần đầu cho tổ chức",
        "Cung cấp thông tin, dữ liệu đất đai"), (), ()),
    ("Môi trường", (
        "Thẩm định báo cáo đánh giá tác động môi trường",), ("giấy phép môi trường",), ("Cấp", "Cấp đổi", "Cấp điều chỉnh")),
    ("Tài nguyên nước", (
        "Đăng ký khai thác nước mặt", "Cấp giấy phép xả nước thải vào nguồn nước"), (
        "giấy phép khai thác nước dưới đất", "giấy phép thăm dò nước dưới đất"), ("Cấp", "Gia hạn")),
    ("Khoáng sản", (
        "Cấp giấy phép thăm dò khoáng sản", "Cấp giấy phép khai thác khoáng sản", "Đóng cửa mỏ khoáng sản"), (), ()),
    ("Đo đạc, bản đồ", ("Cung cấp thông tin, dữ liệu đo đạc và bản đồ",), (), ()),
)

PLANNING: tuple[Sector, ...] = (
    ("Thành lập và hoạt động của doanh nghiệp", (
        "Đăng ký thành lập công ty trách nhiệm hữu hạn một thành viên",
        "Đăng ký thành lập công ty trách nhiệm hữu hạn hai thành viên trở lên",
        "Đăng ký thành lập công ty cổ phần", "Đăng ký doanh nghiệp tư nhân",
        "Đăng ký thay đổi người đại diện theo pháp luật", "Đăng ký thay đổi vốn điều lệ",
        "Đăng ký thay đổi địa chỉ trụ sở chính", "Thông báo thay đổi ngành, nghề kinh doanh",
        "Đăng ký tạm ngừng kinh doanh", "Giải thể doanh nghiệp", "Cấp lại Giấy chứng nhận đăng ký doanh nghiệp",
        "Đăng ký hoạt động chi nhánh, văn phòng đại diện, địa điểm kinh doanh",
        "Hiệu đính thông tin đăng ký doanh nghiệp"), (), ()),
    ("Đầu tư tại Việt Nam", (
        "Cấp Giấy chứng nhận đăng ký đầu tư", "Điều chỉnh Giấy chứng nhận đăng ký đầu tư",
        "Quyết định chủ trương đầu tư của UBND cấp tỉnh", "Chấm dứt hoạt động dự án đầu tư"), (), ()),
    ("Hợp tác xã", ("Đăng ký thành lập liên hiệp hợp tác xã",), (), ()),
)

TRANSPORT: tuple[Sector, ...] = (
    ("Đường bộ", (
        "Cấp đổi Giấy phép lái xe do ngành Giao thông vận tải cấp", "Cấp lại Giấy phép lái xe",
        "Cấp Giấy phép lái xe quốc tế", "Đổi Giấy phép lái xe do nước ngoài cấp",
        "Cấp Giấy phép kinh doanh vận tải bằng xe ô tô", "Cấp lại Giấy phép kinh doanh vận tải bằng xe ô tô",
        "Cấp phù hiệu xe taxi, xe hợp đồng, xe vận tải hàng hóa bằng công-ten-nơ",
        "Cấp giấy phép lưu hành xe quá tải trọng, xe quá khổ giới hạn",
        "Cấp giấy phép thi công công trình đường bộ trên quốc lộ đang khai thác",
        "Chấp thuận xây dựng công trình thiết yếu trong phạm vi bảo vệ kết cấu hạ tầng giao thông đường bộ",
        "Cấp Giấy chứng nhận giáo viên dạy thực hành lái xe", "Cấp giấy phép đào tạo lái xe ô tô"), (), ()),
    ("Đường thủy nội địa", (
        "Đăng ký phương tiện thủy nội địa lần đầu", "Đăng ký lại phương tiện thủy nội địa",
        "Xóa Giấy chứng nhận đăng ký phương tiện thủy nội địa", "Công bố hoạt động bến thủy nội địa"), (), ()),
)

LABOUR: tuple[Sector, ...] = (
    ("Người có công", (
        "Giải quyết chế độ trợ cấp một lần đối với thân nhân người hoạt động kháng chiến",
        "Cấp giấy chứng nhận thân nhân liệt sĩ", "Di chuyển hồ sơ người có công với cách mạng",
        "Sửa đổi, bổ sung thông tin cá nhân trong hồ sơ người có công"), (), ()),
    ("Việc làm", (
        "Xác nhận người lao động nước ngoài không thuộc diện cấp giấy phép lao động",
        "Giải quyết hưởng trợ cấp thất nghiệp", "Tạm dừng hưởng trợ cấp thất nghiệp",
        "Cấp giấy phép hoạt động dịch vụ việc làm", "Cấp giấy phép cho thuê lại lao động"), (
        "giấy phép lao động cho người lao động nước ngoài làm việc tại Việt Nam",), ("Cấp", "Cấp lại", "Gia hạn")),
    ("Giáo dục nghề nghiệp", ("Cấp giấy chứng nhận đăng ký hoạt động giáo dục nghề nghiệp",), (), ()),
    ("Lao động, tiền lương", (
        "Đăng ký nội quy lao động của doanh nghiệp", "Gửi thỏa ước lao động tập thể"), (), ()),
    ("Bảo trợ xã hội", ("Thành lập cơ sở trợ giúp xã hội công lập",), (), ()),
)

HEALTH: tuple[Sector, ...] = (
    ("Khám bệnh, chữa bệnh", (
        "Cấp giấy phép hành nghề khám bệnh, chữa bệnh", "Cấp lại giấy phép hành nghề khám bệnh, chữa bệnh",
        "Cấp giấy phép hoạt động đối với phòng khám đa khoa", "Cấp giấy phép hoạt động đối với phòng khám chuyên khoa",
        "Cho phép người hành nghề được tiếp tục hành nghề khám bệnh, chữa bệnh",
        "Đăng ký hành nghề khám bệnh, chữa bệnh",
        "Cấp giấy phép hoạt động đối với phòng chẩn trị y học cổ truyền", "Cấp giấy chứng nhận lương y",
        "Công bố cơ sở đủ điều kiện thực hiện khám sức khỏe"), (), ()),
    ("Dược phẩm", (
        "Cấp Chứng chỉ hành nghề dược", "Cấp Giấy chứng nhận đủ điều kiện kinh doanh dược",
        "Cấp giấy xác nhận nội dung quảng cáo mỹ phẩm"), (), ()),
    ("An toàn thực phẩm", (
        "Cấp Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm",
        "Cấp lại Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm"), (), ()),
    ("Trang thiết bị y tế", ("Công bố đủ điều kiện sản xuất trang thiết bị y tế",), (), ()),
)

DISTRICT: tuple[Sector, ...] = (
    ("Hộ tịch", (
        "Đăng ký khai sinh có yếu tố nước ngoài", "Đăng ký kết hôn có yếu tố nước ngoài",
        "Đăng ký khai tử có yếu tố nước ngoài", "Thay đổi, cải chính, bổ sung thông tin hộ tịch, xác định lại dân tộc",
        "Ghi vào Sổ hộ tịch việc kết hôn của công dân Việt Nam đã được giải quyết tại cơ quan có thẩm quyền của nước ngoài"),
     (), ()),
    ("Chứng thực", (
        "Chứng thực bản sao từ bản chính giấy tờ, văn bản do cơ quan có thẩm quyền của nước ngoài cấp",
        "Chứng thực chữ ký người dịch"), (), ()),
    ("Xây dựng", (
        "Cấp giấy phép xây dựng nhà ở riêng lẻ", "Cấp giấy phép sửa chữa, cải tạo công trình",
        "Gia hạn giấy phép xây dựng"), (), ()),
    ("Thành lập và hoạt động của hộ kinh doanh", (
        "Đăng ký thành lập hộ kinh doanh", "Đăng ký thay đổi nội dung đăng ký hộ kinh doanh",
        "Tạm ngừng hoạt động hộ kinh doanh", "Chấm dứt hoạt động hộ kinh doanh", "Đăng ký thành lập hợp tác xã"), (), ()),
    ("Đất đai", (
        "Cấp Giấy chứng nhận quyền sử dụng đất lần đầu cho hộ gia đình, cá nhân",
        "Chuyển mục đích sử dụng đất đối với hộ gia đình, cá nhân",
        "Đăng ký biến động đất đai do chuyển nhượng, tặng cho, thừa kế", "Tách thửa hoặc hợp thửa đất",
        "Cấp đổi Giấy chứng nhận quyền sử dụng đất"), (), ()),
    ("Bảo trợ xã hội", (
        "Trợ cấp xã hội hàng tháng đối với người cao tuổi", "Hỗ trợ chi phí mai táng cho đối tượng bảo trợ xã hội"),
     (), ()),
    ("Văn hóa, lưu thông hàng hóa", (
        "Cấp giấy phép kinh doanh bán lẻ sản phẩm rượu", "Cấp Giấy chứng nhận đủ điều kiện kinh doanh dịch vụ karaoke",
        "Công nhận gia đình văn hóa"), (), ()),
)

BIRTH_NAME = "Đăng ký khai sinh"
LINKED_BIRTH_NAME = "Đăng ký khai sinh kết hợp đăng ký thường trú, cấp thẻ BHYT cho trẻ em dưới 6 tuổi"

COMMUNE: tuple[Sector, ...] = (
    ("Hộ tịch", (
        BIRTH_NAME, LINKED_BIRTH_NAME, "Đăng ký kết hôn", "Đăng ký khai tử", "Đăng ký nhận cha, mẹ, con",
        "Cấp Giấy xác nhận tình trạng hôn nhân", "Đăng ký giám hộ", "Đăng ký lại khai sinh",
        "Đăng ký khai sinh lưu động", "Cấp bản sao trích lục hộ tịch",
        "Đăng ký khai tử, xóa đăng ký thường trú, hưởng chế độ tử tuất"), (), ()),
    ("Chứng thực", (
        "Chứng thực bản sao từ bản chính", "Chứng thực chữ ký trong giấy tờ, văn bản",
        "Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản"), (), ()),
    ("Bảo trợ xã hội", ("Xác nhận hộ gia đình làm nông nghiệp có mức sống trung bình",), (), ()),
)

#: Agency code -> sectors it handles (district and commune lists are shared by all of their level).
SECTORS_BY_AGENCY: dict[str, tuple[Sector, ...]] = {
    "000.00.15.H07": JUSTICE, "000.00.12.H07": CONSTRUCTION, "000.00.13.H07": ENVIRONMENT,
    "000.00.03.H07": PLANNING, "000.00.09.H07": TRANSPORT, "000.00.10.H07": LABOUR, "000.00.17.H07": HEALTH,
}

#: National base codes that are real and meaningful to the mappings (birth registration, the shape's example).
KNOWN_NATION_CODES: dict[str, str] = {
    BIRTH_NAME: "1.001193",
    LINKED_BIRTH_NAME: "1.000894",
    "Cấp giấy phép xây dựng mới đối với công trình cấp đặc biệt, cấp I, cấp II": "1.001612",
}


def expand(sectors: tuple[Sector, ...]) -> list[tuple[str, str]]:
    """Every ``(sector name, procedure name)`` of a sector list, in a fixed order."""
    out: list[tuple[str, str]] = []
    for sector, whole, objects, actions in sectors:
        out.extend((sector, name) for name in whole)
        for obj in objects:
            out.extend((sector, f"{action} {obj}") for action in actions)
    return out
