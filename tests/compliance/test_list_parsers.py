"""The sanctions and PEP list parsers, against the real published files in ../shared/data/. No database."""

import ast
import os
import pickle
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from compliance.engines import lists
from compliance.engines.lists import (
    ListEntry,
    ListFormatError,
    NameVariant,
    iso_birth_date,
    name_script,
    parse_eu_xml,
    parse_list,
    parse_ofac_csv,
    parse_ofac_xml,
    parse_pep_csv,
    parse_uk_csv,
    parse_un_xml,
    write_pep_csv,
)

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "sanctions"
OFAC = DATA / "ofac"
SMALL = OFAC / "watchman_small"
W2019 = OFAC / "watchman_2019"
W2025 = OFAC / "watchman_2025-02"
INVALID = OFAC / "watchman_invalidFiles"
SDN_2024 = OFAC / "sdn_csv_full_2024-05-03" / "sdn.csv"
CONS_CSV = OFAC / "consolidated_nonsdn_csv"
CONS_XML = OFAC / "consolidated_nonsdn_xml" / "consolidated.xml"
SDN_XML_EXCERPT = OFAC / "sdn_xml_excerpt_2020-10-29" / "sdn.xml"
EU_V11 = DATA / "eu" / "fsf_v1.1_excerpt_2026-08-05" / "sample_eu_fsf.xml"
EU_LEGACY = DATA / "eu" / "fsf_legacy_v1.0_2016-02-11" / "data.xml"
UN_2026 = DATA / "un" / "watchman_2026-02-27" / "UN_consolidated.xml"
UN_2025 = DATA / "un" / "kebalkhadka_2025-04-19" / "UN.xml"
UN_2016 = DATA / "un" / "opendatalabcz_2016" / "data.xml"
UK_2016 = DATA / "uk" / "hmt_conlist_2016-02-12" / "data.csv"
UK_2018 = DATA / "uk" / "hmt_conlist_2018-04-13" / "sanctionsconlist.csv"

ALIAS_KINDS = ("aka", "fka", "nka")


@pytest.fixture(scope="module")
def data():
    """The shared folder of published lists; CI (DELTRAN_REQUIRE_SERVICES=1) must have it."""
    if not DATA.is_dir():
        if os.environ.get("DELTRAN_REQUIRE_SERVICES") == "1":
            pytest.fail(f"DELTRAN_REQUIRE_SERVICES=1 but the list files are missing: {DATA}")
        pytest.skip(f"published list files not found at {DATA} (../shared/data beside the checkout)")
    return DATA


@cache
def parsed(name: str) -> lists.ParsedList:
    """Each real file parsed once per test run."""
    return {
        "ofac_2019": lambda: parse_ofac_csv(W2019 / "sdn.csv", W2019 / "alt.csv", W2019 / "add.csv"),
        "ofac_2024": lambda: parse_ofac_csv(SDN_2024),
        "ofac_cons_csv": lambda: parse_list(
            "ofac_csv",
            [
                CONS_CSV / "cons_prim.csv",
                CONS_CSV / "cons_alt.csv",
                CONS_CSV / "cons_add.csv",
                CONS_CSV / "cons_comments.csv",
            ],
        ),
        "ofac_cons_xml": lambda: parse_ofac_xml(CONS_XML),
        "eu_v11": lambda: parse_eu_xml(EU_V11),
        "eu_legacy": lambda: parse_eu_xml(EU_LEGACY),
        "un_2026": lambda: parse_un_xml(UN_2026),
        "un_2025": lambda: parse_un_xml(UN_2025),
        "un_2016": lambda: parse_un_xml(UN_2016),
        "uk_2016": lambda: parse_uk_csv(UK_2016),
        "uk_2018": lambda: parse_uk_csv(UK_2018),
    }[name]()


def by_id(parsed_list) -> dict[str, ListEntry]:
    return {entry.source_id: entry for entry in parsed_list.entries}


def types(parsed_list) -> Counter:
    return Counter(entry.entry_type for entry in parsed_list.entries)


def kinds(parsed_list) -> Counter:
    return Counter(name.kind for entry in parsed_list.entries for name in entry.names)


def names(entry: ListEntry) -> list[str]:
    return [name.name for name in entry.names]


def raw_programs(parsed_list) -> set[str]:
    """OFAC's Program column as published ("SDGT] [IFSR"), rebuilt from the split programs."""
    return {"] [".join(entry.programs) for entry in parsed_list.entries}


def test_engine_imports_only_stdlib_and_lxml():
    tree = ast.parse(Path(lists.__file__).read_text())
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    }
    imported |= {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0
    }
    assert imported - {"__future__"} <= set(sys.stdlib_module_names) | {"lxml"}, imported


# --- OFAC CSV ------------------------------------------------------------------------------------------


