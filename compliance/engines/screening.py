"""Name screening against sanctions and watch lists: normalisation, fuzzy scoring and a blocked in-memory index.

Pure Python (stdlib and jellyfish); no Django imports. `ScreeningIndex` is built once from the loaded lists and
answers `screen(name)` without scanning them: candidates come from blocks (see the class) and only those are
scored.

The matching rules, in one place (`allowed_edits`, `_assess`):

* Both sides are normalised the same way (`normalise`): case, accents, Cyrillic, Greek, Arabic/Persian and Hebrew
  transliterated to Latin, punctuation, "LAST, First" turned round, legal forms (LEGAL_FORMS) dropped. A list
  name written "LAST, First" is indexed in both orders.
* Equal normalised forms: CRITICAL, algorithm "exact", score 100, distance 0.
* Short-name guard: with n the length of the shorter normalised form (spaces included), a pair may differ by
  `allowed_edits(n)` = 0 if n < 4 (exact only), else min(3, max(1, n // 4)) Levenshtein edits:
  4–7 characters → 1, 8–11 → 2, 12 and more → 3 (the seed's maximum). A distance beyond that is not used.
* HIGH: Levenshtein distance 1 ("levenshtein"), else Jaro-Winkler ≥ 0.95 ("jaro_winkler").
* MEDIUM, the first that applies: distance 2–3 within the guard ("levenshtein"); the same words in another order
  ("token_set"); Jaro-Winkler ≥ 0.90 ("jaro_winkler"); one name's words, at least two, all in the other name,
  which has at most MAX_EXTRA_TOKENS more ("token_set"); the same Metaphone keys word for word in any order
  ("phonetic"). Jaro-Winkler and the phonetic and word rules also need n ≥ 4.
* Anything else: LOW, returned only with min_level="LOW".
* Score: similarity = max(Jaro-Winkler, 1 - distance / longer length), or Jaro-Winkler alone when there is no
  distance within the guard; score = round(100 × similarity) clamped into the level's band: CRITICAL 100,
  HIGH 90–99, MEDIUM 70–89, LOW 0–69. A higher level always scores higher.

What the blocks guarantee (tests/compliance/test_screening_engine.py checks it against a scan of every name): every
exact, Levenshtein (within the guard, so every distance-1 HIGH), same-words and phonetic match. Matches by
Jaro-Winkler alone and by word subset come from word-key blocks capped for speed: best effort, their recall
against a full scan is measured by bench/screening.py.
"""
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import jellyfish

LEVELS = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}
SCORE_BANDS = {"CRITICAL": (100, 100), "HIGH": (90, 99), "MEDIUM": (70, 89), "LOW": (0, 69)}

MAX_INPUT_CHARS = 1_000  # raw characters looked at; protects the normaliser from pathological input
MAX_NAME_LENGTH = 200  # normalised characters kept for matching
MIN_FUZZY_LENGTH = 4  # shorter than this: exact matches only
MIN_PIECE_LENGTH = 2  # segment blocks: extra pieces are cut only while pieces keep this many characters
EXTRA_PIECES = 2  # segment blocks: pieces beyond allowed_edits + 1 (measured in bench/screening.py)
MAX_DISTANCE = 3  # the seed's rule: at most 3 character edits
JARO_WINKLER_HIGH = 0.95
JARO_WINKLER_MEDIUM = 0.90
MAX_EXTRA_TOKENS = 2  # word-subset rule: the longer name may have at most this many more words
TOKEN_BLOCK_KEYS = 3  # the query's rarest word keys used as blocks
TOKEN_BLOCK_MAX_POSTINGS = 1_000  # a word key in more names than this is too common to block on
RARE_WORD_POSTINGS = 50  # every name with the query's rarest word key is a candidate when that key is this rare
CANDIDATE_CAP = 100  # candidates kept from the word blocks, those sharing the most keys first

