"""The error hierarchy: what each error says, carries, and how it survives a trip between processes."""

from __future__ import annotations

import pickle

import pytest

from lienthong.errors import (
    ConfigError,
    DeliveryError,
    FatalError,
    FieldError,
    LienthongError,
    MappingError,
    RecordError,
    RetriableError,
)


def test_hierarchy_groups_errors_by_what_the_caller_does_next() -> None:
    assert issubclass(MappingError, RecordError)
    for cls in (ConfigError, RecordError, RetriableError, FatalError):
        assert issubclass(cls, LienthongError)
    assert issubclass(RetriableError, DeliveryError) and issubclass(FatalError, DeliveryError)
    assert not issubclass(FatalError, RetriableError)


def test_mapping_error_reads_route_record_field_rule() -> None:
    error = MappingError(
        "dossier_sync",
        "000.00.12.H07-250114-0042",
        [FieldError("DinhDanhCHS[0].SoDinhDanh", "length", "expected 12 characters, got 11")],
    )
    assert str(error) == (
        "route dossier_sync, record 000.00.12.H07-250114-0042: "
        "field DinhDanhCHS[0].SoDinhDanh, rule length: expected 12 characters, got 11"
    )
    assert error.route == "dossier_sync" and error.record_key == "000.00.12.H07-250114-0042"
    assert error.errors[0].rule == "length"


def test_mapping_error_lists_every_field_error() -> None:
    errors = [
        FieldError("A", "required", "is required but missing"),
        FieldError("B", "phone", "not a valid phone number"),
    ]
    text = str(MappingError("r", "k", errors))
    assert "field A, rule required" in text and "field B, rule phone" in text


def test_config_error_names_file_and_path() -> None:
    error = ConfigError(
        "unknown key 'fmt'", path="fields.NgayHenTra.then[0].datetime.fmt", file="mappings/x.yaml"
    )
    assert str(error) == "mappings/x.yaml: fields.NgayHenTra.then[0].datetime.fmt: unknown key 'fmt'"
    assert ConfigError("plain").path is None


def test_delivery_errors_carry_target_status_and_record_key() -> None:
    error = RetriableError("portal busy", target="dvcqg", status=503, record_key="K1", retry_after=2.5)
    assert (error.target, error.status, error.record_key, error.retry_after) == ("dvcqg", 503, "K1", 2.5)
    assert str(error) == "target dvcqg, status 503, record K1: portal busy"
    fatal = FatalError("soap:Client fault", target="bhxh", status="soap:Client")
    assert str(fatal) == "target bhxh, status soap:Client: soap:Client fault"


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("bad", path="a.b", file="f.yaml"),
        RecordError("bad record", route="r", record_key="k"),
        MappingError("r", "k", [FieldError("A", "rule", "message")]),
        RetriableError("later", target="t", status=503, record_key="k", retry_after=1.0),
        FatalError("never", target="t", status=400, record_key="k"),
    ],
)
def test_errors_pickle_with_their_attributes(error: Exception) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)