def test_ofac_small_fixture(data):
    sdn = parse_ofac_csv(SMALL / "sdn.csv")
    assert len(sdn.entries) == 17
    assert types(sdn) == {"entity": 7, "individual": 4, "vessel": 4, "aircraft": 2}
    assert len(raw_programs(sdn)) == 14
    entry = by_id(sdn)["10278"]
    assert entry.names[0] == NameVariant("LOGAN MOREY, Elvis Angus", "primary", "latin")
    assert entry.birth_dates == ("1963-07-28",)
    assert "BURTON BURGESS" in names(entry)  # the "a.k.a. '...'" in Remarks: a weak alias
    assert by_id(sdn)["11195"].programs == ("NPWMD", "IFSR", "IRAN-CON-ARMS-EO")


def test_ofac_small_side_files_are_not_cut_to_match_so_strict_mode_refuses_them(data):
    # The watchman fixture's alt.csv and add.csv keep aliases of entries its sdn.csv dropped.
    with pytest.raises(ListFormatError) as refused:
        parse_ofac_csv(SMALL / "sdn.csv", SMALL / "alt.csv", SMALL / "add.csv")
    assert refused.value.source == "alt.csv" and refused.value.line == 1
    assert "ent_num 10416, which has no primary record in sdn.csv" in str(refused.value)

    lenient = parse_ofac_csv(SMALL / "sdn.csv", SMALL / "alt.csv", SMALL / "add.csv", orphans="skip")
    assert len(lenient.entries) == 17
    iran_aircraft = by_id(lenient)["11195"]
    assert {"HESA TRADE CENTER", "IRAN AIRCRAFT MANUFACTURING INDUSTRIES"} <= set(names(iran_aircraft))
    assert iran_aircraft.countries == ("Iran",)


def test_ofac_2019_full_set(data):
    sdn = parsed("ofac_2019")
    assert sdn.source == "ofac_sdn" and sdn.published is None and sdn.declared_count is None
    assert len(sdn.entries) == 7379
    assert len(by_id(sdn)) == 7379
    assert types(sdn) == {"individual": 3845, "entity": 2994, "vessel": 323, "aircraft": 217}
    assert len(raw_programs(sdn)) == 100
    # 9682 alias rows (aka 9335, fka 331, nka 16); 7 repeat a name the entry already has.
    found = kinds(sdn)
    assert (found["aka"], found["fka"], found["nka"]) == (9328, 331, 16)
    assert found["primary"] == 7379

    cuban_airline = by_id(sdn)["36"]
    assert names(cuban_airline) == ["AEROCARIBBEAN AIRLINES", "AERO-CARIBBEAN"]
    assert [n.kind for n in cuban_airline.names] == ["primary", "aka"]
    assert cuban_airline.countries == ("Cuba",) and cuban_airline.programs == ("CUBA",)
    malkevich = by_id(sdn)["26235"]
    assert malkevich.entry_type == "individual"
    assert malkevich.names[0].name == "MALKEVICH, Alexander Aleksandrovich"
    assert malkevich.birth_dates == ("1975-06-14",) and malkevich.countries == ("Russia",)


def test_ofac_2019_comments_file_is_from_another_snapshot_and_is_refused(data):
    # sdn_comments.csv in that folder was committed later than sdn.csv (see SOURCES.md): ids do not match.
    with pytest.raises(ListFormatError, match=r"sdn_comments\.csv line 4: comment refers to ent_num 17018"):
        parse_ofac_csv(W2019 / "sdn.csv", comments=W2019 / "sdn_comments.csv")


def test_ofac_2024_full_sdn_with_ctrl_z_end(data):
    assert SDN_2024.read_bytes().endswith(b"\x1a")
    sdn = parsed("ofac_2024")
    assert len(sdn.entries) == 14965
    assert types(sdn) == {"entity": 6884, "individual": 6854, "vessel": 851, "aircraft": 376}
    assert len(raw_programs(sdn)) == 215
    hesa = by_id(sdn)["11195"]
    assert hesa.names[0] == NameVariant("IRAN AIRCRAFT MANUFACTURING INDUSTRIAL COMPANY", "primary")
    assert hesa.programs == ("NPWMD", "IFSR", "IRAN-CON-ARMS-EO")
    assert [n.name for n in hesa.names if n.kind == "weak_aka"][:3] == ["HESA", "HTC", "IAMI"]
    # SUEX's Remarks run past sdn.csv's field limit (they continue in sdn_comments.csv), so its alias is not here.
    assert by_id(sdn)["33151"].remarks.endswith("alt. Digital Currency Address - XBT 1B64QRxf")


