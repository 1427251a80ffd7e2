"""ISO 20022 pacs.002 (FI to FI payment status report), version 001.10: the answer to a pacs.008.

Group status and one TxInfAndSts per transaction: ACSP (accepted, settlement in process), ACSC (settled), PDNG
(held for compliance or waiting for liquidity), RJCT with an ExternalStatusReason1Code and the element path and
rule in AddtlInf.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree
from lxml.builder import ElementMaker

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10"
MESSAGE_NAME = "pacs.002.001.10"
E = ElementMaker(namespace=NAMESPACE, nsmap={None: NAMESPACE})
ADDITIONAL_INFO_MAX = 105
UETR = re.compile(r"[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}")


@dataclass
class TransactionStatus:
    """What became of one transaction of the original message."""

    index: int
    status: str  # ACSP, ACSC, PDNG, RJCT
    end_to_end_id: str = ""
    instr_id: str = ""
    tx_id: str = ""
    uetr: str = ""
    payment_id: str = ""
    reasons: list[tuple[str, str]] = field(default_factory=list)  # (ISO reason code, additional information)


def group_status(statuses: list[str]) -> str:
    """All alike: that status; otherwise PART (some accepted, others not, or not yet)."""
    distinct = set(statuses)
    if len(distinct) == 1:
        return distinct.pop()
    return "PART" if statuses else "RJCT"


def _text(value: str, limit: int) -> str:
    return value[:limit]


def _reason(code: str, info: str):
    children = [E.Rsn(E.Cd(code))]
    for start in range(0, min(len(info), ADDITIONAL_INFO_MAX * 2), ADDITIONAL_INFO_MAX):
        children.append(E.AddtlInf(info[start : start + ADDITIONAL_INFO_MAX]))
    return E.StsRsnInf(*children)


def pacs002_render(
    *,
    report_id: str,
    created_at: datetime,
    original_msg_id: str,
    original_message_name: str,
    original_created_at: str,
    original_nb_of_txs: int,
    transactions: list[TransactionStatus],
    group_reasons: list[tuple[str, str]] = (),
) -> bytes:
    """The pacs.002 document, UTF-8 with its declaration."""
    statuses = [tx.status for tx in transactions]
    status = "RJCT" if group_reasons else group_status(statuses)
    original_group = [E.OrgnlMsgId(_text(original_msg_id or "UNKNOWN", 35)), E.OrgnlMsgNmId(original_message_name)]
    if original_created_at:
        original_group.append(E.OrgnlCreDtTm(original_created_at))
    original_group.append(E.OrgnlNbOfTxs(str(original_nb_of_txs)))
    original_group.append(E.GrpSts(status))
    original_group.extend(_reason(code, info) for code, info in group_reasons)
    counts: dict[str, int] = {}
    for tx_status in statuses:
        counts[tx_status] = counts.get(tx_status, 0) + 1
    original_group.extend(
        E.NbOfTxsPerSts(E.DtldNbOfTxs(str(count)), E.DtldSts(name)) for name, count in sorted(counts.items())
    )
    rows = []
    for tx in transactions:
        children = [E.StsId(_text(tx.payment_id.replace("-", "")[:35], 35))] if tx.payment_id else []
        if tx.instr_id:
            children.append(E.OrgnlInstrId(_text(tx.instr_id, 35)))
        if tx.end_to_end_id:
            children.append(E.OrgnlEndToEndId(_text(tx.end_to_end_id, 35)))
        if tx.tx_id:
            children.append(E.OrgnlTxId(_text(tx.tx_id, 35)))
        if tx.uetr and _is_uetr(tx.uetr):
            children.append(E.OrgnlUETR(tx.uetr))
        children.append(E.TxSts(tx.status))
        children.extend(_reason(code, info) for code, info in tx.reasons)
        if tx.status != "RJCT":
            children.append(E.AccptncDtTm(created_at.isoformat(timespec="seconds")))
        rows.append(E.TxInfAndSts(*children))
    document = E.Document(
        E.FIToFIPmtStsRpt(
            E.GrpHdr(E.MsgId(report_id[:35]), E.CreDtTm(created_at.isoformat(timespec="seconds"))),
            E.OrgnlGrpInfAndSts(*original_group),
            *rows,
        )
    )
    return etree.tostring(document, xml_declaration=True, encoding="UTF-8")


def _is_uetr(value: str) -> bool:
    return bool(UETR.fullmatch(value))
