"""The demo screening lists DelTran ships for `make run`: written by the project, fictional names only.

They are written in the official OFAC CSV layout and in DelTran's PEP CSV layout, then imported through the
same `list_import` as real lists, so the demo exercises the real path.
"""

import csv
import tempfile
from pathlib import Path

from compliance.models import ScreeningList
from compliance.services import list_import

# ent_num, name, type, program, remarks — all fictional.
DEMO_SANCTIONS = [
    ("900001", "VOSTOK SHADOW SHIPPING LLC", "-0-", "DEMO", "Fictional entity for the DelTran demo."),
    ("900002", "DEMIDOV, Ivan Fictitiousovich", "individual", "DEMO", "Fictional person for the DelTran demo."),
    ("900003", "AL-NOOR PHANTOM EXCHANGE", "-0-", "DEMO", "Fictional money exchange for the DelTran demo."),
    ("900004", "CRIMSON LOTUS TRADING FZE", "-0-", "DEMO", "Fictional trading company for the DelTran demo."),
]
DEMO_ALIASES = [
    ("900001", "1", "aka", "VOSTOK SHADOW MARITIME"),
    ("900002", "2", "aka", "Демидов Иван"),
    ("900003", "3", "aka", "NOOR PHANTOM EXCHANGE CO"),
]
DEMO_PEPS = [
    ("PEP-D1", "Marguerite Demo-Valcourt", "M. Demo Valcourt", "FR", "Fictional minister of finance (demo)"),
    ("PEP-D2", "Rashid Fictional Al-Mansoori", "R. F. Al Mansoori", "AE", "Fictional central bank governor (demo)"),
]


def demo_lists_write(folder: Path) -> dict[str, list[Path]]:
    folder.mkdir(parents=True, exist_ok=True)
    sdn, alt, pep = folder / "sdn.csv", folder / "alt.csv", folder / "pep.csv"
    with open(sdn, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        for ent, name, kind, program, remarks in DEMO_SANCTIONS:
            writer.writerow([ent, name, kind, program, "-0-", "-0-", "-0-", "-0-", "-0-", "-0-", "-0-", remarks])
    with open(alt, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        for ent, alt_num, kind, name in DEMO_ALIASES:
            writer.writerow([ent, alt_num, kind, name, "-0-"])
    with open(pep, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "aliases", "country", "position"])
        writer.writerows(DEMO_PEPS)
    return {"ofac_csv": [sdn, alt], "pep_csv": [pep]}


def demo_lists_load() -> int:
    """Import the demo lists unless those lists already have a version; returns how many were imported.

    The files are written to a private temporary folder: they are only the way in, the database keeps the list.
    """
    with tempfile.TemporaryDirectory(prefix="deltran-demo-lists-") as folder:
        return _demo_lists_import(demo_lists_write(Path(folder)))


def _demo_lists_import(files: dict[str, list[Path]]) -> int:
    imported = 0
    for source, code, name in (
        ("ofac_csv", "demo_sanctions", "DelTran demo sanctions list (fictional)"),
        ("pep_csv", "pep", "Politically exposed persons (demo, fictional)"),
    ):
        if ScreeningList.objects.filter(code=code, current_version__isnull=False).exists():
            continue
        list_import(source_format=source, paths=files[source], list_code=code, list_name=name)
        imported += 1
    return imported