def test_ofac_2025_alt_and_add_do_not_belong_to_the_2024_sdn(data):
    """watchman_2025-02 has no sdn.csv; its alt/add refer to entries listed after 2024-05-03."""
    with pytest.raises(ListFormatError) as refused:
        parse_ofac_csv(SDN_2024, W2025 / "alt.csv")
    assert refused.value.line == 5936
    assert "alt.csv line 5936: alias 26095 refers to ent_num 17016" in str(refused.value)
    with pytest.raises(ListFormatError, match=r"add\.csv line 5683: address 25807 refers to ent_num 17016"):
        parse_ofac_csv(SDN_2024, add=W2025 / "add.csv")

    # Every row is still checked (columns, numeric ids, alias types) before the unmatched ones are dropped.
    joined = parse_ofac_csv(
        SDN_2024, W2025 / "alt.csv", W2025 / "add.csv", comments=W2025 / "sdn_comments.csv", orphans="skip"
    )
    assert len(joined.entries) == 14965
    found = kinds(joined)
    assert (found["aka"], found["fka"], found["nka"]) == (17444, 544, 17)
    assert sum(1 for entry in joined.entries if entry.countries) == 12182


def test_ofac_consolidated_csv_with_comments(data):
    cons = parsed("ofac_cons_csv")
    assert cons.source == "ofac_consolidated"
    assert len(cons.entries) == 442
    assert types(cons) == {"entity": 363, "individual": 79}
    assert len(raw_programs(cons)) == 12
    # Remarks cut off in cons_prim.csv continue in cons_comments.csv; the weak alias is at the very end.
    bank = by_id(cons)["17014"]
    assert bank.names[0].name == "JOINT STOCK COMPANY RUSSIAN AGRICULTURAL BANK"
    assert "ROSSELKHOZBANK" in names(bank)
    assert bank.names[-1] == NameVariant("RUSAG", "weak_aka")
    assert bank.remarks.endswith("a.k.a. 'RUSAG'.")


@pytest.mark.parametrize(
    ("broken", "line", "reason"),
    [
        ("sdn", 7380, "expected 12 columns, found 1"),
        ("alt", 9683, "expected 5 columns, found 1"),
        ("add", 11697, "expected 6 columns, found 1"),
    ],
)
def test_watchman_invalid_files_are_refused_with_line_and_reason(data, broken, line, reason):
    files = {kind: (INVALID if kind == broken else W2019) / f"{kind}.csv" for kind in ("sdn", "alt", "add")}
    with pytest.raises(ListFormatError) as refused:
        parse_ofac_csv(files["sdn"], files["alt"], files["add"])
    assert (refused.value.source, refused.value.line, refused.value.reason) == (f"{broken}.csv", line, reason)
    assert str(refused.value) == f"{broken}.csv line {line}: {reason}"
    again = pickle.loads(pickle.dumps(refused.value))
    assert (str(again), again.line, again.source) == (str(refused.value), line, f"{broken}.csv")


def test_watchman_invalid_comments_and_csl_are_refused(data):
    with pytest.raises(ListFormatError, match=r"sdn_comments\.csv line 4: expected 2 columns, found 1"):
        parse_ofac_csv(W2019 / "sdn.csv", comments=INVALID / "sdn_comments.csv")
    with pytest.raises(ListFormatError, match=r"csl\.csv line 1: expected 12 columns, found 28"):
        parse_ofac_csv(INVALID / "csl.csv")


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    return path


SDN_ROW = '{n},"{name}","individual","SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 1970; a.k.a. \'X\'."\r\n'


def test_ofac_csv_rows_are_checked(tmp_path):
    sdn = write(tmp_path / "sdn.csv", SDN_ROW.format(n=1, name="DOE, John") + SDN_ROW.format(n=2, name="ROE, Jane"))
    parsed_list = parse_ofac_csv(sdn)
    assert [e.names[0].name for e in parsed_list.entries] == ["DOE, John", "ROE, Jane"]
    assert parsed_list.entries[0].birth_dates == ("1970",)

    bad_id = write(tmp_path / "bad_id.csv", SDN_ROW.format(n="1a", name="A"))
    with pytest.raises(ListFormatError, match=r"bad_id\.csv line 1: ent_num '1a' is not a number"):
        parse_ofac_csv(bad_id)
    twice = write(tmp_path / "twice.csv", SDN_ROW.format(n=1, name="A") + SDN_ROW.format(n=1, name="B"))
    with pytest.raises(ListFormatError, match=r"twice\.csv line 2: ent_num 1 appears twice"):
        parse_ofac_csv(twice)
    nameless = write(tmp_path / "nameless.csv", SDN_ROW.format(n=1, name="  "))
    with pytest.raises(ListFormatError, match="has no SDN_Name"):
        parse_ofac_csv(nameless)

    alt = write(tmp_path / "alt.csv", '1,10,"aka","J. DOE",-0- \n3,11,"aka","NOBODY",-0- \n')
    with pytest.raises(ListFormatError) as orphan:
        parse_ofac_csv(sdn, alt)
    assert str(orphan.value) == "alt.csv line 2: alias 11 refers to ent_num 3, which has no primary record in sdn.csv"
    odd_type = write(tmp_path / "odd_alt.csv", '1,10,"xyz","J. DOE",-0- \n')
    with pytest.raises(ListFormatError, match=r"odd_alt\.csv line 1: unknown alt_type 'xyz'"):
        parse_ofac_csv(sdn, odd_type)


