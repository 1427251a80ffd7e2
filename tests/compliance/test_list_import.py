"""`import_sanctions` with the real official files: each format, version replacement, refusal of broken files."""

import gc
import os
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from compliance.models import ListEntry, ListEntryName, ListVersion, ScreeningList
from compliance.selectors import screening_index, screening_index_clear
from deltran.models import AuditEntry

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "sanctions"

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(
        not DATA.is_dir() and os.environ.get("DELTRAN_REQUIRE_SERVICES") != "1",
        reason=f"the shared test data is not at {DATA}",
    ),
]


@pytest.fixture(autouse=True)
def _fresh_index():
    screening_index_clear()
    yield
    screening_index_clear()


def current(code: str) -> ListVersion:
    return ScreeningList.objects.get(code=code).current_version


@pytest.mark.parametrize(
    ("source", "files", "code", "entries"),
    [
        (
            "ofac_csv",
            ["ofac/watchman_2019/sdn.csv", "ofac/watchman_2019/alt.csv", "ofac/watchman_2019/add.csv"],
            "ofac_sdn",
            7379,
        ),
        ("ofac_xml", ["ofac/consolidated_nonsdn_xml/consolidated.xml"], "ofac_sdn", 443),
        ("eu_xml", ["eu/fsf_v1.1_excerpt_2026-08-05/sample_eu_fsf.xml"], "eu_fsf", 5),
        ("un_xml", ["un/watchman_2026-02-27/UN_consolidated.xml"], "un_sc", 1003),
        ("uk_csv", ["uk/hmt_conlist_2018-04-13/sanctionsconlist.csv"], "uk_hmt", 2106),
    ],
)
def test_each_official_format_imports_with_source_date_hash_and_counts(source, files, code, entries, capsys):
    call_command("import_sanctions", source, *[str(DATA / f) for f in files])
    version = current(code)
    assert version.entry_count == entries
    assert ListEntry.objects.filter(version=version).count() == entries
    assert ListEntryName.objects.filter(entry__version=version).count() == version.name_count >= entries
    assert len(version.file_sha256) == 64
    assert version.file_names == [Path(f).name for f in files]
    assert f"{entries} entries" in capsys.readouterr().out
    assert AuditEntry.objects.filter(action="compliance.list_import", object_id=code).exists()


def test_a_new_version_replaces_the_old_at_once():
    call_command("import_sanctions", "ofac_csv", str(DATA / "ofac/watchman_small/sdn.csv"))
    first = current("ofac_sdn")
    call_command("import_sanctions", "ofac_csv", str(DATA / "ofac/watchman_2019/sdn.csv"))
    second = current("ofac_sdn")
    assert second.pk != first.pk and second.entry_count == 7379
    assert not ListEntry.objects.filter(version=first).exists()  # old entries gone
    assert ListVersion.objects.filter(pk=first.pk).exists()  # its record (file, hash, counts) kept
    assert screening_index().versions["ofac_sdn"] == second.pk


@pytest.mark.parametrize("broken", ["sdn.csv", "alt.csv", "add.csv"])
def test_a_broken_file_is_refused_with_line_and_reason_and_the_old_list_stays(broken):
    call_command("import_sanctions", "ofac_csv", str(DATA / "ofac/watchman_2019/sdn.csv"))
    before = current("ofac_sdn")
    files = {name: DATA / "ofac/watchman_2019" / name for name in ("sdn.csv", "alt.csv", "add.csv")}
    files[broken] = DATA / "ofac/watchman_invalidFiles" / broken
    with pytest.raises(CommandError) as refused:
        call_command("import_sanctions", "ofac_csv", *[str(p) for p in files.values()])
    message = str(refused.value)
    assert "line" in message and broken in message and "previous version" in message
    assert current("ofac_sdn").pk == before.pk
    assert ListEntry.objects.filter(version=before).count() == 7379
    assert ListVersion.objects.filter(screening_list__code="ofac_sdn").count() == 1


def test_the_index_finds_real_list_names_after_import():
    call_command("import_sanctions", "un_xml", str(DATA / "un/watchman_2026-02-27/UN_consolidated.xml"))
    loaded = screening_index()
    entry = ListEntry.objects.filter(version=current("un_sc"), entry_type="individual").first()
    hits = loaded.index.screen(entry.primary_name)
    assert hits and hits[0].entry_id == entry.source_id and hits[0].level == "CRITICAL"


def test_the_built_index_is_kept_out_of_the_cyclic_collector():
    call_command("import_sanctions", "un_xml", str(DATA / "un/watchman_2026-02-27/UN_consolidated.xml"))
    gc.unfreeze()
    loaded = screening_index()
    # Frozen: a full collection during a batch no longer walks the index's objects.
    assert gc.get_freeze_count() > 0
    assert not any(obj is loaded.index for obj in gc.get_objects())
    gc.unfreeze()


def test_unknown_source_and_missing_file_are_refused(tmp_path):
    with pytest.raises(CommandError):
        call_command("import_sanctions", "nope", str(tmp_path / "x.csv"))
    with pytest.raises(CommandError, match="Not a file"):
        call_command("import_sanctions", "ofac_csv", str(tmp_path / "missing.csv"))
    garbage = tmp_path / "sdn.csv"
    garbage.write_bytes(b"\x00\x01garbage")
    with pytest.raises(CommandError, match="refused"):
        call_command("import_sanctions", "ofac_csv", str(garbage))