# Legal forms dropped before matching ("Acme Trading Co., Ltd." ≡ "ACME TRADING"), as normalised words; an entry
# with spaces is a phrase of whole words. Dotted forms ("S.A.", "L.L.C.") need no entry of their own: runs of
# single letters are joined ("s a" → "sa") first. Russian forms are listed spelled out as the lists transliterate
# them ("OBSHCHESTVO S OGRANICHENNOI OTVETSTVENNOSTYU" is "LLC"): otherwise every Russian company would be a
# near match of every other.
LEGAL_FORMS = frozenset({
    "ltd", "limited", "llc", "inc", "incorporated", "corp", "corporation", "co", "company", "plc", "gmbh", "ag",
    "sa", "sarl", "bv", "nv", "srl", "spa", "jsc", "ojsc", "pjsc", "cjsc", "llp", "lp", "oao", "ooo", "zao", "pao",
    "pt", "tbk", "bhd", "sdn", "pvt", "pte", "private",
    "limited liability", "joint stock",
    "otkrytoe", "otkrytoye", "zakrytoe", "zakrytoye", "publichnoe", "publichnoye", "nepublichnoe",
    "aktsionernoe obshchestvo", "aktsionernoye obshchestvo",
    *(f"{company} s {limited} {liability}"
      for company in ("obshchestvo", "obshestvo")
      for limited in ("ogranichennoi", "ogranichennoy", "ogranichenoi", "organichennoi")
      for liability in ("otvetstvennostyu", "otvetstvennostiu", "otvetstvennostju", "otvetstvennosti")),
})
_LEGAL_FORM_WORDS = frozenset(form for form in LEGAL_FORMS if " " not in form)
_LEGAL_FORM_PHRASES = re.compile(
    r"(?<!\S)(?:" + "|".join(sorted((re.escape(f) for f in LEGAL_FORMS if " " in f), key=len, reverse=True))
    + r")(?!\S)"
)

_KIND_LABELS = {
    "primary": "primary name",
    "aka": "alias",
    "fka": "former name",
    "nka": "new name",
    "weak_aka": "weak alias",
    "original_script": "original-script name",
}
_KIND_ORDER = {kind: i for i, kind in enumerate(_KIND_LABELS)}  # on a tie, the primary name is the match shown
_LIST_LABELS = {
    "ofac_sdn": "OFAC SDN",
    "ofac_consolidated": "OFAC Consolidated",
    "eu_fsf": "EU FSF",
    "un_sc": "UN SC",
    "uk_hmt": "UK HMT",
    "pep": "PEP",
    "internal": "internal watch list",
}

_CYRILLIC = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "e",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "y",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
    # Ukrainian, Belarusian, Serbian, Macedonian, Kazakh, Tajik
    "є": "ye",
    "і": "i",
    "ї": "yi",
    "ґ": "g",
    "ў": "u",
    "ђ": "dj",
    "ј": "j",
    "љ": "lj",
    "њ": "nj",
    "ћ": "c",
    "џ": "dz",
    "ѓ": "gj",
    "ќ": "kj",
    "ѕ": "dz",
    "ә": "a",
    "ғ": "gh",
    "қ": "q",
    "ң": "ng",
    "ө": "o",
    "ұ": "u",
    "ү": "u",
    "һ": "h",
    "ӯ": "u",
    "ӣ": "i",
    "ҳ": "h",
    "ҷ": "j",
}
_GREEK = {
    "α": "a",
    "β": "v",
    "γ": "g",
    "δ": "d",
    "ε": "e",
    "ζ": "z",
    "η": "i",
    "θ": "th",
    "ι": "i",
    "κ": "k",
    "λ": "l",
    "μ": "m",
    "ν": "n",
    "ξ": "x",
    "ο": "o",
    "π": "p",
    "ρ": "r",
    "σ": "s",
    "ς": "s",
    "τ": "t",
    "υ": "y",
    "φ": "f",
    "χ": "ch",
    "ψ": "ps",
    "ω": "o",
    "ϑ": "th",
    "ϕ": "f",
}
# A basic consonantal romanisation: Arabic script rarely writes short vowels, so an Arabic-script name matches
# its own Arabic-script alias exactly, and a Latin spelling only approximately.
_ARABIC = {
    "ا": "a",
    "أ": "a",
    "إ": "i",
    "آ": "a",
    "ٱ": "a",
    "ء": "",
    "ؤ": "",
    "ئ": "",
    "ب": "b",
    "ت": "t",
    "ث": "th",
    "ج": "j",
    "ح": "h",
    "خ": "kh",
    "د": "d",
    "ذ": "dh",
    "ر": "r",
    "ز": "z",
    "س": "s",
    "ش": "sh",
    "ص": "s",
    "ض": "d",
    "ط": "t",
    "ظ": "z",
    "ع": "",
    "غ": "gh",
    "ف": "f",
    "ق": "q",
    "ك": "k",
    "ل": "l",
    "م": "m",
    "ن": "n",
    "ه": "h",
    "ة": "a",
    "و": "w",
    "ي": "y",
    "ى": "a",
    "ـ": "",
    # Persian and Urdu
    "پ": "p",
    "چ": "ch",
    "ژ": "zh",
    "گ": "g",
    "ک": "k",
    "ی": "y",
    "ۀ": "h",
    "ٹ": "t",
    "ڈ": "d",
    "ڑ": "r",
    "ں": "n",
    "ھ": "h",
    "ہ": "h",
    "ے": "e",
}
_HEBREW = {
    "א": "",
    "ב": "b",
    "ג": "g",
    "ד": "d",
    "ה": "h",
    "ו": "v",
    "ז": "z",
    "ח": "kh",
    "ט": "t",
    "י": "y",
    "כ": "k",
    "ך": "k",
    "ל": "l",
    "מ": "m",
    "ם": "m",
    "נ": "n",
    "ן": "n",
    "ס": "s",
    "ע": "",
    "פ": "p",
    "ף": "f",
    "צ": "ts",
    "ץ": "ts",
    "ק": "k",
    "ר": "r",
    "ש": "sh",
    "ת": "t",
}
# Latin letters that Unicode decomposition leaves alone.
_LATIN_SPECIAL = {
    "ß": "ss",
    "æ": "ae",
    "œ": "oe",
    "ø": "o",
    "ł": "l",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "ı": "i",
    "ħ": "h",
    "ŧ": "t",
    "ŀ": "l",
    "ĸ": "k",
    "ŋ": "ng",
    "ſ": "s",
    "ə": "e",
    "ɨ": "i",
    "ƒ": "f",
    "ɛ": "e",
    "ɔ": "o",
}
# Apostrophes vanish ("O'Brien" → "obrien"); other commas become the ASCII comma that marks "LAST, First".
_APOSTROPHES = "'’‘ʼʻ`´ʹ′ʿʾ"
_COMMAS = "،，﹐､"