def test_ofac_csv_tolerates_ctrl_z_and_strips_control_characters(tmp_path):
    body = SDN_ROW.format(n=7, name="AL-\x07SAMPLE\tTRADING  CO") + "\x1a"
    sdn = write(tmp_path / "sdn.csv", body)
    alt = write(tmp_path / "alt.csv", '7,70,"fka","OLD\x00NAME",-0- \n7,71,"aka","   ",-0- \n\x1a')
    with pytest.raises(ListFormatError, match="NUL"):
        parse_ofac_csv(sdn, alt)
    write(alt, '7,70,"fka","OLD\x1bNAME",-0- \n7,71,"aka","   ",-0- \n\x1a')
    entry = parse_ofac_csv(sdn, alt).entries[0]
    assert names(entry) == ["AL- SAMPLE TRADING CO", "OLD NAME", "X"]
    assert [n.kind for n in entry.names] == ["primary", "fka", "weak_aka"]


@pytest.mark.parametrize("content", [b"", b"  \r\n\x1a", b"\x00\x01\x02 binary"])
def test_empty_or_binary_csv_is_refused(tmp_path, content):
    for parser, name in ((parse_ofac_csv, "sdn.csv"), (parse_uk_csv, "conlist.csv"), (parse_pep_csv, "pep.csv")):
        with pytest.raises(ListFormatError, match=name.replace(".", r"\.")):
            parser(write(tmp_path / name, content))


# --- OFAC XML ------------------------------------------------------------------------------------------


def test_ofac_consolidated_xml_current_namespace(data):
    cons = parsed("ofac_cons_xml")
    assert (cons.source, cons.published, cons.declared_count) == ("ofac_consolidated", "2025-03-28", 443)
    assert len(cons.entries) == 443
    assert types(cons) == {"entity": 363, "individual": 80}
    # 1136 <aka>: 992 a.k.a. + 144 f.k.a.; 70 of them weak; one repeats a name of its entry.
    assert kinds(cons) == {"primary": 443, "aka": 924, "fka": 141, "weak_aka": 70}
    zahhar = by_id(cons)["9647"]
    assert zahhar.names[0] == NameVariant("ZAHHAR, Mahmoud Khaled", "primary")
    assert ("ZAHAR, Mahmoud", "weak_aka") in [(n.name, n.kind) for n in zahhar.names]
    assert ("AL ZAHAR, Mahmoud Khaled", "aka") in [(n.name, n.kind) for n in zahhar.names]
    assert zahhar.programs == ("NS-PLC", "SDGT")
    assert zahhar.countries == ("Palestinian", "Region: Gaza")
    assert zahhar.birth_dates == ("1945",) and zahhar.remarks == "(Linked To: HAMAS)"


def test_ofac_consolidated_xml_and_csv_agree(data):
    xml, csv_list = by_id(parsed("ofac_cons_xml")), by_id(parsed("ofac_cons_csv"))
    assert set(csv_list) < set(xml) and set(xml) - set(csv_list) == {"26182"}
    differing = {
        i: (csv_list[i].names[0].name, xml[i].names[0].name)
        for i in csv_list
        if csv_list[i].names[0] != xml[i].names[0]
    }
    assert differing == {"18284": ("RN KOMSOMOLSKIY REFINERY LLC", "RN-KOMSOMOLSKY REFINERY LLC")}  # renamed in between
    assert all(csv_list[i].entry_type == xml[i].entry_type for i in csv_list)


def test_ofac_sdn_xml_excerpt_legacy_namespace(data):
    sdn = parse_ofac_xml(SDN_XML_EXCERPT)
    assert (sdn.source, sdn.published, sdn.declared_count) == ("ofac_sdn", "2020-10-29", 8497)
    assert len(sdn.entries) == 2  # an excerpt: the header still declares the full list's 8497
    first = sdn.entries[0]
    assert (first.source_id, first.entry_type, names(first)) == (
        "36",
        "entity",
        ["AEROCARIBBEAN AIRLINES", "AERO-CARIBBEAN"],
    )
    assert first.countries == ("Cuba",) and first.programs == ("CUBA",)


# --- EU ------------------------------------------------------------------------------------------------


