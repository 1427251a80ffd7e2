"""Name screening against sanctions and watch lists: normalisation, fuzzy scoring and a blocked in-memory index.

Pure Python (stdlib and jellyfish); no Django imports. The index is built once from the loaded lists and then
answers `screen(name)` without scanning the lists: candidate names come from blocks (exact normalised form,
position-aware character segments, sorted words, phonetic keys) and only those candidates are scored.

Matching rules, in one place (see `_assess`):

* Both sides are normalised the same way (`normalise`): case, accents, transliteration of Cyrillic, Greek,
  Arabic/Persian and Hebrew to basic Latin, punctuation, "LAST, First" order, legal-form words.
* Equal normalised forms: CRITICAL, "exact", score 100.
* Short-name guard: if the shorter normalised form has fewer than MIN_FUZZY_LENGTH (4) characters, only an exact
  match counts. Otherwise at most `allowed_edits(n) = min(3, max(1, n // 4))` Levenshtein edits count, n being
  the shorter form's length in characters (spaces included): 4–7 chars → 1, 8–11 → 2, 12+ → 3.
* HIGH: Levenshtein distance 1, or Jaro-Winkler ≥ 0.95.
* MEDIUM: distance 2–3 within `allowed_edits`, or the same words in another order ("token_set"; also when one
  name's words, at least two of them, all appear in the other and it has at most two more words), or
  Jaro-Winkler ≥ 0.90, or the same Metaphone keys word for word in any order ("phonetic").
* Anything else is LOW (returned only with min_level="LOW").
* Score: similarity = max(Jaro-Winkler, 1 - distance / longer length) (Jaro-Winkler alone when the distance was
  not computed); score = round(100 × similarity) clamped into the level's band: CRITICAL 100, HIGH 90–99,
  MEDIUM 70–89, LOW 0–69. So a higher level always has a higher score.

Blocking guarantees (tested against a brute-force scan): every exact, Levenshtein (within `allowed_edits`),
same-words and phonetic match is found. Word-subset and Jaro-Winkler-only matches are found through per-word
phonetic blocks on the query's rarest words; a word shared by more than TOKEN_BLOCK_MAX_POSTINGS names is too
common to block on, so those two kinds are best effort (measured in bench/screening.py).
"""

import functools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import jellyfish

LEVELS = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
LEVEL_RANK = {level: rank for rank, level in enumerate(LEVELS)}
SCORE_BANDS = {"CRITICAL": (100, 100), "HIGH": (90, 99), "MEDIUM": (70, 89), "LOW": (0, 69)}

MAX_INPUT_CHARS = 1_000  # raw characters looked at; protects the normaliser from pathological input
MAX_NAME_LENGTH = 200  # normalised characters kept for matching
MIN_FUZZY_LENGTH = 4  # shorter than this: exact matches only
MIN_PIECE_LENGTH = 3  # segment blocks: pieces are cut no shorter than this when there is room for extra pieces
MAX_DISTANCE = 3  # the seed's rule: at most 3 character edits
JARO_WINKLER_HIGH = 0.95
JARO_WINKLER_MEDIUM = 0.90
MAX_EXTRA_TOKENS = 2  # word-subset rule: the longer name may have at most this many more words
TOKEN_BLOCK_KEYS = 3  # the query's rarest word keys used as blocks
TOKEN_BLOCK_MAX_POSTINGS = 1_500  # a word key in more names than this is too common to block on
RARE_WORD_POSTINGS = 50  # every name with the query's rarest word key is a candidate when that key is this rare
CANDIDATE_CAP = 200  # candidates kept from the word blocks, those sharing the most keys first

# Legal-form words dropped before matching ("Acme Trading Co., Ltd." ≡ "ACME TRADING"). Dotted forms ("S.A.",
# "L.L.C.") need no entry of their own: runs of single letters are joined ("s a" → "sa") before this test.
LEGAL_FORMS = frozenset(
    {
        "ltd",
        "limited",
        "llc",
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "plc",
        "gmbh",
        "ag",
        "sa",
        "sarl",
        "bv",
        "nv",
        "srl",
        "spa",
        "jsc",
        "ojsc",
        "pjsc",
        "cjsc",
        "llp",
        "lp",
        "oao",
        "ooo",
        "zao",
        "pt",
        "tbk",
        "bhd",
        "sdn",
        "pvt",
        "pte",
        "private",
    }
)

