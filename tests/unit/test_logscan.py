"""The log scanner (tests/logscan.py) catches planted CCCD numbers, phone numbers and secrets, and lets
masked forms, dates, dossier codes and source ids through.  Planted values are built at run time and
never logged, so the session's own scan stays clean."""

from __future__ import annotations

import logging

from click.testing import CliRunner

from lienthong.masking import mask_identity, mask_phone, mask_text
from tests import logscan
from tests.logscan import ScanHandler, Scanner, scan_text

CCCD = "083" + "1" + "85" + "001234"  # Bến Tre, male, born 1985
PHONE = "09" + "12345678"


def kinds(text: str, sensitive=()) -> list[str]:  # noqa: ANN001
    return [kind for kind, *_ in scan_text(text, sensitive)]


def test_planted_personal_data_and_secrets_are_caught():
    assert kinds(f"quarantined: field SoDinhDanh value {CCCD}") == ["cccd"]
    assert kinds(f'{{"identityNumber": "{CCCD}"}}') == ["cccd"]
    assert kinds("CCCD: " + "9" * 12) == ["cccd"]  # any 12 digits after an identity word
    assert kinds(f"ĐT {PHONE}; +84{PHONE[1:]}; 84{PHONE[1:]}") == ["phone", "phone", "phone"]
    assert kinds("token request with client_secret=" + "demo-secret-" + "motcua") == ["secret"]
    assert kinds("login password=" + "hunter2" + " ok") == ["secret"]
    assert kinds('{"password": "' + "s3cr3t" + '"}') == ["secret"]
    assert kinds("refused card of 1234567", sensitive=["1234567"]) == ["cccd"]


def test_masked_forms_and_ordinary_numbers_are_not_hits():
    assert kinds(mask_text(f"citizen {CCCD} phone {PHONE}")) == []
    assert kinds(f"{mask_identity(CCCD)} {mask_phone(PHONE)}") == []
    assert kinds("NgayHenTra 20250115170000, at 202501021234 (a yyyyMMddHHmm stamp)") == []
    assert kinds("record 000.00.12.H07-250114-0042, id 6571c0de0000000000000000, 75000 VND") == []
    assert kinds("password=*** client_secret=<hidden> password=%s") == []
    assert kinds("dossier " + "0831850012345") == []  # 13 digits: not a CCCD (the mapping rejects it)
    # Airflow's access log: a task-instance UUID whose last group happens to be all digits (CI hit it).
    assert kinds("path=/execution/task-instances/01a22765-6334-7a2a-a95e-" + CCCD + "/run") == []
    assert kinds("elapsed=0." + PHONE + " s, ratio 1." + CCCD) == []  # fractions of decimal numbers
    assert kinds("ti_id=01A22765-6334-7A2A-A95E-" + CCCD + " then " + CCCD) == ["cccd"]  # outside: a hit


def test_hits_are_reported_masked_with_the_emitting_test():
    scanner = Scanner()
    scanner.test = "tests/x.py::test_leaky"
    handler = ScanHandler(scanner)
    logger = logging.getLogger("lienthong.test.logscan")
    record = logger.makeRecord(logger.name, logging.DEBUG, __file__, 1, "payload %s", (CCCD,), None)
    handler.handle(record)  # straight to the handler: the planted value never reaches the real logs
    assert [(h.kind, h.shown, h.source, h.test) for h in scanner.hits] == [
        ("cccd", mask_identity(CCCD), "log:lienthong.test.logscan", "tests/x.py::test_leaky")
    ]
    report = scanner.report()
    assert CCCD not in report and mask_identity(CCCD) in report and "tests/x.py::test_leaky" in report


def test_files_registered_by_tests_are_scanned(tmp_path):
    log = tmp_path / "worker.log"
    log.write_text(f"INFO sent {PHONE}\n", encoding="utf-8")
    scanner = Scanner()
    scanner.scan_files([log])
    assert [h.kind for h in scanner.hits] == ["phone"] and PHONE not in scanner.report()


def test_the_session_scanner_is_active_and_sees_cli_output():
    """The plugin is installed for this session: CLI output goes through the scanner."""
    assert logscan.ACTIVE is not None
    before = logscan.ACTIVE.texts
    import click

    @click.command()
    def hello() -> None:
        click.echo("xin chào")

    assert CliRunner().invoke(hello).output == "xin chào\n"
    assert logscan.ACTIVE.texts > before