_TRANSLITERATION = str.maketrans(
    {
        **_CYRILLIC,
        **_GREEK,
        **_ARABIC,
        **_HEBREW,
        **_LATIN_SPECIAL,
        **{ch: "" for ch in _APOSTROPHES},
        **{ch: "," for ch in _COMMAS},
        **{chr(0x0660 + d): str(d) for d in range(10)},
        **{chr(0x06F0 + d): str(d) for d in range(10)},
    }
)
_ASCII_TABLE = str.maketrans({ch: "" for ch in "'`"})
_NON_WORD = re.compile(r"[\W_]+")
_DROPPED_CATEGORIES = frozenset({"Mn", "Me", "Cf"})  # combining marks; format characters (zero-width, RTL marks)


@dataclass(frozen=True, slots=True)
class IndexedName:
    list_code: str  # e.g. "ofac_sdn"
    entry_id: str  # the list's id for the entry
    name: str  # one name or alias as published (any script)
    kind: str  # "primary", "aka", "fka", "nka", "weak_aka", "original_script"
    entry_type: str  # "individual", "entity", "vessel", "aircraft", "unknown"


@dataclass(frozen=True, slots=True)
class Match:
    list_code: str
    entry_id: str
    matched_name: str
    kind: str
    entry_type: str
    query_normalised: str
    candidate_normalised: str
    algorithm: str  # "exact", "levenshtein", "jaro_winkler", "phonetic", "token_set"
    score: int  # 0-100
    distance: int | None  # Levenshtein distance on the normalised strings when computed
    level: str  # "CRITICAL", "HIGH", "MEDIUM", "LOW"
    reason: str  # what matched and why


# --------------------------------------------------------------------------------------------- normalisation


def _fold(text: str) -> str:
    """Lower case, Latin letters without accents, other scripts transliterated; punctuation still in place."""
    text = text[:MAX_INPUT_CHARS]
    if text.isascii():
        return text.lower().translate(_ASCII_TABLE)
    # Transliterate before decomposing (й would lose its breve and become и), and again after, for letters
    # that only show up once their accents are stripped (Greek ά → α).
    text = unicodedata.normalize("NFC", text).casefold().translate(_TRANSLITERATION)
    # Compatibility forms (𝓐, ﬁ, full-width letters) only become plain letters here: fold case again.
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    return text.translate(_TRANSLITERATION)


def _join_initials(words: list[str]) -> list[str]:
    """Join runs of single Latin letters: "u s a" → "usa", "s a" → "sa" (dotted legal forms, initialisms)."""
    joined: list[str] = []
    initials: list[str] = []
    for word in words:
        if len(word) == 1 and word.isascii() and word.isalpha():
            initials.append(word)
            continue
        if initials:
            joined.append("".join(initials))
            initials = []
        joined.append(word)
    if initials:
        joined.append("".join(initials))
    return joined


def _words(text: str) -> list[str]:
    """Split on anything but letters and digits."""
    return _join_initials(_NON_WORD.sub(" ", text).split())


