"""A scan of the test suite's log output for personal data and secrets (issue #5, part 6).

For the whole session a handler on the root logger sees every record of every logger (``lienthong.*``,
``connectors.*``, ``simulators.*``, libraries), at every level; the text that tests print (pytest's
captured stdout/stderr) and the output of every ``click.testing.CliRunner`` invocation are scanned
too, as are log files that tests register (:func:`add_log_file`: subprocesses, simulators run as
processes, Airflow components) and the text files under ``test-artifacts/``.  Each text is scanned
when it is produced (only the hits are kept, so memory stays flat), and at the end of the session
the report goes to ``test-artifacts/log-scan.txt``; a hit fails the session.

What counts as a hit:
- a **CCCD**: twelve digits shaped like one (a province code 001-096, then a gender/century digit 0-3),
  or any twelve-digit number right after an identity word (CCCD, SoDinhDanh, identityNumber, ...), or
  any value registered with :func:`add_sensitive` (e.g. the numbers a simulator generated);
- a **Vietnamese phone number**: ``0``/``84``/``+84`` then a mobile prefix (3, 5, 7, 8, 9) and 8 digits;
- a **secret**: the simulators' demo secrets, or a ``password=``/``client_secret=`` value (also in
  JSON form) that is not a mask such as ``***``.

A masked value (``083*******34``, ``0912***678``: :mod:`lienthong.masking`) is not a hit: its digit
run is broken.  Hits are shown masked in the report.  Not covered: output a subprocess writes to a pipe
its test reads and never logs or registers, and logs of processes the suite does not start.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lienthong.masking import mask_identity, mask_phone

DEMO_SECRETS = ("demo-secret-motcua", "demo-secret-dvcqg", "demo-secret-bhxh")

#: Not inside a word, and not the fraction of a decimal number ("took 0.0912345678 s").
_EDGE_L = r"(?<![0-9A-Za-z])(?<!\d\.)"
_EDGE_R = r"(?![0-9A-Za-z])"
#: A CCCD by its shape: province of birth 001-096, gender/century digit 0-3, year, six digits.
CCCD_SHAPE = re.compile(_EDGE_L + r"(0(?:0[1-9]|[1-8]\d|9[0-6])[0-3]\d{8})" + _EDGE_R)
#: Any twelve digits right after an identity word (quotes, colon, "=" in between).
CCCD_CONTEXT = re.compile(
    r"(?i)(?:cccd|cmnd|can\s*cuoc|căn\s*cước|so_?dinh_?danh|sodinhdanh|identity_?number|identitynumber"
    r"|madoituong|dinh\s*danh|định\s*danh)[\"'\s:=]{0,4}(\d{12})" + _EDGE_R
)
PHONE = re.compile(_EDGE_L + r"((?:\+84|84|0)[35789]\d{8})" + _EDGE_R)
#: A UUID (Airflow's task-instance and correlation ids in its access logs).  Its last group is twelve hex
#: digits, all decimal about once in 280 ids: a digit run inside a UUID is never a CCCD or a phone number.
UUID = re.compile(r"(?i)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SECRET_ASSIGNMENT = re.compile(
    r"""(?i)\b(password|passwd|client_secret|secret)["']?\s*[=:]\s*["']?([^\s"',;&)}\]]+)"""
)
#: Values of a secret assignment that are masks or placeholders, not secrets.
NOT_SECRET = re.compile(
    r"^(\*+|x+|<[^>]*>|\$\{?\w+\}?|%s|%\(\w+\)s|\{\w*\}|redacted|hidden|none|null|\.\.\.)$", re.I
)


#: Output that shows personal data on purpose, by (test node id, source prefix): an operator's explicit
#: opt-in.  Listed in the report as allowed, never counted as hits.
ALLOWED: dict[tuple[str, str], str] = {
    (
        "tests/integration/test_cli.py::test_mapping_test_prints_the_payload_or_the_errors",
        "cli",
    ): "`lienthong mapping test --unmask` prints the record's payload unmasked at the operator's request",
}


@dataclass(frozen=True)
class Hit:
    kind: str  # cccd | phone | secret
    shown: str  # the value, masked
    source: str  # log:<logger> | stdout | stderr | cli | file:<path>
    test: str  # the test that emitted it ("" outside a test)
    excerpt: str  # the surrounding text, with the value masked


def _mask_secret(value: str) -> str:
    return value[:2] + "*" * max(len(value) - 2, 1)


def scan_text(text: str, sensitive: Iterable[str] = ()) -> list[tuple[str, str, int, int]]:
    """Hits in one text as ``(kind, masked value, start, end)``; pure, used by the unit test."""
    found: dict[tuple[int, int], tuple[str, str]] = {}
    uuids = [match.span() for match in UUID.finditer(text)] if "-" in text else []

    def in_uuid(span: tuple[int, int]) -> bool:
        return any(start <= span[0] and span[1] <= end for start, end in uuids)

    for pattern in (CCCD_SHAPE, CCCD_CONTEXT):
        for match in pattern.finditer(text):
            if not in_uuid(match.span(1)):
                found[match.span(1)] = ("cccd", mask_identity(match.group(1)) or "")
    for match in PHONE.finditer(text):
        if match.span(1) not in found and not in_uuid(match.span(1)):
            found[match.span(1)] = ("phone", mask_phone(match.group(1)) or "")
    for secret in DEMO_SECRETS:
        for match in re.finditer(re.escape(secret), text):
            found[match.span()] = ("secret", _mask_secret(secret))
    for match in SECRET_ASSIGNMENT.finditer(text):
        value = match.group(2)
        if not NOT_SECRET.match(value) and "*" not in value:
            found[match.span(2)] = ("secret", f"{match.group(1)}={_mask_secret(value)}")
    for value in sensitive:
        if value:
            for match in re.finditer(_EDGE_L + re.escape(value) + _EDGE_R, text):
                found.setdefault(
                    match.span(), ("cccd" if value.isdigit() else "secret", mask_identity(value) or "")
                )
    return [(kind, shown, start, end) for (start, end), (kind, shown) in sorted(found.items())]


def _excerpt(text: str, start: int, end: int, shown: str) -> str:
    before, after = text[max(0, start - 60) : start], text[end : end + 60]
    return (before + shown + after).replace("\n", " ")


@dataclass
class Scanner:
    """Collects hits from every text it is given; thread-safe (delivery threads log concurrently)."""

    sensitive: set[str] = field(default_factory=set)
    files: list[Path] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    allowed: list[tuple[Hit, str]] = field(default_factory=list)
    texts: int = 0
    chars: int = 0
    test: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def scan(self, text: str, source: str, test: str | None = None) -> None:
        if not text:
            return
        found = scan_text(text, self.sensitive)
        with self._lock:
            self.texts += 1
            self.chars += len(text)
            for kind, shown, start, end in found:
                hit = Hit(
                    kind,
                    shown,
                    source,
                    self.test if test is None else test,
                    _excerpt(text, start, end, shown),
                )
                reason = _allowed(hit)
                if reason is not None:
                    self.allowed.append((hit, reason))
                elif len(self.hits) < 1000:
                    self.hits.append(hit)

    def scan_files(self, paths: Iterable[Path]) -> None:
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            self.scan(text, f"file:{path}", test="")

    def report(self) -> str:
        lines = [
            "log scan: personal data (CCCD, phone numbers) and secrets in the test suite's output",
            f"texts scanned: {self.texts} ({self.chars:,} characters); files: {len(self.files)}",
            f"hits: {len(self.hits)}",
        ]
        for hit in self.hits:
            lines.append(f"- {hit.kind} {hit.shown} in {hit.source} from {hit.test or '(outside a test)'}")
            lines.append(f"    …{hit.excerpt}…")
        if self.allowed:
            lines.append(f"allowed (shown on purpose, not hits): {len(self.allowed)}")
            for hit, reason in self.allowed[:50]:
                lines.append(f"- {hit.kind} {hit.shown} in {hit.source} from {hit.test}: {reason}")
        return "\n".join(lines) + "\n"


def _allowed(hit: Hit) -> str | None:
    for (test, source), reason in ALLOWED.items():
        if hit.test == test and hit.source.startswith(source):
            return reason
    return None


class ScanHandler(logging.Handler):
    """Formats every record (message, arguments, exception text) and hands it to the scanner."""

    def __init__(self, scanner: Scanner) -> None:
        super().__init__(level=logging.NOTSET)
        self.scanner = scanner
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.scanner.scan(self.format(record), f"log:{record.name}")
        except Exception:  # noqa: BLE001 - a scan must never break the code that logs
            self.handleError(record)


#: The session's scanner (set by the plugin); tests use the two functions below.
ACTIVE: Scanner | None = None


def add_log_file(path: str | Path) -> None:
    """Scan this file at the end of the session (a subprocess's or a server's log)."""
    if ACTIVE is not None:
        ACTIVE.files.append(Path(path))


def add_sensitive(*values: str) -> None:
    """Values that must never appear in any output (e.g. the identity numbers a simulator generated)."""
    if ACTIVE is not None:
        ACTIVE.sensitive.update(v for v in values if v)


ARTIFACT_SUFFIXES = (".log", ".txt", ".html", ".json", ".out", ".err")


class LogScanPlugin:
    """The pytest side: install the handler for the session, attribute texts to tests, report at the end.

    Under pytest-xdist each worker scans what it runs and writes ``log-scan-<worker>.txt``; the
    controller scans the artifacts, merges the workers' reports and decides.
    """

    def __init__(self, artifacts: Path) -> None:
        self.artifacts = artifacts
        self.scanner = Scanner()
        self.handler = ScanHandler(self.scanner)
        self._old_level = logging.WARNING
        self._old_invoke = None
        self._hits_reported = 0
        self._worker_texts = 0  # texts the xdist workers scanned (from their reports)

    # --- session ---------------------------------------------------------------------------------
    def pytest_sessionstart(self, session) -> None:  # noqa: ANN001
        global ACTIVE
        ACTIVE = self.scanner
        self._old_level = logging.getLogger().level
        self._attach()
        self._patch_cli_runner()

    def _attach(self) -> None:
        """(Re)install the handler on the root logger at DEBUG.  Airflow's logging configuration
        (run when a DAG is tested or parsed) replaces the root handlers and level: without this the
        rest of the session would go unscanned."""
        root = logging.getLogger()
        root.setLevel(logging.DEBUG)  # every level reaches the handler (and pytest's own capture)
        if self.handler not in root.handlers:
            root.addHandler(self.handler)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item):  # noqa: ANN001, ANN201
        self._attach()
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):  # noqa: ANN001, ANN201
        self._attach()  # a fixture may have configured logging
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item):  # noqa: ANN001, ANN201
        self._attach()
        return (yield)

    def _patch_cli_runner(self) -> None:
        from click.testing import CliRunner

        scanner, original = self.scanner, CliRunner.invoke
        self._old_invoke = original

        def invoke(runner, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            result = original(runner, *args, **kwargs)
            scanner.scan(result.output, "cli")
            try:
                scanner.scan(result.stderr, "cli:stderr")
            except ValueError:  # stderr not captured separately (older click)
                pass
            return result

        CliRunner.invoke = invoke  # type: ignore[method-assign]

    def pytest_runtest_logstart(self, nodeid: str, location) -> None:  # noqa: ANN001
        self.scanner.test = nodeid

    def pytest_runtest_logfinish(self, nodeid: str, location) -> None:  # noqa: ANN001
        self.scanner.test = ""

    def pytest_runtest_logreport(self, report) -> None:  # noqa: ANN001
        self.scanner.scan(report.capstdout, "stdout", test=report.nodeid)
        self.scanner.scan(report.capstderr, "stderr", test=report.nodeid)

    def pytest_sessionfinish(self, session) -> None:  # noqa: ANN001
        global ACTIVE
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self._old_level)
        if self._old_invoke is not None:
            from click.testing import CliRunner

            CliRunner.invoke = self._old_invoke  # type: ignore[method-assign]
        ACTIVE = None
        worker = _xdist_worker(session.config)
        self.artifacts.mkdir(parents=True, exist_ok=True)
        if worker:
            (self.artifacts / f"log-scan-{worker}.txt").write_text(self.scanner.report(), encoding="utf-8")
            return
        self.scanner.scan_files(self.scanner.files)
        self.scanner.scan_files(
            path
            for path in sorted(self.artifacts.rglob("*"))
            if path.is_file() and path.suffix in ARTIFACT_SUFFIXES and not path.name.startswith("log-scan")
        )
        report = self.scanner.report()
        for part in sorted(self.artifacts.glob("log-scan-gw*.txt")):
            text = part.read_text(encoding="utf-8")
            report += f"\n--- {part.name}\n{text}"
            self._hits_reported += int(re.search(r"^hits: (\d+)$", text, re.M).group(1))  # type: ignore[union-attr]
            self._worker_texts += int(re.search(r"^texts scanned: (\d+)", text, re.M).group(1))  # type: ignore[union-attr]
            part.unlink()
        self._hits_reported += len(self.scanner.hits)
        (self.artifacts / "log-scan.txt").write_text(report, encoding="utf-8")
        if self._hits_reported and session.exitstatus == 0:
            session.exitstatus = 1

    def pytest_terminal_summary(self, terminalreporter) -> None:  # noqa: ANN001
        if _xdist_worker(terminalreporter.config):
            return
        path = self.artifacts / "log-scan.txt"
        if self._hits_reported:
            terminalreporter.section("log scan: personal data or secrets in the output", red=True)
            for hit in self.scanner.hits[:30]:
                terminalreporter.line(
                    f"{hit.kind} {hit.shown} in {hit.source} from {hit.test or '(outside a test)'}"
                )
            terminalreporter.line(f"{self._hits_reported} hit(s); full report: {path}")
        else:
            terminalreporter.line(
                f"log scan: no personal data or secrets in {self.scanner.texts + self._worker_texts} texts "
                f"({path})"
            )


def _xdist_worker(config) -> str | None:  # noqa: ANN001
    return getattr(config, "workerinput", {}).get("workerid")
