"""SOAP 1.1 plumbing of the BHXH simulator: safe parsing, envelopes and faults.

Why a hand-written envelope layer instead of a SOAP server library: the simulator must behave like the
real registry at the edges a gateway trips over (a DOCTYPE refused before anything is parsed, a body
size limit, faults whose ``detail`` names the field), and those edges are exactly what server libraries
hide.  Everything here is pure (bytes in, bytes or elements out) so it is cheap to test.

Parsing follows the project rule for XML from outside: lxml with entity resolution, network access and
DTD loading off, ``huge_tree`` off, and any document that carries a DOCTYPE refused outright, so neither
an entity expansion ("billion laughs") nor an external entity (XXE) is ever attempted.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
TNS = "http://baohiemxahoi.gov.vn/theBHYT/v1"
CONTENT_TYPE = "text/xml; charset=utf-8"

#: Faultstring of a refused DOCTYPE (the brief's wording, kept stable for clients and tests).
DTD_REFUSED = "DTD không được phép"

# A DOCTYPE written in UTF-8/ASCII, UTF-16 LE or UTF-16 BE: refused before the parser sees it.
_DOCTYPE_MARKERS = tuple("<!DOCTYPE".encode(enc) for enc in ("ascii", "utf-16-le", "utf-16-be"))


class SoapFault(Exception):
    """A SOAP 1.1 fault to answer.

    ``code`` is the local part of the faultcode (``Client``, ``Server``, ``VersionMismatch``,
    ``MustUnderstand``).  ``errors`` is a list of ``(field path or None, message)``; the first one is
    the faultstring, every one becomes a ``LoiDuLieu`` element in ``detail`` so a client can read the
    field without parsing text.  ``status`` is the HTTP status (500 for every fault, as SOAP 1.1 over
    HTTP requires, except a body that is too large: 413).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        error_code: str,
        field: str | None = None,
        status: int = 500,
        errors: list[tuple[str | None, str]] | None = None,
    ) -> None:
        self.code = code
        self.error_code = error_code
        self.status = status
        self.errors = errors or [(field, message)]
        super().__init__(self.faultstring)

    @property
    def field(self) -> str | None:
        return self.errors[0][0]

    @property
    def faultstring(self) -> str:
        field, message = self.errors[0]
        text = f"{field}: {message}" if field else message
        if len(self.errors) > 1:
            text += f" (và {len(self.errors) - 1} lỗi khác)"
        return text


def client_fault(message: str, error_code: str, field: str | None = None, status: int = 500) -> SoapFault:
    return SoapFault("Client", message, error_code=error_code, field=field, status=status)


def server_fault(message: str, error_code: str) -> SoapFault:
    return SoapFault("Server", message, error_code=error_code)


@dataclass
class Envelope:
    """A parsed request: the optional ``soap:Header`` and the single element inside ``soap:Body``."""

    header: etree._Element | None
    payload: etree._Element

    @property
    def operation(self) -> etree.QName:
        return etree.QName(self.payload)


def _safe_parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )


def parse_envelope(body: bytes, max_bytes: int, understood_headers: frozenset[str] = frozenset()) -> Envelope:
    """Parse a SOAP 1.1 request safely, or raise the :class:`SoapFault` a real endpoint would answer.

    ``understood_headers`` are the Clark names of header blocks this endpoint processes; any other
    header block marked ``mustUnderstand="1"`` is refused, as SOAP 1.1 section 4.2.3 requires.
    """
    if len(body) > max_bytes:
        raise client_fault(f"thông điệp vượt quá giới hạn {max_bytes} byte", "THONG_DIEP_QUA_LON", status=413)
    if not body.strip():
        raise client_fault("thông điệp rỗng", "LOI_XML")
    if any(marker in body for marker in _DOCTYPE_MARKERS):
        raise client_fault(DTD_REFUSED, "DTD_KHONG_DUOC_PHEP")
    try:
        root = etree.fromstring(body, parser=_safe_parser())
    except etree.XMLSyntaxError as exc:
        # The parser message names tags and positions, never element content.
        raise client_fault(f"XML không hợp lệ ({exc.msg})", "LOI_XML") from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise client_fault(DTD_REFUSED, "DTD_KHONG_DUOC_PHEP")

    tag = etree.QName(root)
    if tag.localname == "Envelope" and tag.namespace == SOAP12_ENV:
        raise SoapFault("VersionMismatch", "chỉ hỗ trợ SOAP 1.1", error_code="SAI_PHIEN_BAN_SOAP")
    if tag.localname != "Envelope" or tag.namespace != SOAP_ENV:
        raise client_fault("phần tử gốc phải là soap:Envelope (SOAP 1.1)", "LOI_XML")

    header = root.find(f"{{{SOAP_ENV}}}Header")
    if header is not None:  # header blocks are processed before the body (SOAP 1.1, 4.2.3)
        _check_must_understand(header, understood_headers)
    body_element = root.find(f"{{{SOAP_ENV}}}Body")
    if body_element is None:
        raise client_fault("thiếu soap:Body", "LOI_XML")
    payload = [child for child in body_element if isinstance(child.tag, str)]
    if len(payload) != 1:
        raise client_fault("soap:Body phải chứa đúng một phần tử", "LOI_XML")
    return Envelope(header=header, payload=payload[0])


def _check_must_understand(header: etree._Element, understood: frozenset[str]) -> None:
    for block in header:
        if not isinstance(block.tag, str) or block.tag in understood:
            continue
        if block.get(f"{{{SOAP_ENV}}}mustUnderstand") in ("1", "true"):
            raise SoapFault(
                "MustUnderstand",
                f"không xử lý được khối header {etree.QName(block).localname}",
                error_code="HEADER_KHONG_HO_TRO",
            )


def _serialise(envelope: etree._Element) -> bytes:
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")


def response_envelope(payload: etree._Element) -> bytes:
    """Wrap one response element (built with :func:`tns`) in a SOAP 1.1 envelope."""
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV, "tns": TNS})
    etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body").append(payload)
    return _serialise(envelope)


def fault_envelope(fault: SoapFault) -> bytes:
    """The SOAP 1.1 fault for ``fault``: unqualified faultcode/faultstring/detail, as the spec has them."""
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap": SOAP_ENV})
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    node = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(node, "faultcode").text = f"soap:{fault.code}"
    etree.SubElement(node, "faultstring").text = fault.faultstring
    detail = etree.SubElement(node, "detail", nsmap={"tns": TNS})
    for field, message in fault.errors:
        error = etree.SubElement(detail, f"{{{TNS}}}LoiDuLieu")
        etree.SubElement(error, f"{{{TNS}}}maLoi").text = fault.error_code
        if field:
            etree.SubElement(error, f"{{{TNS}}}truongDuLieu").text = field
        etree.SubElement(error, f"{{{TNS}}}moTa").text = message
    return _serialise(envelope)


def tns(name: str, children: dict[str, object] | None = None) -> etree._Element:
    """Build ``tns:name`` with child elements from a dict (``None`` values are left out, dicts nest).

    Booleans become ``true``/``false`` (xs:boolean); everything else is written with ``str``.
    """
    element = etree.Element(f"{{{TNS}}}{name}", nsmap={"tns": TNS})
    _fill(element, children or {})
    return element


def _fill(parent: etree._Element, children: dict[str, object]) -> None:
    for key, value in children.items():
        if value is None:
            continue
        child = etree.SubElement(parent, f"{{{TNS}}}{key}")
        if isinstance(value, dict):
            _fill(child, value)
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        else:
            child.text = str(value)
