"""The audit trail: an append-only, hash-chained ledger of every step of every record, an encrypted
payload archive, signed checkpoints of the chain head, and the verifier an auditor runs.

Entry points that other parts of the product use (kept import-light: the store's models import
:mod:`lienthong.audit.sealing`):

- :func:`verify_ledger` (``lienthong.audit.verify``) and :func:`last_verification`;
- :func:`attach` (``lienthong.audit.config``): a gateway's settings for its store.
"""

from __future__ import annotations

from typing import Any


def verify_ledger(store, **kwargs: Any):  # noqa: ANN001, ANN201
    from lienthong.audit.verify import verify_ledger as _verify

    return _verify(store, **kwargs)


def last_verification(store) -> dict[str, Any] | None:  # noqa: ANN001
    from lienthong.audit.verify import last_verification as _last

    return _last(store)


def attach(store, settings) -> None:  # noqa: ANN001
    from lienthong.audit.config import attach as _attach

    _attach(store, settings)