def test_eu_v11_current_format(data):
    eu = parsed("eu_v11")
    assert (eu.source, eu.published) == ("eu_fsf", "2026-08-05")
    assert len(eu.entries) == 5
    assert types(eu) == {"individual": 4, "entity": 1}
    assert sum(len(entry.names) for entry in eu.entries) == 45  # every nameAlias is distinct within its entity
    ksm = by_id(eu)["191"]
    assert ksm.names[0] == NameVariant("Khalid Sheikh MOHAMMED", "primary")  # lowest nameAlias logicalId
    assert ksm.birth_dates == ("1965-04-14", "1964-03-01") and ksm.programs == ("TERR",)
    asiri = by_id(eu)["6177"]
    assert asiri.names[0].name == "Ibrahim Hassan Tali Al-Asiri"
    assert NameVariant("إبراهيم حسن طالع عسيري", "aka", "arabic") in asiri.names
    assert asiri.countries == ("SAUDI ARABIA", "YEMEN")
    parchin = by_id(eu)["3822"]
    assert parchin.entry_type == "entity" and parchin.names[0].name == "Parchin Chemical Industries (PCI)"
    assert NameVariant("صنایع شیمیایی پارچین", "aka", "arabic") in parchin.names  # Persian, in Arabic script
    assert by_id(eu)["521"].birth_dates == ("1953/1958",)


def test_eu_legacy_format(data):
    eu = parsed("eu_legacy")
    assert (eu.source, eu.published) == ("eu_fsf", "2016-02-11")
    assert len(eu.entries) == 595
    assert types(eu) == {"individual": 319, "entity": 276}
    # 2993 NAME records; 296 repeat a name already listed for the same ENTITY.
    assert kinds(eu) == {"primary": 595, "aka": 2102}
    mugabe = by_id(eu)["1"]
    assert names(mugabe) == ["Robert Gabriel Mugabe"] and mugabe.birth_dates == ("1924-02-21",)
    abu_nidal = by_id(eu)["201"]
    assert abu_nidal.names[0].name == "Abu Nidal Organisation"
    scripts = {n.name: n.script for n in abu_nidal.names}
    assert scripts["Организация Abu Nidal"] == "cyrillic"
    assert scripts["Οργάνωση Abu Nidal"] == "greek"
    assert scripts["Septembre noir"] == "latin"


# --- UN ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "published", "individuals", "entities"),
    [("un_2026", "2026-02-27", 730, 273), ("un_2025", "2025-04-19", 684, 193), ("un_2016", "2016-02-11", 130, 109)],
)
def test_un_counts(data, key, published, individuals, entities):
    un = parsed(key)
    assert (un.source, un.published) == ("un_sc", published)
    assert types(un) == {"individual": individuals, "entity": entities}
    assert len(by_id(un)) == individuals + entities


def test_un_2026_names_and_scripts(data):
    un = by_id(parsed("un_2026"))
    umarov = un["2960872"]
    assert umarov.names[0] == NameVariant("DOKU KHAMATOVICH UMAROV", "primary")
    assert NameVariant("Умаров Доку Хаматович", "original_script", "cyrillic") in umarov.names
    assert umarov.programs == ("Al-Qaida",) and "Russian Federation" in umarov.countries
    kim = un["6908566"]
    assert NameVariant("Jin Tiesan (金铁三)", "aka", "cjk") in kim.names
    assert kim.birth_dates == ("1971-03-11",)
    badege = un["6907993"]  # an empty ALIAS_NAME is skipped
    assert names(badege) == ["ERIC BADEGE"] and badege.countries == ("Democratic Republic of the Congo", "Rwanda")
    scripts = Counter(n.script for entry in un.values() for n in entry.names)
    assert scripts["arabic"] > 300 and scripts["cyrillic"] > 10 and scripts["cjk"] > 0


def test_un_2025_original_script_arabic(data):
    anwari = by_id(parsed("un_2025"))["110447"]
    assert anwari.names[0].name == "MUHAMMAD TAHER ANWARI"
    assert NameVariant("محمد طاهر أنوري", "original_script", "arabic") in anwari.names
    assert NameVariant("Haji Mudir", "weak_aka") in anwari.names  # QUALITY Low
    assert anwari.birth_dates == ("1961",) and anwari.programs == ("Taliban",)


def test_un_2016_packed_aliases_are_split(data):
    zolqadr = by_id(parsed("un_2016"))["110404"]
    assert names(zolqadr) == [
        "MOHAMMAD BAQER ZOLQADR",
        "Mohammad Bakr Zolqadr",
        "Mohammad Bakr Zolkadr",
        "Mohammad Baqer Zolqadir",
        "Mohammad Baqer Zolqader",
    ]


# --- UK ------------------------------------------------------------------------------------------------


