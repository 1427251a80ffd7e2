"""Parsers that turn official sanctions lists and our own PEP list into plain `ListEntry` records.

Pure Python (stdlib + lxml), no Django: a parser reads files and returns a `ParsedList`, or raises
`ListFormatError` naming the file, the line (CSV) or the element path and line (XML), and the reason.
A file is refused when it is empty, is not the format its parser expects, or yields no entries.

Formats, and the id each one contributes as `ListEntry.source_id`:

- OFAC CSV (`parse_ofac_csv`), the SDN list (sdn.csv, alt.csv, add.csv, sdn_comments.csv) and the
  consolidated non-SDN list (cons_prim.csv, cons_alt.csv, cons_add.csv, cons_comments.csv), which share
  one layout. No header; "-0-" means empty; the files may end with a Ctrl-Z (0x1A) line. Id: ent_num.
  sdn.csv has 12 columns (ent_num, SDN_Name, SDN_Type, Program, Title, Call_Sign, Vess_type, Tonnage,
  GRT, Vess_flag, Vess_owner, Remarks); alt.csv 5 (ent_num, alt_num, alt_type, alt_name, alt_remarks);
  add.csv 6 (ent_num, add_num, address, city/state/zip, country, add_remarks); the comments file 2
  (ent_num, the rest of a Remarks cut off in sdn.csv). Names stay as published ("LAST, First").
  SDN_Type "-0-" is an entity. Program "SDGT] [IFSR" is split into ("SDGT", "IFSR"). The "a.k.a. '...'"
  quoted in Remarks are OFAC's weak aliases (listed in the XML with category "weak"); they become
  `weak_aka` names. Birth dates come from the "DOB ..." parts of Remarks; countries from add.csv.
  A row with the wrong column count or a non-numeric id, a repeated ent_num, or an alias, address or
  comment whose ent_num has no primary record is refused with its line (`orphans="skip"` drops such
  rows instead, for hand-cut subsets whose side files were not cut to match).
- OFAC XML (`parse_ofac_xml`), the sdnList schema in any namespace (the old tempuri.org one and the
  sanctionslistservice one). Id: sdnEntry/uid. An individual's name is composed "lastName, firstName" as
  in the CSV; aka category "weak" gives `weak_aka`, type "f.k.a."/"n.k.a." gives `fka`/`nka`.
  `declared_count` is publshInformation/Record_Count (an excerpt may declare more than it holds).
- EU FSF (`parse_eu_xml`): the current v1.1 export (export/sanctionEntity/nameAlias; id: sanctionEntity
  @logicalId) and the legacy v1.0 (WHOLE/ENTITY/NAME; id: ENTITY@Id). v1.1 marks no primary name: we take
  the nameAlias with the lowest logicalId, the name the subject was first listed under (the others keep
  document order); strong="false" gives `weak_aka`. Legacy: the first NAME is primary. Countries are
  citizenship and address countries ("UNKNOWN" dropped).
- UN SC consolidated (`parse_un_xml`): CONSOLIDATED_LIST/INDIVIDUALS/INDIVIDUAL and ENTITIES/ENTITY.
  Id: DATAID (REFERENCE_NUMBER such as "TAi.005" is the human reference). The primary name is
  FIRST..FOURTH_NAME joined; NAME_ORIGINAL_SCRIPT is an `original_script` name; ALIAS_NAME with QUALITY
  Good/a.k.a. is `aka`, Low is `weak_aka`, f.k.a. is `fka`. Older files pack several aliases into one
  ALIAS_NAME separated by ";": those are split, unless the text has brackets (an original-script name
  followed by its transliterations in parentheses), which is kept whole.
- UK HM Treasury / OFSI ConList CSV (`parse_uk_csv`): line 1 "Last Updated,dd/mm/yyyy", line 2 the
  header, then one row per name; rows sharing a "Group ID" are one target (id: Group ID). The name is
  Name 1..Name 5 then Name 6 (the surname, or the whole name of an entity), space-joined. The row with
  Alias Type "Prime Alias" / "Primary name" gives the primary name; when a group has none (a subset
  file), names[0] is its first row and keeps that row's kind. Rows repeat a name once per date of birth:
  names, dates and countries are merged. Files in Windows-1252 (as OFSI published them) are read as such.
  Numbered lists such as "(1) Tunisia (2) Italy" in Nationality/Country are split.
- Our PEP CSV (`parse_pep_csv`, written by `write_pep_csv`), UTF-8 (a BOM is tolerated), header exactly
  `id,name,aliases,country,position`, one person per row:

      id,name,aliases,country,position
      PEP-0001,Amina Okafor,"A. Okafor;Amina N. Okafor",NG,Minister of Finance

  id: non-empty and unique (the source_id); name: the primary name, required; aliases and country: zero
  or more values separated by ";"; position: free text, kept as `remarks`. Every entry is an individual.

Common rules: control characters become spaces and runs of whitespace collapse to one; empty names are
skipped and a name repeated within an entry is kept once (first kind wins); an entry left with no name
is refused. `NameVariant.script` is "latin" unless the name has letters of another script, then the
most frequent such script, lower-cased from the Unicode character names ("arabic", "cyrillic", "greek",
"cjk" for Han/kana, "hangul", ...). Birth dates are ISO 8601 where the source is unambiguous ("1963-07-28",
"1963-07", "1963", ranges "1960/1962"); anything else ("circa 1955") is kept as published. XML is parsed
with entity resolution, DTD loading and network access off, and a DOCTYPE declaring entities or an
external DTD is refused before parsing (XXE, billion laughs).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from lxml import etree

KINDS = ("primary", "aka", "fka", "nka", "weak_aka", "original_script")
ENTRY_TYPES = ("individual", "entity", "vessel", "aircraft", "unknown")
SOURCES = ("ofac_sdn", "ofac_consolidated", "eu_fsf", "un_sc", "uk_hmt", "pep")
PEP_HEADER = ("id", "name", "aliases", "country", "position")

OFAC_SDN_COLUMNS = 12
OFAC_ALT_COLUMNS = 5
OFAC_ADD_COLUMNS = 6
OFAC_COMMENTS_COLUMNS = 2


class ListFormatError(ValueError):
    """A list file we cannot trust: where (file, line or element path) and why."""

    def __init__(self, message: str, *, source: str, line: int | None = None, path: str | None = None):
        self.reason = message
        self.source = source
        self.line = line
        self.path = path
        where = source
        if line is not None:
            where += f" line {line}"
        if path:
            where += f" ({path})"
        super().__init__(f"{where}: {message}")

    def __reduce__(self):  # keyword-only arguments: rebuild explicitly so the error survives pickling (Celery)
        return (_rebuild_list_format_error, (self.reason, self.source, self.line, self.path))


def _rebuild_list_format_error(reason: str, source: str, line: int | None, path: str | None) -> ListFormatError:
    return ListFormatError(reason, source=source, line=line, path=path)


@dataclass(frozen=True, slots=True)
class NameVariant:
    name: str
    kind: str
    script: str = "latin"


@dataclass(frozen=True, slots=True)
class ListEntry:
    source_id: str
    entry_type: str
    names: tuple[NameVariant, ...]
    programs: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    birth_dates: tuple[str, ...] = ()
    remarks: str = ""

    @property
    def primary_name(self) -> str:
        return self.names[0].name


@dataclass(frozen=True, slots=True)
class ParsedList:
    source: str
    published: str | None
    entries: tuple[ListEntry, ...]
    declared_count: int | None = None


# --- text helpers -------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean_text(value: str | None) -> str:
    """Control characters to spaces, whitespace runs collapsed, ends stripped."""
    if not value:
        return ""
    if not value.isprintable():
        value = _CONTROL.sub(" ", value)
    return " ".join(value.split())


_SCRIPT_ALIASES = {"hiragana": "cjk", "katakana": "cjk", "cjk": "cjk", "fullwidth": "latin", "halfwidth": "cjk"}
_SCRIPT_IGNORED = {"modifier", "mathematical", "letterlike", "superscript", "subscript", "circled", "parenthesized"}


def name_script(name: str) -> str:
    """'latin', or the most frequent other script among the name's letters (from Unicode character names)."""
    if name.isascii():
        return "latin"
    counts: Counter[str] = Counter()
    for ch in name:
        if not ch.isalpha() or ord(ch) < 0x250:
            continue
        word = unicodedata.name(ch, "").split(" ", 1)[0].lower()
        if not word or word in _SCRIPT_IGNORED:
            continue
        script = _SCRIPT_ALIASES.get(word, word)
        if script != "latin":
            counts[script] += 1
    return counts.most_common(1)[0][0] if counts else "latin"


