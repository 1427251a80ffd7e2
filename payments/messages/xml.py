"""Reading untrusted XML: one hardened lxml parser, a size limit, no DOCTYPE, and XSDs compiled once per process.

Banks send us ISO 20022 documents over the network; a document that declares a DTD can ask the parser to read
files (XXE), fetch URLs or expand entities exponentially (billion laughs). The parser below resolves no entity,
loads no DTD and touches no network, and any document carrying a DOCTYPE is refused before it is parsed.
"""

import re
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from lxml import etree

from deltran.errors import DomainError

ISO_NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:(?P<name>[a-z]{4}\.\d{3}\.\d{3}\.\d{2})$")
# "<!DOCTYPE" in any letter case, and in the two-byte encodings an attacker may pick to hide it from a byte scan.
_DOCTYPE_MARKS = [
    mark
    for text in ("<!DOCTYPE", "<!doctype", "<!ENTITY", "<!entity")
    for mark in (text.encode(), text.encode("utf-16-le"), text.encode("utf-16-be"))
]


class MessageRefused(DomainError):
    """The bytes are not a document we will read: too large, not XML, DTD or entities, not the expected kind."""

    code = "message_refused"


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


def max_message_bytes() -> int:
    return settings.ISO20022_MAX_MESSAGE_BYTES


def xml_parse(raw: bytes) -> etree._Element:
    """The root element of a document, or MessageRefused with a stable code (never an entity expanded)."""
    limit = max_message_bytes()
    if len(raw) > limit:
        raise MessageRefused(f"The message is larger than {limit} bytes.", code="payload_too_large")
    if not raw.strip():
        raise MessageRefused("The message is empty.", code="malformed_xml")
    upper_head = raw.upper()
    if any(mark.upper() in upper_head for mark in _DOCTYPE_MARKS):
        raise MessageRefused(
            "Documents with a DOCTYPE or entity declarations are not accepted.", code="doctype_forbidden"
        )
    try:
        root = etree.fromstring(raw, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise MessageRefused(f"The message is not well-formed XML: {exc}", code="malformed_xml") from exc
    # A second guard behind the byte scan: whatever the encoding, a parsed DOCTYPE is refused.
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise MessageRefused(
            "Documents with a DOCTYPE or entity declarations are not accepted.", code="doctype_forbidden"
        )
    return root


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def iso_message_name(element: etree._Element) -> str | None:
    """'pacs.008.001.08' for an element in that ISO 20022 namespace, else None."""
    namespace = etree.QName(element).namespace or ""
    match = ISO_NAMESPACE.match(namespace)
    return match.group("name") if match else None


def find_document(root: etree._Element, family: str) -> etree._Element | None:
    """The ISO 20022 Document of a message family ('pacs.008'), as sent bare or inside an envelope with a header."""
    candidates = [root] if local_name(root) == "Document" else root.iter("{*}Document")
    for element in candidates:
        name = iso_message_name(element)
        if name and name.startswith(family + "."):
            return element
    return None


def xsd_dir() -> Path | None:
    configured = getattr(settings, "ISO20022_XSD_DIR", "")
    return Path(configured) if configured else None


@lru_cache(maxsize=64)
def _schema(path: str) -> etree.XMLSchema:
    # The schema files are ours (configured), but they are read with the same no-network, no-entity parser.
    return etree.XMLSchema(etree.parse(path, parser=_parser()))


def xsd_for(message_name: str) -> etree.XMLSchema | None:
    """The compiled schema of 'pacs.008.001.08' from ISO20022_XSD_DIR (cached per process), None when absent."""
    base = xsd_dir()
    if base is None:
        return None
    family = message_name.rsplit(".", 2)[0]
    path = base / family / f"{message_name}.xsd"
    if not path.is_file():
        return None
    return _schema(str(path))


def xsd_errors(schema: etree.XMLSchema, document: etree._Element) -> list[tuple[str, str]]:
    """(element path, message) of each schema violation of the document (the Document element as root)."""
    if document.getparent() is not None:
        # Validate the Document alone: envelopes and headers belong to other schemas.
        document = etree.fromstring(etree.tostring(document), parser=_parser())
    if schema.validate(document):
        return []
    tree = document.getroottree()
    found = []
    for error in schema.error_log:
        message = re.sub(r"\{[^}]*\}", "", error.message)
        found.append((_readable_path(tree, error.path), f"line {error.line}: {message}"))
    return found


def element_path(element: etree._Element) -> str:
    """'/Document/FIToFICstmrCdtTrf/CdtTrfTxInf[2]/CdtrAgt' for an element: local names, position when repeated."""
    steps = []
    while element is not None:
        name = local_name(element)
        parent = element.getparent()
        if parent is not None:
            same = [sibling for sibling in parent if isinstance(sibling.tag, str) and local_name(sibling) == name]
            if len(same) > 1:
                name += f"[{same.index(element) + 1}]"
        steps.append(name)
        element = parent
    return "/" + "/".join(reversed(steps))


def _readable_path(tree, xpath: str | None) -> str:
    try:
        hits = tree.xpath(xpath) if xpath else []
    except etree.XPathError:
        hits = []
    if hits and isinstance(hits[0], etree._Element):
        return element_path(hits[0])
    return "/Document"