def test_uk_2016_subset(data):
    uk = parsed("uk_2016")
    assert (uk.source, uk.published) == ("uk_hmt", "2016-02-12")
    assert len(uk.entries) == 463
    assert types(uk) == {"individual": 323, "entity": 140}
    entry = by_id(uk)["7087"]  # no "Prime Alias" row for this group in the subset: names[0] keeps its kind
    assert entry.names[0] == NameVariant("Mohamed ABU ABDA", "aka")
    assert entry.birth_dates == ("1969-02-05",) and entry.countries == ("Tunisian",)
    # Windows-1252 quotes read as such.
    assert any(n.name == "‘Abd al-Khaliq Badr al-Din AL-HUTHI" for e in uk.entries for n in e.names)


def test_uk_2018_full_list(data):
    uk = parsed("uk_2018")
    assert (uk.source, uk.published) == ("uk_hmt", "2018-04-13")
    assert len(uk.entries) == 2106
    assert types(uk) == {"individual": 1426, "entity": 680}
    assert kinds(uk)["primary"] == 2106  # every group has a Prime Alias row
    qahtani = by_id(uk)["13349"]
    assert qahtani.names[0] == NameVariant("Nayef Salam Muhammad Ujaym AL-HABABI", "primary")
    assert "Sheikh Farooq AL-QAHTANI" in names(qahtani)
    assert qahtani.birth_dates == ("1980", "1981")  # published as 00/00/1980 and 00/00/1981
    assert qahtani.countries == ("Saudi Arabia", "Qatar", "Afghanistan (since 2009)")
    assert qahtani.programs == ("The ISIL (Da'esh) and Al-Qaida organisations",)


def test_uk_header_checked(tmp_path):
    header = "Name 6,Name 1,DOB,Nationality,Country,Other Information,Group Type,Alias Type,Regime,Group ID\n"
    good = (
        "Last Updated,01/02/2024\n"
        + header
        + "DOE,John,00/05/1970,(1) Ruritania (2) Freedonia,,,Individual,Primary name,R,1\n"
    )
    entry = parse_uk_csv(write(tmp_path / "ok.csv", good)).entries[0]
    assert entry.names[0] == NameVariant("John DOE", "primary")
    assert entry.birth_dates == ("1970-05",) and entry.countries == ("Ruritania", "Freedonia")
    with pytest.raises(ListFormatError, match=r"no_date\.csv line 1: expected 'Last Updated,<dd/mm/yyyy>'"):
        parse_uk_csv(write(tmp_path / "no_date.csv", header))
    with pytest.raises(ListFormatError, match=r"short\.csv line 2: header lacks Group ID"):
        parse_uk_csv(write(tmp_path / "short.csv", "Last Updated,01/02/2024\nName 6,Alias Type,Group Type\n"))
    with pytest.raises(ListFormatError, match=r"cols\.csv line 3: expected 10 columns, found 3"):
        parse_uk_csv(write(tmp_path / "cols.csv", "Last Updated,01/02/2024\n" + header + "DOE,John,x\n"))
    with pytest.raises(ListFormatError, match=r"empty_list\.csv: no entries"):
        parse_uk_csv(write(tmp_path / "empty_list.csv", "Last Updated,01/02/2024\n" + header))


# --- wrong formats, hostile XML --------------------------------------------------------------------------


def test_a_list_given_to_the_wrong_parser_is_refused(data):
    with pytest.raises(ListFormatError, match=r"data\.xml line 3: not a UN consolidated list: root element is <WHOLE>"):
        parse_un_xml(EU_LEGACY)
    with pytest.raises(
        ListFormatError, match=r"UN\.xml line 2: not an EU FSF file: root element is <CONSOLIDATED_LIST>"
    ):
        parse_eu_xml(UN_2025)
    with pytest.raises(ListFormatError, match=r"sample_eu_fsf\.xml line 2: not an OFAC sdnList file"):
        parse_ofac_xml(EU_V11)
    with pytest.raises(ListFormatError, match=r"data\.csv line 1: not well-formed XML"):
        parse_un_xml(UK_2016)
    with pytest.raises(ListFormatError, match=r"data\.csv line 1: expected 12 columns, found 2"):
        parse_ofac_csv(UK_2016)
    with pytest.raises(ListFormatError, match=r"sdn\.csv line 1: expected 'Last Updated"):
        parse_uk_csv(SMALL / "sdn.csv")
    with pytest.raises(ListFormatError, match=r"sdn\.csv line 1: expected header 'id,name,aliases,country,position'"):
        parse_pep_csv(SMALL / "sdn.csv")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "file is empty"),
        ("   \n", "file is empty"),
        ("this is not XML", "not well-formed XML"),
        ("<CONSOLIDATED_LIST><INDIVIDUALS>", "not well-formed XML"),
        ('<CONSOLIDATED_LIST dateGenerated="2026-01-01"><INDIVIDUALS/><ENTITIES/></CONSOLIDATED_LIST>', "no entries"),
        ("<CONSOLIDATED_LIST/>", "neither INDIVIDUALS nor ENTITIES present"),
    ],
)
def test_empty_or_garbage_xml_is_refused(tmp_path, content, reason):
    with pytest.raises(ListFormatError, match=reason):
        parse_un_xml(write(tmp_path / "un.xml", content))