_MONTHS = {
    m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)
}
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2}) ([A-Za-z]{3})[A-Za-z]* (\d{4})")
_MONTH_YEAR = re.compile(r"([A-Za-z]{3})[A-Za-z]* (\d{4})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:T[\d:.]+(?:Z|[+-]\d{2}:\d{2})?)?")
_SLASH_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


def _iso_ymd(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _iso_single(text: str, *, day_first: bool) -> str | None:
    if re.fullmatch(r"\d{4}", text):
        return text
    if m := _ISO_DATE.fullmatch(text):
        return _iso_ymd(int(m[1]), int(m[2]), int(m[3]))
    if m := _DAY_MONTH_YEAR.fullmatch(text):
        month = _MONTHS.get(m[2].lower())
        return _iso_ymd(int(m[3]), month, int(m[1])) if month else None
    if m := _MONTH_YEAR.fullmatch(text):
        month = _MONTHS.get(m[1].lower())
        return f"{m[2]}-{month:02d}" if month else None
    if m := _SLASH_DATE.fullmatch(text):
        first, second, year = int(m[1]), int(m[2]), m[3]
        day, month = (first, second) if day_first else (second, first)
        if month == 0:  # OFSI writes an unknown day or month as 00
            return year
        if day == 0:
            return f"{year}-{month:02d}" if 1 <= month <= 12 else None
        return _iso_ymd(int(year), month, day)
    return None


def iso_birth_date(text: str | None, *, day_first: bool = True) -> str:
    """ISO 8601 where unambiguous ('1963-07-28', '1963-07', '1963', '1960/1962'), else the text as published."""
    text = clean_text(text)
    if not text:
        return ""
    if single := _iso_single(text, day_first=day_first):
        return single
    ends = [_iso_single(part.strip(), day_first=day_first) for part in re.split(r" to |/", text)]
    if len(ends) == 2 and all(ends):
        return "/".join(ends)
    return text


def _published_date(text: str | None, *, day_first: bool, source: str, what: str) -> str | None:
    text = clean_text(text)
    if not text:
        return None
    m = _ISO_DATE.fullmatch(text)
    if m:
        iso = _iso_ymd(int(m[1]), int(m[2]), int(m[3]))
    else:
        m = _SLASH_DATE.fullmatch(text)
        iso = None
        if m:
            a, b, year = int(m[1]), int(m[2]), int(m[3])
            iso = _iso_ymd(year, b, a) if day_first else _iso_ymd(year, a, b)
    if iso is None:
        raise ListFormatError(f"{what} {text!r} is not a date", source=source)
    return iso


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


_NUMBERED = re.compile(r"\(?\d{1,2}\)\s*")


def _split_numbered(value: str) -> list[str]:
    """'(1) Tunisia (2) Italy' or '1) Saudi Arabia 2) Qatar' -> the parts; anything else as one value."""
    if not _NUMBERED.match(value):
        return [value]
    return [p.strip(" ,;") for p in _NUMBERED.split(value) if p.strip(" ,;-")]


class _EntryBuilder:
    """Collects one entry's names and facts, dropping empties and repeats."""

    __slots__ = ("source_id", "entry_type", "names", "programs", "countries", "birth_dates", "remarks")

    def __init__(self, source_id: str, entry_type: str):
        self.source_id = source_id
        self.entry_type = entry_type
        self.names: dict[str, str] = {}
        self.programs: list[str] = []
        self.countries: list[str] = []
        self.birth_dates: list[str] = []
        self.remarks = ""

    def add_name(self, name: str | None, kind: str) -> None:
        name = clean_text(name)
        if name and name not in self.names:
            self.names[name] = kind

    def build(self, *, source: str, line: int | None = None, element: etree._Element | None = None) -> ListEntry:
        if not self.names:
            if element is not None:
                raise _xml_error(f"entry {self.source_id} has no name", element, source)
            raise ListFormatError(f"entry {self.source_id} has no name", source=source, line=line)
        return ListEntry(
            source_id=self.source_id,
            entry_type=self.entry_type,
            names=tuple(NameVariant(name, kind, name_script(name)) for name, kind in self.names.items()),
            programs=_unique(clean_text(p) for p in self.programs),
            countries=_unique(clean_text(c) for c in self.countries),
            birth_dates=_unique(self.birth_dates),
            remarks=clean_text(self.remarks),
        )


def _finish(
    source: str, published: str | None, entries: list[ListEntry], file_name: str, declared: int | None = None
) -> ParsedList:
    if not entries:
        raise ListFormatError("no entries", source=file_name)
    return ParsedList(source=source, published=published, entries=tuple(entries), declared_count=declared)


# --- CSV plumbing -------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    """The file as text: UTF-8 (BOM tolerated), else Windows-1252, else Latin-1. Refuses an empty file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ListFormatError(f"cannot read: {exc.strerror or exc}", source=path.name) from exc
    if not data.strip(b" \t\r\n\x1a"):
        raise ListFormatError("file is empty", source=path.name)
    if b"\x00" in data:
        raise ListFormatError(
            "binary file (NUL bytes)", source=path.name, line=data[: data.index(b"\x00")].count(b"\n") + 1
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, fields) for each non-blank record; a trailing Ctrl-Z is the end."""
    text = _read_text(path).rstrip(" \t\r\n")
    if text.endswith("\x1a"):
        text = text[:-1]
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for row in reader:
            if row and any(field.strip() for field in row):
                yield start, row
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ListFormatError(f"malformed CSV: {exc}", source=Path(path).name, line=start) from exc


def _ofac_value(value: str) -> str:
    """'-0-' (OFAC's empty) to ''; other values keep their spacing, which matters where Remarks continue."""
    return "" if value.strip() == "-0-" else value


def _ofac_rows(path: Path, columns: int) -> Iterator[tuple[int, list[str]]]:
    name = Path(path).name
    for line, row in _csv_rows(path):
        if len(row) != columns:
            raise ListFormatError(f"expected {columns} columns, found {len(row)}", source=name, line=line)
        ent_num = row[0].strip()
        if not ent_num.isdigit():
            raise ListFormatError(f"ent_num {ent_num!r} is not a number", source=name, line=line)
        yield line, [ent_num, *(_ofac_value(v) for v in row[1:])]


# --- OFAC ----------------------------------------------------------------------------------------------

_OFAC_TYPES = {"": "entity", "individual": "individual", "entity": "entity", "vessel": "vessel", "aircraft": "aircraft"}
_OFAC_ALT_KINDS = {"aka": "aka", "fka": "fka", "nka": "nka", "a.k.a.": "aka", "f.k.a.": "fka", "n.k.a.": "nka"}
_REMARK_ALIAS = re.compile(r"(?:^|; )([afn])\.k\.a\. '(.*?)'(?=;|\.?$)")
_REMARK_DOB = re.compile(r"(?:^|; )(?:alt\. )?DOB ([^;]+?)(?=;|\.?$)")
_PROGRAM_SPLIT = re.compile(r"\]\s*\[")


def _ofac_programs(value: str) -> list[str]:
    return [p.strip(" []") for p in _PROGRAM_SPLIT.split(value)] if value else []


def _ofac_remark_facts(builder: _EntryBuilder) -> None:
    builder.remarks = clean_text(builder.remarks)
    for match in _REMARK_ALIAS.finditer(builder.remarks):
        builder.add_name(match[2], "weak_aka")
    for match in _REMARK_DOB.finditer(builder.remarks):
        builder.birth_dates.append(iso_birth_date(match[1]))


def _orphan(kind: str, ent_num: str, primary: str, *, file_name: str, line: int, orphans: str) -> None:
    if orphans != "skip":
        raise ListFormatError(
            f"{kind} refers to ent_num {ent_num}, which has no primary record in {primary}", source=file_name, line=line
        )


def parse_ofac_csv(
    sdn: Path,
    alt: Path | None = None,
    add: Path | None = None,
    *,
    source: str = "ofac_sdn",
    comments: Path | None = None,
    orphans: str = "error",
) -> ParsedList:
    """OFAC's CSV set: sdn.csv (or cons_prim.csv) with its optional alt, add and comments files."""
    if orphans not in ("error", "skip"):
        raise ValueError("orphans must be 'error' or 'skip'")
    sdn = Path(sdn)
    builders: dict[str, _EntryBuilder] = {}
    for line, row in _ofac_rows(sdn, OFAC_SDN_COLUMNS):
        ent_num, name, sdn_type, program = row[0], row[1], row[2].strip().lower(), row[3].strip()
        if ent_num in builders:
            raise ListFormatError(f"ent_num {ent_num} appears twice", source=sdn.name, line=line)
        if sdn_type not in _OFAC_TYPES:
            raise ListFormatError(f"unknown SDN_Type {row[2]!r}", source=sdn.name, line=line)
        if not clean_text(name):
            raise ListFormatError(f"ent_num {ent_num} has no SDN_Name", source=sdn.name, line=line)
        builder = builders[ent_num] = _EntryBuilder(ent_num, _OFAC_TYPES[sdn_type])
        builder.add_name(name, "primary")
        builder.programs = _ofac_programs(program)
        builder.remarks = row[11]

    if comments is not None:
        comments = Path(comments)
        for line, row in _ofac_rows(comments, OFAC_COMMENTS_COLUMNS):
            builder = builders.get(row[0])
            if builder is None:
                _orphan("comment", row[0], sdn.name, file_name=comments.name, line=line, orphans=orphans)
                continue
            builder.remarks += row[1]

    if alt is not None:
        alt = Path(alt)
        for line, row in _ofac_rows(alt, OFAC_ALT_COLUMNS):
            ent_num, alt_num, alt_type, alt_name = row[0], row[1].strip(), row[2].strip().lower(), row[3]
            if not alt_num.isdigit():
                raise ListFormatError(f"alt_num {alt_num!r} is not a number", source=alt.name, line=line)
            if alt_type not in _OFAC_ALT_KINDS:
                raise ListFormatError(f"unknown alt_type {row[2]!r}", source=alt.name, line=line)
            builder = builders.get(ent_num)
            if builder is None:
                _orphan(f"alias {alt_num}", ent_num, sdn.name, file_name=alt.name, line=line, orphans=orphans)
                continue
            builder.add_name(alt_name, _OFAC_ALT_KINDS[alt_type])

    if add is not None:
        add = Path(add)
        for line, row in _ofac_rows(add, OFAC_ADD_COLUMNS):
            ent_num, add_num, country = row[0], row[1].strip(), row[4]
            if not add_num.isdigit():
                raise ListFormatError(f"add_num {add_num!r} is not a number", source=add.name, line=line)
            builder = builders.get(ent_num)
            if builder is None:
                _orphan(f"address {add_num}", ent_num, sdn.name, file_name=add.name, line=line, orphans=orphans)
                continue
            builder.countries.append(country)

    for builder in builders.values():
        _ofac_remark_facts(builder)  # after alt.csv, so the published aliases come before the weak ones
    entries = [b.build(source=sdn.name) for b in builders.values()]
    return _finish(source, None, entries, sdn.name)


# --- XML plumbing -------------------------------------------------------------------------------------

_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


def _refuse_doctype(data: bytes, file_name: str) -> None:
    """Refuse a DOCTYPE that declares entities or points at an external DTD, before any parser sees it."""
    pos = 0
    while (lt := data.find(b"<", pos)) >= 0:
        if data.startswith(b"<?", lt) or data.startswith(b"<!--", lt):
            closer = b"?>" if data.startswith(b"<?", lt) else b"-->"
            end = data.find(closer, lt)
            if end < 0:
                return
            pos = end + len(closer)
        elif _DOCTYPE.match(data, lt):
            head_end = data.find(b">", lt)
            bracket = data.find(b"[", lt, head_end if head_end > 0 else None)
            end = data.find(b"]>", bracket) if bracket > 0 else head_end
            doctype = data[lt : (end if end > 0 else len(data))]
            line = data[:lt].count(b"\n") + 1
            if b"<!ENTITY" in doctype.upper():
                raise ListFormatError(
                    "DOCTYPE declares entities; refused (XXE / entity expansion)", source=file_name, line=line
                )
            if re.search(rb"\b(SYSTEM|PUBLIC)\b", data[lt : head_end if bracket < 0 else bracket]):
                raise ListFormatError("DOCTYPE points at an external DTD; refused", source=file_name, line=line)
            return
        else:
            return


def _xml_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_blank_text=True
    )


def _parse_xml(path: Path, roots: tuple[str, ...], what: str) -> etree._Element:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ListFormatError(f"cannot read: {exc.strerror or exc}", source=path.name) from exc
    if not data.strip():
        raise ListFormatError("file is empty", source=path.name)
    _refuse_doctype(data, path.name)
    try:
        root = etree.fromstring(data, _xml_parser())
    except etree.XMLSyntaxError as exc:
        raise ListFormatError(f"not well-formed XML: {exc.msg}", source=path.name, line=exc.lineno) from exc
    docinfo = root.getroottree().docinfo
    dtd = docinfo.internalDTD
    if (dtd is not None and any(True for _ in dtd.iterentities())) or docinfo.system_url:
        raise ListFormatError("DOCTYPE with entities or an external DTD; refused", source=path.name, line=1)
    if _local(root.tag) not in roots:
        expected = " or ".join(f"<{r}>" for r in roots)
        raise ListFormatError(
            f"not {what}: root element is <{_local(root.tag)}>, expected {expected}",
            source=path.name,
            line=root.sourceline,
        )
    return root


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _element_path(element: etree._Element) -> str:
    """'/sdnList/sdnEntry[12]/uid', by local names, for error messages."""
    parts = []
    while element is not None:
        name = _local(element.tag)
        parent = element.getparent()
        if parent is not None:
            same = [c for c in parent if _local(c.tag) == name]
            if len(same) > 1:
                name += f"[{same.index(element) + 1}]"
        parts.append(name)
        element = parent
    return "/" + "/".join(reversed(parts))


def _xml_error(message: str, element: etree._Element, file_name: str) -> ListFormatError:
    return ListFormatError(message, source=file_name, line=element.sourceline, path=_element_path(element))


def _text(element: etree._Element | None, child: str) -> str:
    if element is None:
        return ""
    found = element.find(child)
    return clean_text(found.text) if found is not None else ""


def _texts(element: etree._Element, xpath_like: str) -> list[str]:
    return [clean_text(e.text) for e in element.iterfind(xpath_like) if e.text]


def _require_id(value: str, element, file_name: str, what: str, seen: set[str]) -> str:
    if not value:
        raise _xml_error(f"{_local(element.tag)} without {what}", element, file_name)
    if value in seen:
        raise _xml_error(f"{what} {value} appears twice", element, file_name)
    seen.add(value)
    return value


# --- OFAC XML ------------------------------------------------------------------------------------------

_OFAC_XML_AKA = {"a.k.a.": "aka", "f.k.a.": "fka", "n.k.a.": "nka"}


def _ofac_xml_name(element: etree._Element) -> str:
    last, first = _text(element, "{*}lastName"), _text(element, "{*}firstName")
    return f"{last}, {first}" if last and first else (last or first)


def parse_ofac_xml(path: Path, *, source: str | None = None) -> ParsedList:
    """OFAC sdnList XML (SDN or consolidated), namespace-agnostic. source defaults from the file name."""
    path = Path(path)
    root = _parse_xml(path, ("sdnList",), "an OFAC sdnList file")
    if source is None:
        source = "ofac_consolidated" if path.name.lower().startswith("cons") else "ofac_sdn"
    info = root.find("{*}publshInformation")
    published = _published_date(_text(info, "{*}Publish_Date"), day_first=False, source=path.name, what="Publish_Date")
    declared_text = _text(info, "{*}Record_Count")
    if declared_text and not declared_text.isdigit():
        raise _xml_error(f"Record_Count {declared_text!r} is not a number", info, path.name)
    seen: set[str] = set()
    entries = []
    for element in root.iterfind("{*}sdnEntry"):
        uid = _require_id(_text(element, "{*}uid"), element, path.name, "uid", seen)
        sdn_type = _text(element, "{*}sdnType").lower()
        builder = _EntryBuilder(uid, _OFAC_TYPES.get(sdn_type, "unknown"))
        builder.add_name(_ofac_xml_name(element), "primary")
        for aka in element.iterfind("{*}akaList/{*}aka"):
            kind = _OFAC_XML_AKA.get(_text(aka, "{*}type").lower(), "aka")
            if _text(aka, "{*}category").lower() == "weak":
                kind = "weak_aka"
            builder.add_name(_ofac_xml_name(aka), kind)
        builder.programs = _texts(element, "{*}programList/{*}program")
        builder.countries = [
            *_texts(element, "{*}nationalityList/{*}nationality/{*}country"),
            *_texts(element, "{*}citizenshipList/{*}citizenship/{*}country"),
            *_texts(element, "{*}addressList/{*}address/{*}country"),
        ]
        builder.birth_dates = [
            iso_birth_date(d) for d in _texts(element, "{*}dateOfBirthList/{*}dateOfBirthItem/{*}dateOfBirth")
        ]
        builder.remarks = _text(element, "{*}remarks")
        entries.append(builder.build(source=path.name, element=element))
    return _finish(source, published, entries, path.name, int(declared_text) if declared_text else None)


# --- EU ------------------------------------------------------------------------------------------------

_EU_SUBJECTS = {"person": "individual", "enterprise": "entity", "vessel": "vessel", "aircraft": "aircraft"}
_EU_LEGACY_TYPES = {"P": "individual", "E": "entity"}
_EU_NO_COUNTRY = {"", "UNKNOWN", "00"}


def _joined(*parts: str) -> str:
    return " ".join(p for p in (clean_text(x) for x in parts) if p)


def _eu_v11_entity(element: etree._Element, file_name: str, seen: set[str]) -> ListEntry:
    logical_id = _require_id(clean_text(element.get("logicalId")), element, file_name, "logicalId", seen)
    subject = element.find("{*}subjectType")
    code = clean_text(subject.get("code")) if subject is not None else ""
    builder = _EntryBuilder(logical_id, _EU_SUBJECTS.get(code.lower(), "unknown"))
    aliases = []
    for position, alias in enumerate(element.iterfind("{*}nameAlias")):
        name = clean_text(alias.get("wholeName")) or _joined(
            alias.get("firstName"), alias.get("middleName"), alias.get("lastName")
        )
        alias_id = clean_text(alias.get("logicalId"))
        order = int(alias_id) if alias_id.isdigit() else float("inf")
        kind = "weak_aka" if clean_text(alias.get("strong")).lower() == "false" else "aka"
        if name:
            aliases.append((order, position, name, kind))
    if aliases:
        first = min(aliases)
        builder.add_name(first[2], "primary")
        for _order, _position, name, kind in aliases:
            builder.add_name(name, kind)
    builder.programs = [r.get("programme") or "" for r in element.iterfind("{*}regulation")]
    builder.countries = [
        c
        for tag in ("{*}citizenship", "{*}address")
        for e in element.iterfind(tag)
        if (c := clean_text(e.get("countryDescription"))) not in _EU_NO_COUNTRY
    ]
    for birth in element.iterfind("{*}birthdate"):
        low, high = clean_text(birth.get("yearRangeFrom")), clean_text(birth.get("yearRangeTo"))
        value = clean_text(birth.get("birthdate")) or clean_text(birth.get("year"))
        if not value and low and high:
            value = f"{low}/{high}"
        builder.birth_dates.append(iso_birth_date(value or low or high))
    builder.remarks = "; ".join(t for t in _texts(element, "{*}remark") if t)
    return builder.build(source=file_name, element=element)


def _eu_legacy_entity(element: etree._Element, file_name: str, seen: set[str]) -> ListEntry:
    entity_id = _require_id(clean_text(element.get("Id")), element, file_name, "Id", seen)
    builder = _EntryBuilder(entity_id, _EU_LEGACY_TYPES.get(clean_text(element.get("Type")), "unknown"))
    for name in element.iterfind("NAME"):
        whole = _text(name, "WHOLENAME") or _joined(
            _text(name, "FIRSTNAME"), _text(name, "MIDDLENAME"), _text(name, "LASTNAME")
        )
        builder.add_name(whole, "aka" if builder.names else "primary")
    builder.programs = [element.get("programme") or ""]
    builder.countries = _texts(element, "CITIZEN/COUNTRY") + _texts(element, "ADDRESS/COUNTRY")
    builder.birth_dates = [iso_birth_date(d) for d in _texts(element, "BIRTH/DATE")]
    builder.remarks = element.get("remark") or ""
    return builder.build(source=file_name, element=element)


def parse_eu_xml(path: Path) -> ParsedList:
    """EU Financial Sanctions Files: the v1.1 export, or the legacy v1.0 WHOLE/ENTITY file."""
    path = Path(path)
    root = _parse_xml(path, ("export", "WHOLE"), "an EU FSF file")
    seen: set[str] = set()
    if _local(root.tag) == "export":
        generated = clean_text(root.get("generationDate"))[:10]
        published = _published_date(generated, day_first=True, source=path.name, what="generationDate")
        entries = [_eu_v11_entity(e, path.name, seen) for e in root.iterfind("{*}sanctionEntity")]
    else:
        published = _published_date(root.get("Date"), day_first=True, source=path.name, what="Date")
        entries = [_eu_legacy_entity(e, path.name, seen) for e in root.iterfind("ENTITY")]
    return _finish("eu_fsf", published, entries, path.name)


# --- UN ------------------------------------------------------------------------------------------------

_UN_QUALITY = {"": "aka", "good": "aka", "a.k.a.": "aka", "low": "weak_aka", "f.k.a.": "fka", "n.k.a.": "nka"}


def _un_alias_names(text: str) -> list[str]:
    if ";" in text and not any(b in text for b in "()[]"):
        return [part for part in (clean_text(p) for p in text.split(";")) if part]
    return [text]


def _un_entry(element: etree._Element, entry_type: str, file_name: str, seen: set[str]) -> ListEntry:
    data_id = _require_id(_text(element, "DATAID"), element, file_name, "DATAID", seen)
    builder = _EntryBuilder(data_id, entry_type)
    builder.add_name(
        _joined(*(_text(element, t) for t in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME"))), "primary"
    )
    builder.add_name(_text(element, "NAME_ORIGINAL_SCRIPT"), "original_script")
    alias_tag = "INDIVIDUAL_ALIAS" if entry_type == "individual" else "ENTITY_ALIAS"
    for alias in element.iterfind(alias_tag):
        kind = _UN_QUALITY.get(_text(alias, "QUALITY").lower(), "aka")
        for name in _un_alias_names(_text(alias, "ALIAS_NAME")):
            builder.add_name(name, kind)
    builder.programs = [_text(element, "UN_LIST_TYPE")]
    address_tag = "INDIVIDUAL_ADDRESS" if entry_type == "individual" else "ENTITY_ADDRESS"
    builder.countries = _texts(element, "NATIONALITY/VALUE") + _texts(element, f"{address_tag}/COUNTRY")
    for birth in element.iterfind("INDIVIDUAL_DATE_OF_BIRTH"):
        low, high = _text(birth, "FROM_YEAR"), _text(birth, "TO_YEAR")
        value = _text(birth, "DATE") or _text(birth, "YEAR") or (f"{low}/{high}" if low and high else low or high)
        builder.birth_dates.append(iso_birth_date(value))
    builder.remarks = _text(element, "COMMENTS1")
    return builder.build(source=file_name, element=element)


def parse_un_xml(path: Path) -> ParsedList:
    """The UN Security Council Consolidated List XML."""
    path = Path(path)
    root = _parse_xml(path, ("CONSOLIDATED_LIST",), "a UN consolidated list")
    if root.find("INDIVIDUALS") is None and root.find("ENTITIES") is None:
        raise _xml_error("neither INDIVIDUALS nor ENTITIES present", root, path.name)
    generated = clean_text(root.get("dateGenerated"))[:10]
    published = _published_date(generated, day_first=True, source=path.name, what="dateGenerated")
    seen: set[str] = set()
    entries = [_un_entry(e, "individual", path.name, seen) for e in root.iterfind("INDIVIDUALS/INDIVIDUAL")]
    entries += [_un_entry(e, "entity", path.name, seen) for e in root.iterfind("ENTITIES/ENTITY")]
    return _finish("un_sc", published, entries, path.name)


# --- UK HMT / OFSI --------------------------------------------------------------------------------------

_UK_KINDS = {
    "prime alias": "primary",
    "primary name": "primary",
    "aka": "aka",
    "alias": "aka",
    "primary name variation": "aka",
    "fka": "fka",
    "nka": "nka",
}
_UK_TYPES = {"individual": "individual", "entity": "entity", "ship": "vessel", "vessel": "vessel"}
_UK_REQUIRED = ("Name 6", "Alias Type", "Group Type", "Group ID")
_UK_NAME_COLUMNS = ("Name 1", "Name 2", "Name 3", "Name 4", "Name 5", "Name 6")


def parse_uk_csv(path: Path) -> ParsedList:
    """HM Treasury / OFSI Consolidated List (ConList) CSV: one entry per Group ID."""
    path = Path(path)
    rows = _csv_rows(path)
    first = next(rows, None)
    if first is None or clean_text(first[1][0]).lower() != "last updated" or len(first[1]) < 2:
        found = ",".join(first[1][:3]) if first else ""
        raise ListFormatError(
            f"expected 'Last Updated,<dd/mm/yyyy>', found {found[:60]!r}",
            source=path.name,
            line=first[0] if first else 1,
        )
    published = _published_date(first[1][1], day_first=True, source=path.name, what="Last Updated")
    header_line, header = next(rows, (first[0] + 1, []))
    header = [clean_text(h) for h in header]
    missing = [c for c in _UK_REQUIRED if c not in header]
    if missing:
        raise ListFormatError(f"header lacks {', '.join(missing)}", source=path.name, line=header_line)
    col = {name: i for i, name in enumerate(header)}
    names_at = [col[c] for c in _UK_NAME_COLUMNS if c in col]

    def cell(row: list[str], name: str) -> str:
        index = col.get(name)
        return clean_text(row[index]) if index is not None else ""

    groups: dict[str, list[tuple[int, list[str]]]] = {}
    for line, row in rows:
        if len(row) != len(header):
            raise ListFormatError(f"expected {len(header)} columns, found {len(row)}", source=path.name, line=line)
        group_id = cell(row, "Group ID")
        if not group_id.isdigit():
            raise ListFormatError(f"Group ID {group_id!r} is not a number", source=path.name, line=line)
        groups.setdefault(group_id, []).append((line, row))

    entries = []
    for group_id, members in groups.items():
        group_type = cell(members[0][1], "Group Type").lower()
        builder = _EntryBuilder(group_id, _UK_TYPES.get(group_type, "unknown"))
        named = [
            (_UK_KINDS.get(cell(row, "Alias Type").lower(), "aka"), _joined(*(row[i] for i in names_at)), row)
            for _line, row in members
        ]
        for kind, name, _row in sorted(named, key=lambda item: item[0] != "primary"):
            builder.add_name(name, "aka" if kind == "primary" and builder.names else kind)
        for _kind, _name, row in named:
            builder.add_name(cell(row, "Name Non-Latin Script"), "original_script")
            builder.programs.append(cell(row, "Regime"))
            builder.countries += _split_numbered(cell(row, "Nationality")) + _split_numbered(cell(row, "Country"))
            builder.birth_dates.append(iso_birth_date(cell(row, "DOB"), day_first=True))
            builder.remarks = builder.remarks or cell(row, "Other Information")
        entries.append(builder.build(source=path.name, line=members[0][0]))
    return _finish("uk_hmt", published, entries, path.name)


# --- PEP (our format) ------------------------------------------------------------------------------------


def _split_list(value: str) -> list[str]:
    return [part for part in (clean_text(p) for p in value.split(";")) if part]


def parse_pep_csv(path: Path) -> ParsedList:
    """Our PEP list: header `id,name,aliases,country,position`; aliases and countries separated by ';'."""
    path = Path(path)
    rows = _csv_rows(path)
    header_line, header = next(rows, (1, []))
    if tuple(clean_text(h).lower() for h in header) != PEP_HEADER:
        raise ListFormatError(
            f"expected header {','.join(PEP_HEADER)!r}, found {','.join(header)[:60]!r}",
            source=path.name,
            line=header_line,
        )
    seen: set[str] = set()
    entries = []
    for line, row in rows:
        if len(row) != len(PEP_HEADER):
            raise ListFormatError(f"expected {len(PEP_HEADER)} columns, found {len(row)}", source=path.name, line=line)
        pep_id, name, aliases, country, position = (clean_text(v) for v in row)
        if not pep_id:
            raise ListFormatError("empty id", source=path.name, line=line)
        if pep_id in seen:
            raise ListFormatError(f"id {pep_id} appears twice", source=path.name, line=line)
        if not name:
            raise ListFormatError(f"id {pep_id} has no name", source=path.name, line=line)
        seen.add(pep_id)
        builder = _EntryBuilder(pep_id, "individual")
        builder.add_name(name, "primary")
        for alias in _split_list(aliases):
            builder.add_name(alias, "aka")
        builder.countries = _split_list(country)
        builder.remarks = position
        entries.append(builder.build(source=path.name, line=line))
    return _finish("pep", None, entries, path.name)


def write_pep_csv(path: Path, entries: Iterable[ListEntry]) -> None:
    """Write entries in our PEP format (the inverse of `parse_pep_csv` for what that format carries)."""
    with Path(path).open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(PEP_HEADER)
        for entry in entries:
            aliases = [n.name for n in entry.names[1:] if n.kind != "primary"]
            if any(";" in value for value in [*aliases, *entry.countries]):
                raise ValueError(f"entry {entry.source_id}: an alias or country contains ';'")
            writer.writerow(
                (entry.source_id, entry.names[0].name, ";".join(aliases), ";".join(entry.countries), entry.remarks)
            )


# --- dispatch --------------------------------------------------------------------------------------------

_OFAC_FILE_ROLES = {
    "sdn.csv": "sdn",
    "cons_prim.csv": "sdn",
    "alt.csv": "alt",
    "cons_alt.csv": "alt",
    "add.csv": "add",
    "cons_add.csv": "add",
    "sdn_comments.csv": "comments",
    "cons_comments.csv": "comments",
}
_SINGLE_FILE_PARSERS = {
    "ofac_xml": parse_ofac_xml,
    "eu_xml": parse_eu_xml,
    "un_xml": parse_un_xml,
    "uk_csv": parse_uk_csv,
    "pep_csv": parse_pep_csv,
}
FORMATS = ("ofac_csv", *_SINGLE_FILE_PARSERS)


def parse_list(source: str, paths: list[Path]) -> ParsedList:
    """Parse by format name: 'ofac_csv' (sdn.csv/cons_prim.csv plus alt/add/comments, told apart by file name),
    'ofac_xml', 'eu_xml', 'un_xml', 'uk_csv', 'pep_csv' (one file each)."""
    paths = [Path(p) for p in paths]
    if source == "ofac_csv":
        roles: dict[str, Path] = {}
        for path in paths:
            role = _OFAC_FILE_ROLES.get(path.name.lower())
            if role is None:
                raise ListFormatError(f"not an OFAC CSV file name ({', '.join(_OFAC_FILE_ROLES)})", source=path.name)
            if role in roles:
                raise ListFormatError(f"two {role} files given", source=path.name)
            roles[role] = path
        if "sdn" not in roles:
            raise ValueError("ofac_csv needs sdn.csv or cons_prim.csv")
        list_source = "ofac_consolidated" if roles["sdn"].name.lower().startswith("cons") else "ofac_sdn"
        return parse_ofac_csv(
            roles["sdn"], roles.get("alt"), roles.get("add"), comments=roles.get("comments"), source=list_source
        )
    parser = _SINGLE_FILE_PARSERS.get(source)
    if parser is None:
        raise ValueError(f"unknown list format {source!r}; expected one of {', '.join(FORMATS)}")
    if len(paths) != 1:
        raise ValueError(f"{source} takes exactly one file, got {len(paths)}")
    return parser(paths[0])


__all__ = [
    "ENTRY_TYPES",
    "FORMATS",
    "KINDS",
    "SOURCES",
    "ListEntry",
    "ListFormatError",
    "NameVariant",
    "ParsedList",
    "clean_text",
    "iso_birth_date",
    "name_script",
    "parse_eu_xml",
    "parse_list",
    "parse_ofac_csv",
    "parse_ofac_xml",
    "parse_pep_csv",
    "parse_uk_csv",
    "parse_un_xml",
    "write_pep_csv",
]