def _without_legal_forms(words: list[str]) -> list[str]:
    text = " ".join(words)
    if " " in text:
        text = _LEGAL_FORM_PHRASES.sub(" ", text)
    return [word for word in text.split() if word not in _LEGAL_FORM_WORDS]


def _only_legal_forms(words: list[str]) -> bool:
    return not _without_legal_forms(words)


def _finish(words: list[str]) -> str:
    # Dropping legal forms can bring single letters together and joining them can make a legal form ("s co a"):
    # repeat until nothing changes, so that a normalised name is its own normal form.
    while True:
        kept = _join_initials(_without_legal_forms(words) or words)  # only legal forms: keep them
        if kept == words:
            break
        words = kept
    text = " ".join(words)
    if len(text) > MAX_NAME_LENGTH:
        text = text[:MAX_NAME_LENGTH]
        if " " in text:
            text = text.rsplit(" ", 1)[0]
    return text


def _variants(name: str) -> tuple[str, ...]:
    """The normalised forms of a name: given names first, then (if different) the order as written."""
    if not isinstance(name, str):
        return ()
    folded = _fold(name)
    head, comma, tail = folded.partition(",")
    head_words = _words(head)
    if not comma:
        text = _finish(head_words)
        return (text,) if text else ()
    tail_words = _words(tail)
    as_written = _finish(head_words + tail_words)
    if head_words and tail_words and not _only_legal_forms(tail_words):
        reordered = _finish(tail_words + head_words)  # "PUTIN, Vladimir" → "vladimir putin"
        return tuple(dict.fromkeys(text for text in (reordered, as_written) if text))
    return (as_written,) if as_written else ()


def normalise(name: str) -> str:
    """The form names are compared in: "PUTIN, Vladimir" and "Владимир Путин" both give "vladimir putin".

    Lower case; accents stripped (NFKD) and ß/æ/ø/ł/đ… spelled out; Cyrillic, Greek, Arabic/Persian and Hebrew
    transliterated (CJK and other scripts kept as they are); apostrophes dropped and other punctuation, control
    and format characters turned into single spaces; runs of single letters joined ("S.A." → "sa");
    "LAST, First" turned into "first last" unless what follows the comma is only legal-form words; legal-form
    words (LEGAL_FORMS) dropped; at most MAX_NAME_LENGTH characters kept. Empty or unusable input gives "".
    """
    found = _variants(name)
    return found[0] if found else ""


