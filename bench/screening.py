"""Benchmark of the name-screening engine on the real sanctions lists: index build time and memory, latency per name.

    .venv/bin/python bench/screening.py [--queries 5000] [--recall-sample 300] [--all-snapshots] [--json-out F]

Loads every name of the latest full snapshot of each list in /work/shared/data/sanctions/ (OFAC SDN and
consolidated, UN SC, EU FSF, UK HMT; --all-snapshots adds the older and excerpt files too) with the parsers of
compliance/engines/lists.py, builds the ScreeningIndex (time; memory traced with tracemalloc in a second build),
then screens a seeded mix of query names one at a time and prints p50/p90/p99/max latency per name and names/s:

* list names as published, and with 1-3 random character edits;
* "LAST, First" names written "First Last"; list names rendered in Cyrillic; the lists' own non-Latin names;
* names that should not match: random given names and surnames, random company names.

Then, on a sample of queries, the blocked index is compared with an exhaustive scan of every name
(`screen_exhaustive`): the share of the scan's matches the index also found, by algorithm.
Targets: build ≤ 10 s, p99 ≤ 1 ms per name. Not a test: it reports, it does not fail on a missed target.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import resource
import statistics
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from compliance.engines.lists import ParsedList, parse_list, parse_ofac_csv  # noqa: E402
from compliance.engines.screening import LEVEL_RANK, IndexedName, ScreeningIndex  # noqa: E402

DATA = Path("/work/shared/data/sanctions")
TARGET_BUILD_S = 10.0
TARGET_P99_MS = 1.0

# (label, loader): the latest full snapshot of each list.
LATEST = (
    ("OFAC SDN 2024-05-03 (+ alt.csv 2025-02)", lambda: parse_ofac_csv(
        DATA / "ofac/sdn_csv_full_2024-05-03/sdn.csv", DATA / "ofac/watchman_2025-02/alt.csv", orphans="skip")),
    ("OFAC consolidated (non-SDN)", lambda: parse_list("ofac_csv", [
        DATA / "ofac/consolidated_nonsdn_csv/cons_prim.csv", DATA / "ofac/consolidated_nonsdn_csv/cons_alt.csv"])),
    ("UN SC 2026-02-27", lambda: parse_list("un_xml", [DATA / "un/watchman_2026-02-27/UN_consolidated.xml"])),
    ("EU FSF 2016-02-11", lambda: parse_list("eu_xml", [DATA / "eu/fsf_legacy_v1.0_2016-02-11/data.xml"])),
    ("UK HMT 2018-04-13", lambda: parse_list("uk_csv", [DATA / "uk/hmt_conlist_2018-04-13/sanctionsconlist.csv"])),
)
OLDER = (
    ("OFAC SDN 2019 (watchman)", lambda: parse_list("ofac_csv", [
        DATA / "ofac/watchman_2019/sdn.csv", DATA / "ofac/watchman_2019/alt.csv"])),
    ("OFAC consolidated XML 2025-03", lambda: parse_list("ofac_xml", [
        DATA / "ofac/consolidated_nonsdn_xml/consolidated.xml"])),
    ("UN SC 2025-04-19", lambda: parse_list("un_xml", [DATA / "un/kebalkhadka_2025-04-19/UN.xml"])),
    ("UN SC 2016 subset", lambda: parse_list("un_xml", [DATA / "un/opendatalabcz_2016/data.xml"])),
    ("EU FSF v1.1 excerpt 2026", lambda: parse_list("eu_xml", [
        DATA / "eu/fsf_v1.1_excerpt_2026-08-05/sample_eu_fsf.xml"])),
    ("UK HMT 2016 subset", lambda: parse_list("uk_csv", [DATA / "uk/hmt_conlist_2016-02-12/data.csv"])),
)

GIVEN = ("James John Robert Michael William David Richard Joseph Thomas Charles Mary Patricia Jennifer Linda "
         "Elizabeth Barbara Susan Jessica Sarah Karen Lars Sven Ingrid Pierre Jean Marie Sophie Luca Giulia Hans "
         "Klaus Petra Carlos Maria Lucia Pedro Ana Kenji Yuki Wei Mei Priya Rahul Anil Olga Nikolai Emeka Chidi "
         "Amara Kwame Fatou Thabo Zanele Hugo Emil Freya Noah Liam Ava Isla").split()
SURNAMES = ("Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin Jackson "
            "Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Green Baker Adams "
            "Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans Turner Torres Parker Collins Edwards "
            "Stewart Morris Murphy Cook Rogers Morgan Peterson Cooper Reed Bailey Bell Gomez Kelly Howard Ward "
            "Cox Diaz Richardson Wood Watson Brooks Bennett Gray James Reyes Cruz Hughes Price Myers Long Foster "
            "Sanders Ross Morales Powell Sullivan Russell Ortiz Jenkins Gutierrez Perry Butler Barnes Fisher "
            "Henderson Coleman Simmons Patterson Jordan Reynolds Hamilton Graham Kim Gonzales Alexander Ramos "
            "Wallace Griffin West Cole Hayes Chavez Gibson Bryant Ellis Stevens Murray Ford Marshall Owens "
            "Lindqvist Bergstrom Dubois Lefebvre Rossi Bianchi Muller Schneider Fischer Weber Tanaka Suzuki "
            "Okafor Mensah Nkosi Dlamini Novak Kowalski Horvath Nielsen Jensen Virtanen").split()
COMPANY_WORDS = ("Global Northern Pacific Atlantic Alpine Harbour Summit Crescent Meridian Sterling Evergreen "
                 "Riverside Horizon Pioneer Keystone Liberty Heritage Silverline Bluewater Granite Oakwood "
                 "Logistics Trading Foods Textiles Shipping Holdings Partners Systems Analytics Engineering "
                 "Consulting Ventures Capital Imports Exports Retail Pharma Motors Energy Media").split()
LEGAL = ("GmbH", "Ltd", "LLC", "Inc.", "S.A.", "B.V.", "AG", "plc", "Pty Ltd", "S.r.l.", "")
LATIN_TO_CYRILLIC = {
    "shch": "щ", "zh": "ж", "kh": "х", "ts": "ц", "ch": "ч", "sh": "ш", "yu": "ю", "ya": "я", "a": "а", "b": "б",
    "v": "в", "g": "г", "d": "д", "e": "е", "z": "з", "i": "и", "y": "й", "k": "к", "l": "л", "m": "м", "n": "н",
    "o": "о", "p": "п", "r": "р", "s": "с", "t": "т", "u": "у", "f": "ф", "h": "х", "c": "к", "w": "в", "q": "к",
    "x": "кс", "j": "дж",
}


def load_names(all_snapshots: bool) -> tuple[list[IndexedName], list[tuple[str, int, int]]]:
    names: list[IndexedName] = []
    loaded = []
    for label, loader in LATEST + (OLDER if all_snapshots else ()):
        parsed: ParsedList = loader()
        before = len(names)
        names.extend(
            IndexedName(list_code=parsed.source, entry_id=entry.source_id, name=variant.name, kind=variant.kind,
                        entry_type=entry.entry_type)
            for entry in parsed.entries for variant in entry.names
        )
        loaded.append((label, len(parsed.entries), len(names) - before))
    return names, loaded


def edit(text: str, rng: random.Random, edits: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    chars = list(text)
    for _ in range(edits):
        spots = [i for i, ch in enumerate(chars) if ch.isalpha()]
        if not spots:
            break
        at = rng.choice(spots)
        operation = rng.choice(("substitute", "insert", "delete", "transpose"))
        if operation == "substitute":
            chars[at] = rng.choice(letters)
        elif operation == "insert":
            chars.insert(at, rng.choice(letters))
        elif operation == "delete" and len(spots) > 1:
            del chars[at]
        elif operation == "transpose" and at + 1 < len(chars):
            chars[at], chars[at + 1] = chars[at + 1], chars[at]
    return "".join(chars)


def to_cyrillic(text: str) -> str:
    out, i, low = [], 0, text.lower()
    while i < len(low):
        for size in (4, 2, 1):
            chunk = low[i:i + size]
            if chunk in LATIN_TO_CYRILLIC:
                out.append(LATIN_TO_CYRILLIC[chunk])
                i += size
                break
        else:
            out.append(low[i])
            i += 1
    return "".join(out)


def make_queries(names: list[IndexedName], count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    latin = [n for n in names if n.name.isascii()]
    surname_first = [n for n in latin if n.entry_type == "individual" and n.name.count(",") == 1]
    non_latin = [n for n in names if not n.name.isascii()]
    mix = (("list name as published", 0.10), ("list name, 1 edit", 0.12), ("list name, 2 edits", 0.10),
           ("list name, 3 edits", 0.08), ("'LAST, First' as 'First Last'", 0.05), ("list name in Cyrillic", 0.05),
           ("list's own non-Latin name", 0.05), ("random person (no match expected)", 0.30),
           ("random company (no match expected)", 0.15))
    queries = []
    for category, share in mix:
        for _ in range(round(count * share)):
            if category == "list name as published":
                query = rng.choice(latin).name
            elif category.startswith("list name, "):
                query = edit(rng.choice(latin).name, rng, int(category.split(", ")[1][0]))
            elif category.startswith("'LAST"):
                last, first = rng.choice(surname_first).name.split(",")
                query = f"{first.strip()} {last.strip().title()}"
            elif category == "list name in Cyrillic":
                query = to_cyrillic(rng.choice(latin).name)
            elif category == "list's own non-Latin name":
                query = rng.choice(non_latin).name
            elif category.startswith("random person"):
                query = f"{rng.choice(GIVEN)} {rng.choice(SURNAMES)}"
                if rng.random() < 0.3:
                    query = f"{rng.choice(GIVEN)} {query}"
            else:
                words = rng.sample(COMPANY_WORDS, rng.randint(1, 3))
                query = " ".join([rng.choice(SURNAMES), *words, rng.choice(LEGAL)]).strip()
            queries.append((category, query))
    rng.shuffle(queries)
    return queries


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--recall-sample", type=int, default=300, help="queries also run exhaustively (0: skip)")
    parser.add_argument("--all-snapshots", action="store_true", help="also load the older and excerpt files")
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--repeat", type=int, default=3, help="rounds over the query names (best-of figures)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()

    started = time.perf_counter()
    names, loaded = load_names(args.all_snapshots)
    load_s = time.perf_counter() - started
    print(f"Loaded {len(names):,} names in {load_s:.2f} s (parsing the files):")
    for label, entries, count in loaded:
        print(f"  {label:45s} {entries:7,} entries {count:7,} names")

    gc.collect()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    index = ScreeningIndex(names)
    build_s = time.perf_counter() - started
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del index
    gc.collect()
    tracemalloc.start()
    index = ScreeningIndex(names)
    retained_bytes, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"\nIndex: {len(index):,} names, {index.form_count:,} distinct normalised forms (name variants included)")
    print(f"  build {build_s:.2f} s (target ≤ {TARGET_BUILD_S:.0f} s); memory held by the index "
          f"{retained_bytes / 2**20:.1f} MiB, peak during build {peak_bytes / 2**20:.1f} MiB (tracemalloc); "
          f"process max RSS grew {(rss_after - rss_before) / 1024:.1f} MiB")

    queries = make_queries(names, args.queries, args.seed)
    for _, query in queries[:200]:  # warm-up
        index.screen(query)
    load_before = os.getloadavg()[0]
    # Each name is screened `--repeat` times in rounds; per name we keep the first round's wall time, its CPU
    # time (thread_time: unaffected by other processes taking the CPU) and the best wall time of all rounds.
    wall: list[list[float]] = [[] for _ in queries]
    cpu: list[float] = []
    hits: dict[str, Counter] = {}
    gc.disable()
    started = time.perf_counter()
    for round_number in range(args.repeat):
        for i, (category, query) in enumerate(queries):
            t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
            matches = index.screen(query)
            c1, t1 = time.thread_time_ns(), time.perf_counter_ns()
            wall[i].append((t1 - t0) / 1e6)
            if round_number == 0:
                cpu.append((c1 - c0) / 1e6)
                hits.setdefault(category, Counter())[matches[0].level if matches else "none"] += 1
        if round_number == 0:
            total_s = time.perf_counter() - started
    gc.enable()
    load_after = os.getloadavg()[0]
    first = [w[0] for w in wall]
    best = [min(w) for w in wall]
    p50, p90, p99 = (percentile(first, q) for q in (0.50, 0.90, 0.99))
    cpu_p50, cpu_p99 = percentile(cpu, 0.50), percentile(cpu, 0.99)
    best_p50, best_p90, best_p99 = (percentile(best, q) for q in (0.50, 0.90, 0.99))
    print(f"\nScreened {len(queries):,} names one at a time (gc off): {len(queries) / total_s:,.0f} names/s "
          f"(first round {total_s:.2f} s); load average {load_before:.2f} before, {load_after:.2f} after "
          f"({os.cpu_count()} CPUs)")
    print(f"  wall, first round:      p50 {p50:.3f} ms, p90 {p90:.3f} ms, p99 {p99:.3f} ms, max {max(first):.3f} ms, "
          f"mean {statistics.mean(first):.3f} ms")
    print(f"  CPU time, first round:  p50 {cpu_p50:.3f} ms, p99 {cpu_p99:.3f} ms")
    print(f"  wall, best of {args.repeat} rounds: p50 {best_p50:.3f} ms, p90 {best_p90:.3f} ms, p99 {best_p99:.3f} ms, "
          f"max {max(best):.3f} ms   (target p99 ≤ {TARGET_P99_MS:.1f} ms)")
    by_category: dict[str, list[float]] = {}
    for (category, _), value in zip(queries, best, strict=True):
        by_category.setdefault(category, []).append(value)
    print(f"\n  {'query kind':38s} {'n':>5s} {'p50 ms':>7s} {'p99 ms':>7s}  (best of {args.repeat})  best match level")
    for category, values in by_category.items():
        levels = ", ".join(f"{level} {n}" for level, n in sorted(
            hits[category].items(), key=lambda item: -LEVEL_RANK.get(item[0], -1)))
        print(f"  {category:38s} {len(values):5d} {percentile(values, 0.5):7.3f} {percentile(values, 0.99):7.3f}  "
              f"{levels}")

    recall = {}
    if args.recall_sample:
        sample = random.Random(args.seed + 1).sample(queries, min(args.recall_sample, len(queries)))
        found: Counter = Counter()
        expected: Counter = Counter()
        started = time.perf_counter()
        for _, query in sample:
            indexed = {(m.list_code, m.entry_id): m for m in index.screen(query, limit=10**6)}
            for m in index.screen_exhaustive(query, limit=10**6):
                expected[m.algorithm, m.level] += 1
                got = indexed.get((m.list_code, m.entry_id))
                if got is not None and (LEVEL_RANK[got.level], got.score) >= (LEVEL_RANK[m.level], m.score):
                    found[m.algorithm, m.level] += 1
        scan_s = time.perf_counter() - started
        print(f"\nBlocked index against an exhaustive scan of every name, {len(sample)} queries "
              f"(scan {scan_s / len(sample) * 1e3:.0f} ms per name): matches (entry, level) the index also found")
        for key in sorted(expected, key=lambda k: (-LEVEL_RANK[k[1]], k[0])):
            share = found[key] / expected[key]
            recall[f"{key[0]} {key[1]}"] = {"found": found[key], "expected": expected[key]}
            print(f"  {key[1]:8s} {key[0]:13s} {found[key]:5d} / {expected[key]:5d}  {share:7.2%}")
        total_found, total_expected = sum(found.values()), sum(expected.values())
        print(f"  {'all':22s} {total_found:5d} / {total_expected:5d}  {total_found / max(1, total_expected):7.2%}")

    print(f"\nPython {platform.python_version()}, {platform.machine()}; "
          f"build {'OK' if build_s <= TARGET_BUILD_S else 'MISSED'}; p99 wall first round "
          f"{'OK' if p99 <= TARGET_P99_MS else 'MISSED'}, CPU {'OK' if cpu_p99 <= TARGET_P99_MS else 'MISSED'}, "
          f"best of {args.repeat} {'OK' if best_p99 <= TARGET_P99_MS else 'MISSED'}")
    if args.json_out:
        args.json_out.write_text(json.dumps({
            "names": len(names), "forms": index.form_count, "build_s": build_s,
            "index_mib": retained_bytes / 2**20, "build_peak_mib": peak_bytes / 2**20,
            "queries": len(queries), "names_per_s": len(queries) / total_s,
            "p50_ms": p50, "p90_ms": p90, "p99_ms": p99, "max_ms": max(first), "cpu_p50_ms": cpu_p50,
            "cpu_p99_ms": cpu_p99, "best_p50_ms": best_p50, "best_p99_ms": best_p99, "repeat": args.repeat,
            "load_average": [load_before, load_after],
            "target_build_s": TARGET_BUILD_S, "target_p99_ms": TARGET_P99_MS,
            "meets_target": build_s <= TARGET_BUILD_S and best_p99 <= TARGET_P99_MS, "recall": recall,
        }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