_KIND_LABELS = {
    "primary": "primary name",
    "aka": "alias",
    "fka": "former name",
    "nka": "new name",
    "weak_aka": "weak alias",
    "original_script": "original-script name",
}
_LIST_LABELS = {
    "ofac_sdn": "OFAC SDN",
    "ofac_cons": "OFAC Consolidated",
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
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in _DROPPED_CATEGORIES)
    return text.translate(_TRANSLITERATION)


def _words(text: str) -> list[str]:
    """Split on anything but letters and digits; join runs of single letters ("u s a" → "usa", "s a" → "sa")."""
    words: list[str] = []
    initials: list[str] = []
    for word in _NON_WORD.sub(" ", text).split():
        if len(word) == 1 and word.isascii() and word.isalpha():
            initials.append(word)
            continue
        if initials:
            words.append("".join(initials))
            initials = []
        words.append(word)
    if initials:
        words.append("".join(initials))
    return words


def _without_legal_forms(words: list[str]) -> list[str]:
    kept = [word for word in words if word not in LEGAL_FORMS]
    return kept or words  # a name made only of legal-form words keeps them


def _finish(words: list[str]) -> str:
    text = " ".join(_without_legal_forms(words))
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
    if head_words and tail_words and not all(word in LEGAL_FORMS for word in tail_words):
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
    similarity: float
    detail: str  # "reorder" or "subset" for token_set


_EXACT = _Assessment("CRITICAL", "exact", 100, 0, 1.0, "")
_RANK_MEDIUM = LEVEL_RANK["MEDIUM"]
_RANK_HIGH = LEVEL_RANK["HIGH"]


def _is_word_subset(query_words: frozenset[str], candidate: str) -> bool:
    """One name's words (at least two of them) all appear in the other, which has at most two more."""
    candidate_words = frozenset(candidate.split())
    small, large = (query_words, candidate_words) if len(query_words) <= len(candidate_words) else (
        candidate_words, query_words)
    return (len(small) >= 2 and len(large) - len(small) <= MAX_EXTRA_TOKENS and small <= large
            and sum(map(len, small)) + len(small) - 1 >= MIN_FUZZY_LENGTH)


def _assess(query: str, candidate: str, *, query_words: frozenset[str], same_words: bool, same_sound: bool,
            near: bool = True, floor: int = 0) -> _Assessment | None:
    """The level, algorithm and score of one pair of normalised names (the rules in the module docstring).

    `same_words` / `same_sound`: the pair's sorted words / phonetic keys are equal (the index knows this from
    its blocks). `near=False` promises the pair is more than `allowed_edits` apart, which saves computing the
    distance (the index knows this from its segment blocks). Returns None below `floor` (a LEVEL_RANK).
    """
    if query == candidate:
        return _EXACT
    query_length, candidate_length = len(query), len(candidate)
    edits = allowed_edits(min(query_length, candidate_length))
    if not edits:
        if floor:
            return None
        similarity = jellyfish.jaro_winkler_similarity(query, candidate)
        return _Assessment("LOW", "jaro_winkler", min(69, round(100 * similarity)), None, similarity, "")
    jaro_winkler = jellyfish.jaro_winkler_similarity(query, candidate)
    distance = None
    if near and abs(query_length - candidate_length) <= edits:
        distance = jellyfish.levenshtein_distance(query, candidate)
        if distance > edits:
            distance = None  # beyond the short-name guard: the distance says nothing, Jaro-Winkler decides
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
    elif _is_word_subset(query_words, candidate):
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
    return _Assessment(level, algorithm, min(high, max(low, round(100 * similarity))), distance, similarity, detail)


