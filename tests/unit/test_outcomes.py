"""The run outcome vocabulary and the configuration-fault streak, as pure units."""

from __future__ import annotations

from lienthong import outcomes
from lienthong.outcomes import TargetTally, assess, decide, endpoint_of, exit_code
from lienthong.pipeline.config_faults import StreakWatch, normalise


def test_endpoint_names_scheme_host_and_port_never_credentials_or_path():
    assert endpoint_of("http://user:secret@10.0.0.5:8080/api/service?x=1") == "http://10.0.0.5:8080"
    assert endpoint_of("https://lgsp.example.gov.vn/dvcqg") == "https://lgsp.example.gov.vn:443"


def test_a_target_with_work_and_no_answered_call_fails_the_run_even_with_rows_retry_scheduled():
    down = TargetTally("dvcqg", "http://127.0.0.1:9", rows=40)
    down.failed(outcomes.UNREACHABLE, "dvcqg.DongBoHoSoMC: connection failed (ConnectionError)")
    (finding,) = assess({"dvcqg": down}, {"dvcqg": 40})
    assert finding.status == outcomes.FAILED and finding.left == 40
    assert str(finding).startswith("target dvcqg (http://127.0.0.1:9): 40 rows left pending: unreachable")
    verdict = decide([finding])
    assert verdict.status == outcomes.FAILED and exit_code(verdict.status) == 4


def test_a_breaker_that_opened_after_answers_is_partial_and_a_retry_behind_an_answering_target_is_not():
    tally = TargetTally("dvcqg", "http://h:1", rows=60, answered=2, calls_failed=5, breaker_blocked=True)
    (finding,) = assess({"dvcqg": tally}, {"dvcqg": 45})
    assert finding.status == outcomes.PARTIAL and "breaker open" in finding.reason
    assert decide([finding]).status == outcomes.PARTIAL and exit_code(outcomes.PARTIAL) == 5
    answering = TargetTally("dvcqg", "http://h:1", rows=60, answered=3, calls_failed=1)
    assert assess({"dvcqg": answering}, {"dvcqg": 2}) == []  # a retry it owns: succeeded
    assert decide([]).status == outcomes.SUCCEEDED and exit_code(outcomes.SUCCEEDED) == 0


def test_interrupt_and_error_override_and_exit_codes_are_distinct():
    assert decide([], interrupted="interrupted (SIGTERM)").status == outcomes.INTERRUPTED
    assert decide([], error="ValueError: x").status == outcomes.FAILED
    assert exit_code(outcomes.SUCCEEDED, ["does not add up"]) == 3
    assert exit_code(outcomes.FAILED, ["does not add up"]) == 4
    codes = [
        exit_code(s) for s in (outcomes.SUCCEEDED, outcomes.FAILED, outcomes.PARTIAL, outcomes.INTERRUPTED)
    ]
    assert len(set(codes + [1, 2, 3])) == 7


def test_messages_that_differ_only_by_record_values_normalise_alike():
    a = normalise("Hồ sơ 000.00.12.H07-250114-0042: trường 'NgayHenTra' sai định dạng  ")
    b = normalise("Hồ sơ 000.00.12.H07-250114-0043: trường 'X' sai định dạng")
    assert a == b and "sai định dạng" in a


def test_a_streak_of_different_records_refused_alike_trips_and_an_acknowledgement_resets_it():
    watch = StreakWatch({"dvcqg": 3})
    refuse = "Trường madonvi: không đúng mã đơn vị của tài khoản"
    assert watch.observe("dvcqg", "Op", 1, "K1", False, "-1", refuse) is None
    assert watch.observe("dvcqg", "Op", 2, "K1", False, "-1", refuse) is None  # same record: not "different"
    assert watch.observe("dvcqg", "Op", 3, "K2", True, "0", "") is None  # an acknowledgement resets
    assert watch.observe("dvcqg", "Op", 4, "K3", False, "-1", refuse) is None
    assert watch.observe("dvcqg", "Op", 5, "K4", False, "-2", "other") is None  # another answer: new streak
    assert watch.observe("dvcqg", "Op", 6, "K5", False, "-2", "other") is None
    assert watch.observe("dvcqg", "Op", 7, "K6", False, "-2", "other") == [5, 6, 7]
    assert watch.stopped("dvcqg") and watch.held["dvcqg"] == {5, 6, 7}
    assert StreakWatch({"dvcqg": 0}).observe("dvcqg", "Op", 1, "K", False, "-1", refuse) is None  # off


def test_a_breaker_time_in_the_past_is_not_announced_as_until():
    from datetime import timedelta

    from lienthong.clock import utcnow
    from lienthong.pipeline.deliver import BreakerOpen

    assert (
        str(BreakerOpen("dvcqg", utcnow() - timedelta(seconds=23)))
        == "circuit open for dvcqg (a probe call is due)"
    )
    assert "until" in str(BreakerOpen("dvcqg", utcnow() + timedelta(seconds=30)))