def test_xml_errors_name_the_element_path_and_line(tmp_path):
    un = write(
        tmp_path / "un.xml",
        "<CONSOLIDATED_LIST>\n<INDIVIDUALS>\n<INDIVIDUAL><DATAID>1</DATAID><FIRST_NAME>A</FIRST_NAME></INDIVIDUAL>\n"
        "<INDIVIDUAL><DATAID>2</DATAID></INDIVIDUAL>\n</INDIVIDUALS>\n</CONSOLIDATED_LIST>\n",
    )
    with pytest.raises(ListFormatError) as refused:
        parse_un_xml(un)
    assert str(refused.value) == "un.xml line 4 (/CONSOLIDATED_LIST/INDIVIDUALS/INDIVIDUAL[2]): entry 2 has no name"
    ofac = write(
        tmp_path / "sdn.xml",
        '<sdnList xmlns="http://tempuri.org/sdnList.xsd">\n<sdnEntry><uid>5</uid><lastName>X</lastName></sdnEntry>\n'
        "<sdnEntry><lastName>Y</lastName></sdnEntry>\n</sdnList>",
    )
    with pytest.raises(ListFormatError, match=r"sdn\.xml line 3 \(/sdnList/sdnEntry\[2\]\): sdnEntry without uid"):
        parse_ofac_xml(ofac)


XXE = """<?xml version="1.0"?>
<!DOCTYPE sdnList [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<sdnList><sdnEntry><uid>1</uid><lastName>&secret;</lastName><sdnType>Entity</sdnType></sdnEntry></sdnList>
"""
LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE CONSOLIDATED_LIST [\n <!ENTITY lol "lol">\n'
    + "".join(f' <!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">\n' for i in range(1, 10))
    + "]>\n<CONSOLIDATED_LIST><ENTITIES><ENTITY><DATAID>1</DATAID><FIRST_NAME>&lol9;</FIRST_NAME></ENTITY>"
    "</ENTITIES></CONSOLIDATED_LIST>"
)
EXTERNAL_DTD = '<?xml version="1.0"?>\n<!DOCTYPE export SYSTEM "http://attacker.example/eu.dtd">\n<export/>'


@pytest.mark.parametrize(
    ("content", "parser", "reason"),
    [
        (XXE, parse_ofac_xml, "DOCTYPE declares entities"),
        (LAUGHS, parse_un_xml, "DOCTYPE declares entities"),
        (EXTERNAL_DTD, parse_eu_xml, "external DTD"),
        ("<!-- a comment first -->\n" + XXE.split("\n", 1)[1], parse_ofac_xml, "DOCTYPE declares entities"),
    ],
)
def test_hostile_xml_is_refused_before_parsing(tmp_path, content, parser, reason):
    with pytest.raises(ListFormatError, match=reason) as refused:
        parser(write(tmp_path / "hostile.xml", content))
    assert refused.value.line == 2


def test_hostile_xml_in_utf16_still_refused_by_the_parser(tmp_path):
    # The byte scan cannot read UTF-16; lxml's entity limits and the DTD check behind it still refuse.
    content = LAUGHS.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    with pytest.raises(ListFormatError):
        parse_un_xml(write(tmp_path / "laughs16.xml", content.encode("utf-16")))
    xxe = XXE.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    with pytest.raises(ListFormatError, match="DOCTYPE with entities"):
        parse_ofac_xml(write(tmp_path / "xxe16.xml", xxe.encode("utf-16")))


# --- PEP -----------------------------------------------------------------------------------------------


def test_pep_round_trip(tmp_path):
    people = (
        ListEntry(
            source_id="PEP-0001",
            entry_type="individual",
            names=(
                NameVariant("Amina Okafor", "primary"),
                NameVariant("A. Okafor", "aka"),
                NameVariant("Амина Окафор", "aka", "cyrillic"),
            ),
            countries=("NG", "GB"),
            remarks='Minister of Finance, "acting"',
        ),
        ListEntry(source_id="PEP-0002", entry_type="individual", names=(NameVariant("Ravi Menon", "primary"),)),
    )
    path = tmp_path / "pep.csv"
    write_pep_csv(path, people)
    assert path.read_text(encoding="utf-8").splitlines()[0] == "id,name,aliases,country,position"
    again = parse_pep_csv(path)
    assert (again.source, again.published, again.entries) == ("pep", None, people)
    assert parse_list("pep_csv", [path]).entries == people