def allowed_edits(length: int) -> int:
    """How many Levenshtein edits still count as a match for a name this long (the short-name guard)."""
    if length < MIN_FUZZY_LENGTH:
        return 0
    return min(MAX_DISTANCE, max(1, length // 4))


def _word_key(word: str) -> str:
    if word.isascii() and not word.isdigit():
        return jellyfish.metaphone(word) or word
    return word  # digits and scripts Metaphone does not know stand for themselves


def phonetic_key(normalised: str) -> str:
    """Metaphone keys of the words, sorted: equal keys mean the names sound alike in any word order."""
    return " ".join(sorted(_word_key(word) for word in normalised.split()))


def _sorted_words(normalised: str) -> str:
    return " ".join(sorted(normalised.split()))


# --------------------------------------------------------------------------------------------- scoring


@dataclass(frozen=True, slots=True)
class _Assessment:
    level: str
    algorithm: str
    score: int
    distance: int | None
    jaro_winkler: float
    detail: str  # "reorder" or "subset" for token_set


_EXACT = _Assessment("CRITICAL", "exact", 100, 0, 1.0, "")
_RANK_MEDIUM = LEVEL_RANK["MEDIUM"]
_FULL_EDITS_FROM = 4 * MAX_DISTANCE  # names this long or longer get MAX_DISTANCE edits
_EDITS_BY_LENGTH = tuple(allowed_edits(length) for length in range(_FULL_EDITS_FROM))


def _is_word_subset(query_words: frozenset[str], query_anchor: str, candidate: str) -> bool:
    """One name's words (at least two of them) all appear in the other, which has at most two more."""
    # Cheap necessary condition first: `query_anchor`, any one query word (the index passes its rarest), is in
    # the candidate (query ⊆ candidate), or the candidate's first word is a query word (candidate ⊆ query).
    if query_anchor not in candidate and candidate.partition(" ")[0] not in query_words:
        return False
    candidate_words = frozenset(candidate.split())
    small, large = (
        (query_words, candidate_words) if len(query_words) <= len(candidate_words) else (candidate_words, query_words)
    )
    return (
        len(small) >= 2
        and len(large) - len(small) <= MAX_EXTRA_TOKENS
        and small <= large
        and sum(map(len, small)) + len(small) - 1 >= MIN_FUZZY_LENGTH
    )


def _distance_within(query: str, candidate: str, jaro_winkler: float, edits: int) -> int | None:
    """The Levenshtein distance of two different names if it is at most `edits`, else None; cheaply.

    1. Jaro bound. With d ≤ edits ≤ shorter / 4 the edit script keeps at least longer - edits characters in
       place, within Jaro's match window (max length // 2 - 1 ≥ edits from 4 characters on), and Jaro's greedy
       matching finds at least that many matches m; transpositions are at most m / 2. Hence
       Jaro ≥ ((longer - edits) / shorter + (longer - edits) / longer + 1/2) / 3 (≥ 2/3): below that, d > edits.
       Jaro is recovered exactly from Jaro-Winkler (boost 0.1 per common prefix letter, up to 4, above 0.7).
    2. A common prefix and suffix do not change the distance: strip them, so that "mohammad al atifi" against
       "mohammad al rifai" costs a 5 × 5 table, not 17 × 17.
    """
    query_length = len(query)
    candidate_length = len(candidate)
    shorter, longer = (
        (query_length, candidate_length) if query_length < candidate_length else (candidate_length, query_length)
    )
    prefix = 0
    while prefix < 4 and prefix < shorter and query[prefix] == candidate[prefix]:
        prefix += 1
    jaro = jaro_winkler
    if prefix and jaro_winkler > 0.7:
        jaro = (jaro_winkler - 0.1 * prefix) / (1 - 0.1 * prefix)
    kept = longer - edits
    if jaro < (kept / shorter + kept / longer + 0.5) / 3 - 1e-9:
        return None
    start = prefix
    while start < shorter and query[start] == candidate[start]:
        start += 1
    end = 0
    while end < shorter - start and query[query_length - 1 - end] == candidate[candidate_length - 1 - end]:
        end += 1
    distance = jellyfish.levenshtein_distance(
        query[start : query_length - end], candidate[start : candidate_length - end]
    )
    return distance if distance <= edits else None


def _assess(
    query: str,
    candidate: str,
    query_words: frozenset[str],
    query_anchor: str,
    same_words: bool,
    same_sound: bool,
    near: bool = True,
    floor: int = 0,
) -> _Assessment | None:
    """The level, algorithm and score of one pair of normalised names (the rules in the module docstring).

    `query_words` / `query_anchor`: the query's set of words and any one of them. `same_words` /
    `same_sound`: the pair's sorted words / phonetic keys are equal (the index knows from its blocks).
    `near=False` promises the pair is more than `allowed_edits` apart, which saves computing the distance
    (the index knows from its segment blocks). Returns None below `floor` (a LEVEL_RANK).
    """
    if query == candidate:
        return _EXACT
    query_length = len(query)
    candidate_length = len(candidate)
    shorter = query_length if query_length < candidate_length else candidate_length
    edits = _EDITS_BY_LENGTH[shorter] if shorter < _FULL_EDITS_FROM else MAX_DISTANCE
    jaro_winkler = jellyfish.jaro_winkler_similarity(query, candidate)
    if not edits:
        if floor:
            return None
        return _Assessment("LOW", "jaro_winkler", min(69, round(100 * jaro_winkler)), None, jaro_winkler, "")
    distance = None
    if near and -edits <= query_length - candidate_length <= edits:
        distance = _distance_within(query, candidate, jaro_winkler, edits)
    detail = ""
    if distance is not None and distance <= 1:
        level, algorithm = "HIGH", "levenshtein"
    elif jaro_winkler >= JARO_WINKLER_HIGH:
        level, algorithm = "HIGH", "jaro_winkler"
    elif floor > _RANK_MEDIUM:
        return None
    elif distance is not None:
        level, algorithm = "MEDIUM", "levenshtein"
    elif same_words:
        level, algorithm, detail = "MEDIUM", "token_set", "reorder"
    elif jaro_winkler >= JARO_WINKLER_MEDIUM:
        level, algorithm = "MEDIUM", "jaro_winkler"
    elif _is_word_subset(query_words, query_anchor, candidate):
        level, algorithm, detail = "MEDIUM", "token_set", "subset"
    elif same_sound:
        level, algorithm = "MEDIUM", "phonetic"
    elif floor:
        return None
    else:
        level, algorithm = "LOW", "jaro_winkler"
    similarity = jaro_winkler
    if distance is not None:
        similarity = max(jaro_winkler, 1 - distance / max(query_length, candidate_length))
    low, high = SCORE_BANDS[level]
    score = min(high, max(low, round(100 * similarity)))
    return _Assessment(level, algorithm, score, distance, jaro_winkler, detail)


def _reason(assessment: _Assessment, query: str, candidate: str, indexed: IndexedName) -> str:
    where = (
        f"{_KIND_LABELS.get(indexed.kind, indexed.kind)}, "
        f"{_LIST_LABELS.get(indexed.list_code, indexed.list_code.replace('_', ' ').upper())} {indexed.entry_id}"
    )
    pair = f"'{query}' and '{candidate}'"
    algorithm = assessment.algorithm
    if algorithm == "exact":
        return f"Exact match on the normalised name '{candidate}' ({where})"
    if algorithm == "levenshtein":
        return f"Levenshtein distance {assessment.distance} between {pair} ({where})"
    if algorithm == "token_set":
        if assessment.detail == "reorder":
            return f"Same words in another order: {pair} ({where})"
        return f"All words of the shorter name appear in the other: {pair} ({where})"
    if algorithm == "phonetic":
        return f"Same sound (Metaphone '{phonetic_key(query)}') for {pair} ({where})"
    if assessment.level == "LOW":
        return f"Weak similarity (Jaro-Winkler {assessment.jaro_winkler:.3f}) between {pair} ({where})"
    return f"Jaro-Winkler similarity {assessment.jaro_winkler:.3f} between {pair} ({where})"


# --------------------------------------------------------------------------------------------- the index


@functools.cache
def _segments(length: int) -> tuple[tuple[int, int], ...]:
    """(start, length) of the even pieces a name of this length is cut into for the segment blocks.

    allowed_edits + 1 pieces would do (one survives any allowed edit script); up to EXTRA_PIECES more are cut
    while pieces keep MIN_PIECE_LENGTH characters, so that several must survive, which rules out most names that
    share a single piece (a common first name) with the query before anything is computed for them.
    """
    edits = allowed_edits(length)
    pieces = max(edits + 1, min(edits + 1 + EXTRA_PIECES, length // MIN_PIECE_LENGTH))
    base, longer = divmod(length, pieces)
    spans = []
    start = 0
    for i in range(pieces):
        size = base + (1 if i >= pieces - longer else 0)
        spans.append((start, size))
        start += size
    return tuple(spans)


@functools.cache
def _probe_plan(n: int) -> tuple[tuple[int, int, tuple[tuple[int, int, tuple[int, ...]], ...]], ...]:
    """For a query of n characters: per candidate length L, the pieces that must be found (`needed`) and, per
    piece, where in the query it can start: (L, needed, ((piece, size, start positions), ...))."""
    plan = []
    for length in range(max(MIN_FUZZY_LENGTH, n - MAX_DISTANCE), n + MAX_DISTANCE + 1):
        edits = allowed_edits(min(n, length))
        delta = n - length
        if edits == 0 or abs(delta) > edits:
            continue
        spans = _segments(length)
        needed = len(spans) - edits
        probes = []
        for piece, (start, size) in enumerate(spans):
            if needed == 1:
                # Multi-match-aware window (Pass-Join): some piece i is intact with at most i edits before it and
                # at most (pieces - 1 - i) after it.
                after = len(spans) - 1 - piece
                first = max(0, start - piece, start + delta - after)
                last = min(n - size, start + piece, start + delta + after)
            else:
                # Every intact piece has moved by at most `edits`, and by at most `edits` from where the length
                # change puts it; at least `needed` pieces are intact.
                first = max(0, start - edits, start + delta - edits)
                last = min(n - size, start + edits, start + delta + edits)
            if first <= last:
                probes.append((piece, size, tuple(range(first, last + 1))))
        plan.append((length, needed, tuple(probes)))
    return tuple(plan)


class _Everything:
    """Stands for the set of all candidates in the exhaustive scan."""

    def __contains__(self, item: object) -> bool:
        return True


class ScreeningIndex:
    """The loaded lists' names, blocked for fast fuzzy lookup. Build once; `screen` is read-only and thread-safe.

    Names are indexed by their distinct normalised forms ("LAST, First" names under both word orders). Blocks,
    each mapping a key to the ids of the forms that have it:

    * exact: the normalised form itself;
    * segments (Pass-Join, Li et al., VLDB 2011): a form of length L is cut into `_segments(L)` pieces, keyed
      by (L, piece number, text). Each edit breaks at most one piece, so a form within k edits of the query
      has all but k pieces intact, each shifted by at most k positions: probing those positions finds every
      Levenshtein match, and requiring all but k pieces to be found filters the rest;
    * sorted words and whole-name phonetic key: the "token_set" (same words) and "phonetic" rules exactly;
    * word keys (Metaphone of each word of three or more letters): forms sharing at least two of the query's
      TOKEN_BLOCK_KEYS rarest word keys (at most CANDIDATE_CAP of them), and all forms with the rarest key when
      it is in at most RARE_WORD_POSTINGS forms; keys in more than TOKEN_BLOCK_MAX_POSTINGS forms are too
      common to use. These feed the best-effort rules (Jaro-Winkler alone, word subset).

    Then each candidate is scored by `_assess`, and the best match of each list entry is kept.
    """

    def __init__(self, names: Iterable[IndexedName]):
        self._names: list[IndexedName] = []
        self._forms: list[str] = []  # distinct normalised forms; a form's id is its position
        self._owners: list[list[int]] | list[tuple[int, ...]] = []  # form id → positions in self._names
        self._form_ids: dict[str, int] = {}
        self._by_sorted_words: dict[str, list[int] | tuple[int, ...]] = {}
        self._by_sound: dict[str, list[int] | tuple[int, ...]] = {}
        self._by_segment: dict[int, list[dict[str, list[int] | tuple[int, ...]]]] = {}  # length → piece → text
        word_keys: dict[str, list[int]] = {}
        for indexed in names:
            forms = _variants(indexed.name)
            if not forms:
                continue
            position = len(self._names)
            self._names.append(indexed)
            for form in forms:
                form_id = self._form_ids.get(form)
                if form_id is None:
                    form_id = self._add_form(form, word_keys)
                self._owners[form_id].append(position)
        # Frozen for memory: tuples instead of over-allocated lists; sets only where intersections need them.
        self._owners = [tuple(owners) for owners in self._owners]
        self._by_sorted_words = {key: tuple(ids) for key, ids in self._by_sorted_words.items()}
        self._by_sound = {key: tuple(ids) for key, ids in self._by_sound.items()}
        for blocks in self._by_segment.values():
            for block in blocks:
                for key, ids in block.items():
                    block[key] = tuple(ids)
        self._by_word_key = {key: frozenset(ids) if len(ids) > 8 else tuple(ids) for key, ids in word_keys.items()}

    def _add_form(self, form: str, word_keys: dict[str, list[int]]) -> int:
        form_id = len(self._forms)
        self._forms.append(form)
        self._owners.append([])
        self._form_ids[form] = form_id
        self._by_sorted_words.setdefault(_sorted_words(form), []).append(form_id)
        self._by_sound.setdefault(phonetic_key(form), []).append(form_id)
        for key in {_word_key(word) for word in form.split() if len(word) >= 3}:
            word_keys.setdefault(key, []).append(form_id)
        length = len(form)
        if length >= MIN_FUZZY_LENGTH:
            spans = _segments(length)
            blocks = self._by_segment.get(length)
            if blocks is None:
                blocks = self._by_segment[length] = [{} for _ in spans]
            for block, (start, size) in zip(blocks, spans, strict=True):
                block.setdefault(form[start : start + size], []).append(form_id)
        return form_id

    def __len__(self) -> int:
        """Names indexed (names whose normalised form is empty cannot match anything and are left out)."""
        return len(self._names)

    @property
    def form_count(self) -> int:
        return len(self._forms)

    def _segment_candidates(self, query: str) -> set[int]:
        """Every form within allowed_edits of the query, and some more."""
        found: set[int] = set()
        by_segment = self._by_segment
        for length, needed, probes in _probe_plan(len(query)):
            blocks = by_segment.get(length)
            if blocks is None:
                continue
            if needed == 1:
                for piece, size, positions in probes:
                    block = blocks[piece]
                    for at in positions:
                        ids = block.get(query[at : at + size])
                        if ids:
                            found.update(ids)
                continue
            # at_least[k]: forms with at least k + 1 pieces found so far (set operations run in C).
            at_least: list[set[int]] = [set() for _ in range(needed)]
            for piece, size, positions in probes:
                block = blocks[piece]
                hits: set[int] = set()
                for at in positions:
                    ids = block.get(query[at : at + size])
                    if ids:
                        hits.update(ids)
                if hits:
                    for k in range(needed - 1, 0, -1):
                        at_least[k] |= at_least[k - 1] & hits
                    at_least[0] |= hits
            found |= at_least[-1]
        return found

    def _word_candidates(self, query: str) -> set[int]:
        keys = {_word_key(word) for word in query.split() if len(word) >= 3}
        blocks = [(key, self._by_word_key.get(key)) for key in keys]
        postings = [
            ids
            for _, _, ids in sorted(  # rarest first; the key breaks ties, whatever the hash seed
                (len(ids), key, ids) for key, ids in blocks if ids is not None and len(ids) <= TOKEN_BLOCK_MAX_POSTINGS
            )
        ]
        if not postings:
            return set()
        # Forms sharing at least two of the query's three rarest word keys (set intersections run in C), then
        # every form with the rarest key if it is rare enough.
        rarest = postings[:TOKEN_BLOCK_KEYS]
        found: set[int] = set()
        for i, first in enumerate(rarest):
            for second in rarest[i + 1 :]:
                # `first` is the smaller: a frozenset intersects with any iterable, a tuple is made a set.
                found |= (second if isinstance(second, frozenset) else set(second)).intersection(first)
        if len(found) > CANDIDATE_CAP:
            return set(sorted(found)[:CANDIDATE_CAP])
        if len(rarest[0]) <= RARE_WORD_POSTINGS:
            found.update(rarest[0])
        return found

    def _word_rarity(self, word: str) -> tuple[int, int]:
        """Sort key: words in fewer names first, longer words first (short words have no key)."""
        ids = self._by_word_key.get(_word_key(word)) if len(word) >= 3 else None
        return (len(ids) if ids is not None else (0 if len(word) >= 3 else len(self._forms)), -len(word))

    def screen(self, name: str, *, limit: int = 10, min_level: str = "MEDIUM") -> list[Match]:
        """The best matches for a name, best first, at most one per list entry; [] for an empty or unusable name."""
        return self._screen(name, limit=limit, min_level=min_level, exhaustive=False)

    def screen_exhaustive(self, name: str, *, limit: int = 10, min_level: str = "MEDIUM") -> list[Match]:
        """The same as `screen` but scoring every indexed name: the reference the blocks are tested against."""
        return self._screen(name, limit=limit, min_level=min_level, exhaustive=True)

    def _screen(self, name: str, *, limit: int, min_level: str, exhaustive: bool) -> list[Match]:
        if min_level not in LEVEL_RANK:
            raise ValueError(f"min_level must be one of {', '.join(LEVELS)}, not {min_level!r}")
        query = normalise(name)
        if not query or limit <= 0:
            return []
        floor = LEVEL_RANK[min_level]
        same_words = frozenset(self._by_sorted_words.get(_sorted_words(query), ()))
        same_sound = frozenset(self._by_sound.get(phonetic_key(query), ()))
        near: set[int] | _Everything
        if exhaustive:
            near, candidates = _Everything(), range(len(self._forms))
        else:
            near = self._segment_candidates(query)
            exact = self._form_ids.get(query)
            if exact is not None:
                near.add(exact)
            candidates = near | same_words | same_sound | self._word_candidates(query)
        query_words = frozenset(query.split())
        query_anchor = min(query_words, key=self._word_rarity)
        forms, owners, names = self._forms, self._owners, self._names
        best: dict[tuple[str, str], tuple[tuple, int, int, _Assessment]] = {}
        for form_id in candidates:
            form = forms[form_id]
            assessment = _assess(
                query,
                form,
                query_words,
                query_anchor,
                form_id in same_words,
                form_id in same_sound,
                form_id in near,
                floor,
            )
            if assessment is None:
                continue
            rank = LEVEL_RANK[assessment.level]
            for position in owners[form_id]:
                indexed = names[position]
                order = (
                    -rank,
                    -assessment.score,
                    assessment.distance if assessment.distance is not None else 99,
                    indexed.list_code,
                    indexed.entry_id,
                    _KIND_ORDER.get(indexed.kind, len(_KIND_ORDER)),
                    indexed.name,
                    form,
                )
                entry = (indexed.list_code, indexed.entry_id)
                held = best.get(entry)
                if held is None or order < held[0]:
                    best[entry] = (order, form_id, position, assessment)
        ranked = sorted(best.values(), key=lambda item: item[0])[:limit]
        return [
            self._match(query, forms[form_id], names[position], assessment)
            for _, form_id, position, assessment in ranked
        ]

    @staticmethod
    def _match(query: str, candidate: str, indexed: IndexedName, assessment: _Assessment) -> Match:
        return Match(
            list_code=indexed.list_code,
            entry_id=indexed.entry_id,
            matched_name=indexed.name,
            kind=indexed.kind,
            entry_type=indexed.entry_type,
            query_normalised=query,
            candidate_normalised=candidate,
            algorithm=assessment.algorithm,
            score=assessment.score,
            distance=assessment.distance,
            level=assessment.level,
            reason=_reason(assessment, query, candidate, indexed),
        )
