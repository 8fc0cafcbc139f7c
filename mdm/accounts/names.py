"""How people's and classes' names become usernames and the keys they are compared by. Pure."""

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable

# Letters that Unicode does not decompose into a base letter and an accent, spelled as German
# and the languages they come from write them without the letter (Müller -> Mueller,
# Ørsted -> Oersted, Łukasz -> Lukasz, Þór -> Thor, Yıldız -> Yildiz).
SPELLED_OUT = {
    "ä": "ae",
    "ö": "oe",
    "ü": "ue",
    "ß": "ss",
    "ẞ": "ss",
    "ø": "oe",
    "æ": "ae",
    "å": "aa",
    "œ": "oe",
    "ł": "l",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "ı": "i",
    "ħ": "h",
    "ŋ": "ng",
}
# Each part of a generated username (first name, last name) is cut to this length.
MAX_PART = 40
_NOT_NAME = re.compile(r"[^a-z0-9]+")
_APOSTROPHES = re.compile(r"['’`´]")


def ascii_letters(text: str) -> str:
    """The text in lower-case ASCII: umlauts and ß spelled out, other accents dropped
    (`Müller` -> `mueller`, `Ørsted` -> `oersted`, `José` -> `jose`); letters of scripts
    without an ASCII spelling are dropped."""
    spelled = "".join(SPELLED_OUT.get(char, char) for char in text.casefold())
    decomposed = unicodedata.normalize("NFKD", spelled)
    return "".join(char for char in decomposed if char.isascii())


def username_part(name: str) -> str:
    """One name as part of a username: `Anna-Lena` -> `anna-lena`, `van der Berg` ->
    `van-der-berg`, `O'Brien` -> `obrien`."""
    text = _NOT_NAME.sub("-", ascii_letters(_APOSTROPHES.sub("", name))).strip("-")
    return text[:MAX_PART].strip("-")


def username_base(first_name: str, last_name: str) -> str:
    """`first.last` (or the one name there is); empty when the names have no usable letters."""
    return ".".join(part for part in (username_part(first_name), username_part(last_name)) if part)


def numbered(base: str, number: int) -> str:
    """The `number`th username of a base: `lena.schmidt`, `lena.schmidt2`, `lena.schmidt3`."""
    return base if number == 1 else f"{base}{number}"


def assign_usernames(
    bases: list[str], taken: Callable[[set[str]], set[str]], reserved: Iterable[str] = ()
) -> list[str]:
    """A free username for each base, in order: the base itself, else the base with the
    lowest free number from 2. `taken(candidates)` answers which candidates exist already (one
    call per round: a handful of candidates per base first, more only for bases that need them)."""
    needed = Counter(bases)
    reserved = set(reserved)
    free: dict[str, list[str]] = {base: [] for base in needed}
    first = dict.fromkeys(needed, 1)
    width = {base: count + 3 for base, count in needed.items()}
    pending = set(needed)
    while pending:
        candidates = {
            base: [numbered(base, n) for n in range(first[base], first[base] + width[base])]
            for base in pending
        }
        existing = taken({name for names in candidates.values() for name in names}) | reserved
        for base in sorted(pending):
            free[base] += [name for name in candidates[base] if name not in existing]
            if len(free[base]) >= needed[base]:
                pending.discard(base)
            else:
                first[base] += width[base]
                width[base] *= 2
    return [free[base].pop(0) for base in bases]


def name_key(text: str | None) -> str:
    """What names are compared by: ASCII letters and digits only (`Müller` = `Mueller` =
    `MUELLER`, `Anna-Lena` = `Anna Lena`)."""
    return _NOT_NAME.sub("", ascii_letters(text or ""))


def class_key(name: str | None) -> str:
    """What class names are compared by: `5a` = `5A` = `5 a`; empty for no class."""
    return name_key(name)
