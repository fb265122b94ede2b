"""Connections from AIRFLOW_CONN_* (JSON and URI), templates, and personal-data masking."""

from __future__ import annotations

import logging

import pytest

from connectors.targets.templates import render
from lienthong.connections import get_connection, parse_connection
from lienthong.errors import ConfigError
from lienthong.masking import MaskingFilter, mask_identity, mask_phone, mask_text


def test_json_connection_and_base_url():
    conn = parse_connection(
        "dvcqg",
        '{"conn_type": "http", "host": "127.0.0.1", "port": 8082, "login": "u", "password": "s3cr3t-value", "extra": {"dstcode": "83"}}',
    )
    assert conn.base_url == "http://127.0.0.1:8082"
    assert conn.extra == {"dstcode": "83"}
    assert "s3cr3t-value" not in repr(conn)


def test_host_with_scheme_and_uri_form():
    assert (
        parse_connection("x", '{"host": "https://lgsp.bentre.gov.vn/dvcqg"}').base_url
        == "https://lgsp.bentre.gov.vn/dvcqg"
    )
    conn = parse_connection("x", "https://user:s%40cret@api.example.vn:8443/base?dstcode=83")
    assert (conn.base_url, conn.login, conn.password, conn.extra) == (
        "https://api.example.vn:8443/base",
        "user",
        "s@cret",
        {"dstcode": "83"},
    )


def test_missing_connection_names_the_variable():
    with pytest.raises(ConfigError, match="AIRFLOW_CONN_NOWHERE"):
        get_connection("nowhere", environ={})


def test_templates_keep_types_of_whole_placeholders():
    context = {"items": [1, 2], "conn": {"extra": {"madonvi": "000.00.00.H07"}}, "token": "abc"}
    body = render(
        {"data": "${items}", "madonvi": "${conn.extra.madonvi}", "auth": "Bearer ${token}"}, context
    )
    assert body == {"data": [1, 2], "madonvi": "000.00.00.H07", "auth": "Bearer abc"}
    with pytest.raises(ConfigError, match="nothing named 'nope'"):
        render("${conn.nope}", context)


def test_masking_of_identity_and_phone_numbers():
    assert mask_identity("083185001234") == "083*******34"
    assert mask_phone("0912345678") == "0912***678"
    text = mask_text("CCCD 083185001234, ĐT +84912345678, hồ sơ 000.00.12.H07-250114-0042, phí 75000")
    assert "083185001234" not in text and "912345678" not in text
    assert "000.00.12.H07-250114-0042" in text and "75000" in text


def test_log_filter_masks_arguments(caplog):
    logger = logging.getLogger("lienthong.test.masking")
    logger.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger="lienthong.test.masking"):
        logger.info("citizen %s called from %s", "083185001234", "0912345678")
    assert "083185001234" not in caplog.text and "0912345678" not in caplog.text
    assert "083*******34" in caplog.text