def test_pep_format_rules(tmp_path):
    text = "\ufeffid,name,aliases,country,position\nP1,  Jane   Doe ,J. Doe; ;Janie Doe,US;CA,Senator\n"
    entry = parse_pep_csv(write(tmp_path / "pep.csv", text)).entries[0]
    assert names(entry) == ["Jane Doe", "J. Doe", "Janie Doe"]
    assert entry.countries == ("US", "CA") and entry.remarks == "Senator"
    head = "id,name,aliases,country,position\n"
    for body, reason in [
        ("P1,A,,,\nP1,B,,,\n", r"line 3: id P1 appears twice"),
        ("P1,,x,,\n", r"line 2: id P1 has no name"),
        (",A,,,\n", r"line 2: empty id"),
        ("P1,A,,\n", r"line 2: expected 5 columns, found 4"),
        ("", r"pep\.csv: no entries"),
    ]:
        with pytest.raises(ListFormatError, match=reason):
            parse_pep_csv(write(tmp_path / "pep.csv", head + body))


# --- dispatch, helpers, speed ------------------------------------------------------------------------------


def test_parse_list_dispatch(data, tmp_path):
    sdn = parse_list("ofac_csv", [W2019 / "add.csv", W2019 / "sdn.csv", W2019 / "alt.csv"])
    assert sdn.source == "ofac_sdn" and len(sdn.entries) == 7379
    assert parse_list("ofac_xml", [CONS_XML]).source == "ofac_consolidated"
    assert parse_list("eu_xml", [EU_V11]).source == "eu_fsf"
    assert parse_list("un_xml", [UN_2016]).source == "un_sc"
    assert parse_list("uk_csv", [UK_2016]).source == "uk_hmt"
    with pytest.raises(ValueError, match="unknown list format"):
        parse_list("swift_rma", [UN_2016])
    with pytest.raises(ValueError, match="exactly one file"):
        parse_list("un_xml", [UN_2016, UN_2025])
    with pytest.raises(ListFormatError, match=r"csl\.csv: not an OFAC CSV file name"):
        parse_list("ofac_csv", [W2019 / "sdn.csv", INVALID / "csl.csv"])
    with pytest.raises(ValueError, match="needs sdn.csv"):
        parse_list("ofac_csv", [W2019 / "alt.csv"])


@pytest.mark.parametrize(
    ("name", "script"),
    [
        ("SMITH, John", "latin"),
        ("GROUPE ISLAMIQUE ARMÉ", "latin"),
        ("‘Abd al-Khaliq AL-HUTHI", "latin"),
        ("محمد طاهر أنوري", "arabic"),
        ("صنایع شیمیایی پارچین", "arabic"),
        ("Умаров Доку Хаматович", "cyrillic"),
        ("Μαύρος Σεπτέµβρης", "greek"),
        ("朝鲜联合机械贸易会社", "cjk"),
        ("김정은", "hangul"),
        ("Amir Khazmat (original script: Амир Хазмат)", "cyrillic"),
    ],
)
def test_name_script(name, script):
    assert name_script(name) == script


@pytest.mark.parametrize(
    ("published", "iso"),
    [
        ("28 Jul 1963", "1963-07-28"),
        ("Dec 1970", "1970-12"),
        ("1962", "1962"),
        ("1960 to 1962", "1960/1962"),
        ("01 Jan 1960 to 31 Dec 1962", "1960-01-01/1962-12-31"),
        ("circa 1955", "circa 1955"),
        ("00/00/1980", "1980"),
        ("00/05/1980", "1980-05"),
        ("05/02/1969", "1969-02-05"),
        ("1965-04-14", "1965-04-14"),
        ("31 Feb 1970", "31 Feb 1970"),
    ],
)
def test_iso_birth_date(published, iso):
    assert iso_birth_date(published) == iso


@pytest.mark.parametrize(
    "parse",
    [
        lambda: parse_ofac_csv(SDN_2024),
        lambda: parse_ofac_csv(W2019 / "sdn.csv", W2019 / "alt.csv", W2019 / "add.csv"),
        lambda: parse_un_xml(UN_2026),
        lambda: parse_un_xml(UN_2025),
        lambda: parse_uk_csv(UK_2018),
        lambda: parse_eu_xml(EU_LEGACY),
        lambda: parse_ofac_xml(CONS_XML),
    ],
    ids=["ofac_sdn_2024", "ofac_2019_with_alt_add", "un_2026", "un_2025", "uk_2018", "eu_legacy", "ofac_cons_xml"],
)
def test_each_full_file_parses_whole(data, parse):
    # Parse speed is measured by bench/screening.py, not asserted here (a timed test fails on a busy machine).
    parsed = parse()
    entries = parsed.entries
    assert len(entries) > 100
    assert parsed.declared_count in (None, len(entries))
    assert all(entry.names for entry in entries)