def _reason(assessment: _Assessment, query: str, candidate: str, indexed: IndexedName) -> str:
    where = (
        f"{_KIND_LABELS.get(indexed.kind, indexed.kind)}, "
        f"{_LIST_LABELS.get(indexed.list_code, indexed.list_code.replace('_', ' ').upper())} {indexed.entry_id}"
    )
    pair = f"'{query}' and '{candidate}'"
    algorithm = assessment.algorithm
    if algorithm == "exact":
        return f"Exact match on the normalised name '{candidate}' ({where})"
    if algorithm == "levenshtein" and assessment.level != "LOW":
        return f"Levenshtein distance {assessment.distance} between {pair} ({where})"
    if algorithm == "token_set":
        if assessment.detail == "reorder":
            return f"Same words in another order: {pair} ({where})"
        return f"All words of the shorter name appear in the other: {pair} ({where})"
    if algorithm == "phonetic":
        return f"Same sound (Metaphone '{phonetic_key(query)}') for {pair} ({where})"
    if assessment.level == "LOW":
        return f"Weak similarity {assessment.similarity:.2f} between {pair} ({where})"
    return f"Jaro-Winkler similarity {assessment.similarity:.3f} between {pair} ({where})"


# --------------------------------------------------------------------------------------------- the index


@functools.cache
def _segments(length: int) -> tuple[tuple[int, int], ...]:
    """(start, length) of the even pieces a name of this length is cut into for the segment blocks.

    At least allowed_edits + 1 pieces (so one survives any allowed edit script) and up to 2 × allowed_edits + 1
    while pieces keep MIN_PIECE_LENGTH characters: with more pieces than edits, several must survive, which
    filters out most of the names that share just one piece (a common first name) with the query.
    """
    edits = allowed_edits(length)
    pieces = max(edits + 1, min(2 * edits + 1, length // MIN_PIECE_LENGTH))
    base, longer = divmod(length, pieces)
    spans = []
    start = 0
    for i in range(pieces):
        size = base + (1 if i >= pieces - longer else 0)
        spans.append((start, size))
        start += size
    return tuple(spans)


class ScreeningIndex:
    """The loaded lists' names, blocked for fast fuzzy lookup. Build once; `screen` is read-only and thread-safe.

    Blocks (each maps a key to the ids of the distinct normalised names that have it):

    * exact: the normalised form itself;
    * segments (Pass-Join, Li et al., VLDB 2011): a name of length L is cut into allowed_edits(L) + 1 pieces,
      keyed by (L, piece number). If two names are within k ≤ allowed_edits(L) edits, one piece survives
      intact in the query near its position, so probing each piece's few possible positions finds every
      Levenshtein match;
    * sorted words and whole-name phonetic key: the "token_set" (same words) and "phonetic" rules exactly;
    * word keys: the Metaphone key of each word; the query's TOKEN_BLOCK_KEYS rarest keys are probed, keys
      shared by more than TOKEN_BLOCK_MAX_POSTINGS names are skipped, and at most CANDIDATE_CAP names are
      kept, those sharing the most keys first.
    """

    def __init__(self, names: Iterable[IndexedName]):
        self._names: list[IndexedName] = []
        self._forms: list[str] = []  # distinct normalised forms; a form's id is its position
        self._owners: list[list[int]] = []  # form id → positions in self._names
        self._form_ids: dict[str, int] = {}
        self._by_sorted_words: dict[str, list[int]] = {}
        self._by_sound: dict[str, list[int]] = {}
        self._by_word_key: dict[str, frozenset[int]] = {}
        self._by_segment: dict[tuple[int, int], dict[str, list[int]]] = {}
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
        self._by_word_key = {key: frozenset(ids) for key, ids in word_keys.items()}

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
            for piece, (start, size) in enumerate(_segments(length)):
                block = self._by_segment.setdefault((length, piece), {})
                block.setdefault(form[start : start + size], []).append(form_id)
        return form_id

    def __len__(self) -> int:
        """Names indexed (names whose normalised form is empty cannot match anything and are left out)."""
        return len(self._names)

    @property
    def form_count(self) -> int:
        return len(self._forms)

    def _segment_candidates(self, query: str, found: set[int]) -> None:
        """Add every name within allowed_edits of the query (Pass-Join with a piece-count filter)."""
        n = len(query)
        for length in range(max(MIN_FUZZY_LENGTH, n - MAX_DISTANCE), n + MAX_DISTANCE + 1):
            edits = allowed_edits(min(n, length))
            delta = n - length
            if edits == 0 or abs(delta) > edits:
                continue
            spans = _segments(length)
            # Each edit breaks at most one piece, so at least `needed` pieces are intact; an intact piece has
            # moved by the edits before it (at most `edits`) and the length change minus the edits after it.
            needed = len(spans) - edits
            if needed == 1:
                last_piece = len(spans) - 1
                for piece, (start, size) in enumerate(spans):
                    block = self._by_segment.get((length, piece))
                    if block is None:
                        continue
                    # Multi-match-aware window (Pass-Join): some piece i is intact with at most i edits before
                    # it and at most last_piece - i after it.
                    first = max(0, start - piece, start + delta - (last_piece - piece))
                    last = min(n - size, start + piece, start + delta + (last_piece - piece))
                    for at in range(first, last + 1):
                        ids = block.get(query[at : at + size])
                        if ids:
                            found.update(ids)
                continue
            seen: Counter[int] = Counter()
            for piece, (start, size) in enumerate(spans):
                block = self._by_segment.get((length, piece))
                if block is None:
                    continue
                hits: set[int] = set()
                for at in range(max(0, start - edits, start + delta - edits), min(n - size, start + edits,
                                                                                   start + delta + edits) + 1):
                    ids = block.get(query[at : at + size])
                    if ids:
                        hits.update(ids)
                seen.update(hits)
            found.update(form_id for form_id, count in seen.items() if count >= needed)

    def _word_candidates(self, query: str) -> set[int]:
        keys = {_word_key(word) for word in query.split() if len(word) >= 3}
        postings = sorted(
            (ids for ids in map(self._by_word_key.get, keys) if ids and len(ids) <= TOKEN_BLOCK_MAX_POSTINGS),
            key=len,
        )[:TOKEN_BLOCK_KEYS]
        if not postings:
            return set()
        # Names sharing the most of the query's rarest word keys first; set intersections run in C.
        tiers: list[frozenset[int]] = []
        if len(postings) == 3:
            tiers.append(postings[0] & postings[1] & postings[2])
        if len(postings) >= 2:
            tiers.append((postings[0] & postings[1]) | (postings[0] & postings[-1]) | (postings[1] & postings[-1]))
        if len(postings[0]) <= RARE_WORD_POSTINGS:
            tiers.append(postings[0])
        found: set[int] = set()
        for tier in tiers:
            if len(found) + len(tier) <= CANDIDATE_CAP:
                found |= tier
            else:
                found.update(sorted(tier - found)[:CANDIDATE_CAP - len(found)])
                break
        return found

    def _candidates(self, query: str) -> tuple[set[int], set[int]]:
        """(near, other): `near` holds every name within allowed_edits of the query (and maybe more)."""
        near: set[int] = set()
        exact = self._form_ids.get(query)
        if exact is not None:
            near.add(exact)
        self._segment_candidates(query, near)
        other = self._word_candidates(query)
        other.update(self._by_sorted_words.get(_sorted_words(query), ()))
        other.update(self._by_sound.get(phonetic_key(query), ()))
        return near, other

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
        if exhaustive:
            near: set[int] | range = range(len(self._forms))
            candidates: Iterable[int] = near
        else:
            near, other = self._candidates(query)
            candidates = near | other
        query_words = frozenset(query.split())
        same_words = frozenset(self._by_sorted_words.get(_sorted_words(query), ()))
        same_sound = frozenset(self._by_sound.get(phonetic_key(query), ()))
        forms, owners, names = self._forms, self._owners, self._names
        best: dict[tuple[str, str], tuple[tuple, int, int, _Assessment]] = {}
        for form_id in candidates:
            form = forms[form_id]
            assessment = _assess(query, form, query_words=query_words, same_words=form_id in same_words,
                                 same_sound=form_id in same_sound, near=form_id in near, floor=floor)
            if assessment is None:
                continue
            rank = LEVEL_RANK[assessment.level]
            for position in owners[form_id]:
                indexed = names[position]
                order = (-rank, -assessment.score, assessment.distance if assessment.distance is not None else 99,
                         indexed.list_code, indexed.entry_id, indexed.kind, indexed.name, form)
                entry = (indexed.list_code, indexed.entry_id)
                held = best.get(entry)
                if held is None or order < held[0]:
                    best[entry] = (order, form_id, position, assessment)
        ranked = sorted(best.values(), key=lambda item: item[0])[:limit]
        return [self._match(query, forms[form_id], names[position], assessment)
                for _, form_id, position, assessment in ranked]

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
