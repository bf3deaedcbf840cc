"""Checkable claims found in reasoning text: the ExpCoT's own sentences and the plainer wording
API models use ("a spike around t=400", "period of about 50 points", "mean 0.12").

Text is untrusted: it is clipped to ``MAX_CHARS`` and read with bounded regular expressions only.
Patterns run in order, most specific first; a match that overlaps text an earlier pattern
claimed is skipped, so one number is never two claims.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from anomseer.protocol import LABELS, normalize_label

MAX_CHARS = 50_000
"""Longest reasoning read; the rest is ignored."""

NUM = r"[-+]?\d+(?:\.\d+)?"
_T = r"(?:t\s*=\s*|t\s+|index\s+|point\s+|position\s+|time\s*(?:step)?\s*)?~?"
_ABOUT = r"(?:\s+(?:of|is|was|at|around|about|roughly|approximately|near|close to|≈|=|~|:))*\s*~?"
_LABEL = "|".join(sorted({*LABELS, "global", "contextual"}, key=len, reverse=True))
_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
_WORDS |= {"eight": 8, "nine": 9, "ten": 10, "single": 1}
_COUNT = r"(\d+|" + "|".join(_WORDS) + r")"


@dataclass(frozen=True)
class Stated:
    """One claim as written: its ``kind``, the ``quote`` it was read from, the stated ``value``
    (and the number as ``written``, for its rounding), the position or ``[start, end)`` it is
    ``at``, the ``analysis`` a departure or peak belongs to (for the matrix profile at a
    position: its window) and a departure's ``threshold``."""

    kind: str
    quote: str
    value: object
    written: str = ""
    at: int | tuple[int, int] | None = None
    analysis: str = ""
    threshold: float | None = None


Handler = Callable[[re.Match, str], list[Stated]]


def _stretches(listing: str | None) -> Iterator[tuple[int, int, str | None]]:
    """``[a, b)`` items of a listing, each with the number after it (a period or a slope)."""
    for m in re.finditer(
        rf"\[(\d+), (\d+)\)(?: with period ({NUM}|inf)| at ({NUM}) per 100)?", listing or ""
    ):
        yield int(m[1]), int(m[2]), m[3] or m[4]


def _analysis_before(text: str, position: int) -> str:
    """Which ExpCoT paragraph a departure clause belongs to: the nearest heading before it."""
    head = text[max(0, position - 400) : position]
    local, global_ = head.rfind("Local context"), head.rfind("Global statistics")
    return "local" if local > global_ else "global"


def _departures(m: re.Match, analysis: str, count: str | None, threshold: str, listing: str | None):
    claims = [
        Stated(
            "stretch count", m[0], int(count or 0), analysis=analysis, threshold=float(threshold)
        )
    ]
    for start, end, number in _stretches(listing):
        quote = f"[{start}, {end})"
        claims.append(
            Stated(
                "stretch",
                quote,
                (start, end),
                at=(start, end),
                analysis=analysis,
                threshold=float(threshold),
            )
        )
        if number == "inf":  # a local frequency of 0: no period to check
            continue
        if number is not None and analysis == "frequency":
            claims.append(
                Stated(
                    "local period",
                    f"{quote} with period {number}",
                    float(number),
                    number,
                    (start, end),
                )
            )
        elif number is not None:
            claims.append(
                Stated(
                    "mean slope",
                    f"{quote} at {number} per 100 points",
                    float(number),
                    number,
                    (start, end),
                )
            )
    return claims


def _z_departures(m: re.Match, text: str) -> list[Stated]:
    return _departures(m, _analysis_before(text, m.start()), m[1], m[2], m[3])


def _sigma_departures(analysis: str) -> Handler:
    def handler(m: re.Match, text: str) -> list[Stated]:
        if m["within"] is not None:
            return _departures(m, analysis, "0", m["within"], None)
        return _departures(m, analysis, m["count"], m["sigma"], m["listing"])

    return handler


def _one(kind: str, group: int = 1) -> Handler:
    """A handler for one number (group ``group``) stated as ``kind``."""
    return lambda m, text: [Stated(kind, m[0], float(m[group]), m[group])]


def _length(m: re.Match, text: str) -> list[Stated]:
    return [Stated("length", m[0], int(m[1]), m[1])]


def _robust(m: re.Match, text: str) -> list[Stated]:
    return [
        Stated("median", m[0], float(m[1]), m[1]),
        Stated("robust scale", m[0], float(m[2]), m[2]),
        Stated("peak z", m[0], float(m[3]), m[3], analysis="global"),
        Stated("peak position", m[0], int(m[4]), m[4], analysis="global"),
    ]


def _local(m: re.Match, text: str) -> list[Stated]:
    return [
        Stated("local scale", m[0], float(m[1]), m[1]),
        Stated("peak z", m[0], float(m[2]), m[2], analysis="local"),
        Stated("peak position", m[0], int(m[3]), m[3], analysis="local"),
    ]


def _period(m: re.Match, text: str) -> list[Stated]:
    share = Stated("power share", m[0], float(m[2]) / 100, m[2] + "%")
    return [Stated("period", m[0], float(m[1]), m[1]), share]


def _no_period(m: re.Match, text: str) -> list[Stated]:
    return [
        Stated("period", m[0], None),
        Stated("power share", m[0], float(m[1]) / 100, m[1] + "%"),
    ]


def _typical_slope(m: re.Match, text: str) -> list[Stated]:
    return [Stated("typical slope", m[0], float(m[1]), m[1]), *_sigma_departures("trend")(m, text)]


def _discord(m: re.Match, text: str) -> list[Stated]:
    return [
        Stated("discord position", m[0], int(m[2]), m[2]),
        Stated("discord distance", m[0], float(m[3]), m[3]),
        Stated("discord z", m[0], float(m[4]), m[4]),
    ]


def _interval(m: re.Match) -> tuple[int, int]:
    return int(m["s"]), int(m["e"])


def _inside_global(m: re.Match, text: str) -> list[Stated]:
    where = _interval(m)
    return [
        Stated("answer interval", m[0], where, at=where),
        Stated("value", m[0], float(m["v"]), m["v"], int(m["t"])),
        Stated("peak position", m[0], int(m["t"]), m["t"], where, analysis="global"),
        Stated("peak z", m[0], float(m["z"]), m["z"], where, analysis="global"),
        Stated("unlabelled range", m[0], (float(m["lo"]), float(m["hi"])), m["lo"] + " " + m["hi"]),
    ]


def _inside_local(m: re.Match, text: str) -> list[Stated]:
    where = _interval(m)
    return [
        Stated("answer interval", m[0], where, at=where),
        Stated("peak z", m[0], float(m["z"]), m["z"], where, analysis="local"),
        Stated("peak position", m[0], int(m["t"]), m["t"], where, analysis="local"),
    ]


def _inside_period(m: re.Match, text: str) -> list[Stated]:
    where = _interval(m)
    claims = [
        Stated("answer interval", m[0], where, at=where),
        Stated("local period", m[0], float(m["p"]), m["p"], where),
    ]
    if m["typ"]:
        claims.append(Stated("period", m[0], float(m["typ"]), m["typ"]))
    return claims


def _inside_slope(m: re.Match, text: str) -> list[Stated]:
    where = _interval(m)
    return [
        Stated("answer interval", m[0], where, at=where),
        Stated("mean slope", m[0], float(m["g"]), m["g"], where),
        Stated("typical slope", m[0], float(m["typ"]), m["typ"]),
    ]


def _inside_discord(m: re.Match, text: str) -> list[Stated]:
    where = _interval(m)
    return [
        Stated("answer interval", m[0], where, at=where),
        Stated("profile", m[0], float(m["d"]), m["d"], int(m["t"]), analysis=m["w"]),
    ]


def _answer_interval(m: re.Match, text: str) -> list[Stated]:
    where = _interval(m)
    return [Stated("answer interval", m[0], where, at=where)]


def _anomaly_interval(m: re.Match, text: str) -> list[Stated]:
    """A stretch named in plain words counts as the answer's when its sentence speaks of an
    anomaly before it."""
    sentence = re.split(r"[.;<>]", text[max(0, m.start() - 80) : m.start()])[-1]
    return _answer_interval(m, text) if "anomal" in sentence.lower() else []


def _no_departure(m: re.Match, text: str) -> list[Stated]:
    return [Stated("no departure", m[0], True)]


def _label(m: re.Match, text: str) -> list[Stated]:
    return [Stated("answer class", m[0], normalize_label(m[1]))]


def _normal(m: re.Match, text: str) -> list[Stated]:
    return [Stated("answer class", m[0], "normal")]


def _count(m: re.Match, text: str) -> list[Stated]:
    word = m[1].lower()
    return [Stated("answer count", m[0], int(_WORDS.get(word, word)), m[1])]


def _grid(m: re.Match, text: str) -> list[Stated]:
    return [Stated("variate count", m[0], int(m[1]), m[1]), Stated("length", m[0], int(m[2]), m[2])]


def _ids(listing: str) -> tuple[int, ...]:
    return tuple(int(v) for v in re.findall(r"\d+", listing))


def _excess_summary(m: re.Match, text: str) -> list[Stated]:
    claims = [Stated("median excess", m[0], float(m[1]), m[1])]
    for v, e in re.findall(rf"variate (\d+): ({NUM})", m[2]):
        claims.append(Stated("excess", f"variate {v}: {e}", float(e), e, int(v)))
    claims.append(Stated("flagged variates", m[0], _ids(m[3] or "")))
    return claims


def _variate_conclusion(m: re.Match, text: str) -> list[Stated]:
    ids = _ids(m["ids"])
    values = re.findall(NUM, m["ex"])
    claims = [Stated("answer variates", m[0], ids)]
    claims += [Stated("excess", m[0], float(e), e, v) for v, e in zip(ids, values, strict=False)]
    return claims


def _spike(m: re.Match, text: str) -> list[Stated]:
    return [Stated("spike", m[0], int(m[2]), m[2], int(m[2]))]


def _value_at(m: re.Match, text: str) -> list[Stated]:
    return [Stated("value", m[0], float(m[1]), m[1], int(m[2]))]


def _direction(m: re.Match, text: str) -> list[Stated]:
    word = m[1].lower()
    sign = -1 if re.match(r"fall|decreas|downward|declin", word) else 1
    start, end = sorted((int(m[2]), int(m[3])))
    return [Stated("direction", m[0], sign, word, (start, end))]


_LISTING = (
    rf"(?:\[\d+, \d+\)(?: with period (?:{NUM}|inf)| at {NUM} per 100 points)?(?:, | and )?){{1,8}}"
    r"(?:\d+ more)?"
)
_SIGMA = (
    rf"(?:stays within (?P<within>{NUM}) sigma of it|departs by more than (?P<sigma>{NUM}) sigma "
    rf"in (?P<count>\d+) stretch(?:es)?: (?P<listing>{_LISTING}))"
)
_IN = r"\bIn \[(?P<s>\d+), (?P<e>\d+)\)"

PATTERNS: tuple[tuple[str, Handler], ...] = (
    # the ExpCoT's sentences (data_gen.expcot)
    (r"\bseries has (\d+) points", _length),
    (r"\b(\d+) of them missing", _one("missing")),
    (rf"\bnoise level (?:is |of )?({NUM})", _one("noise")),
    (rf"\bmean ({NUM}), std ({NUM})", lambda m, t: [*_one("mean")(m, t), *_one("std", 2)(m, t)]),
    (
        rf"robust z-scores \(median ({NUM}), scale ({NUM})\) peak at \|z\| = ({NUM}) at t = (\d+)",
        _robust,
    ),
    (rf"in units of ({NUM}), peak at \|z\| = ({NUM}) at t = (\d+)", _local),
    (
        rf"(?:no point has|(\d+) stretch(?:es)? (?:has|have)) \|z\| > ({NUM})(?:: ({_LISTING}))?",
        _z_departures,
    ),
    (rf"dominant period is ({NUM}) points \((\d+)% of the power\)", _period),
    (r"no dominant period \(the largest FFT peak holds (\d+)% of the power\)", _no_period),
    (rf"local period from the analytic signal {_SIGMA}", _sigma_departures("frequency")),
    (rf"is typically ({NUM}) per 100 points and {_SIGMA}", _typical_slope),
    (
        rf"discord \(window (\d+)\) starts at t = (\d+), distance ({NUM}) to its nearest "
        rf"neighbour \(z = ({NUM})\)",
        _discord,
    ),
    (
        rf"{_IN} the value reaches (?P<v>{NUM}) at t = (?P<t>\d+) \(robust \|z\| = (?P<z>{NUM})\), "
        rf"[a-z ]{{0,20}}the range \[(?P<lo>{NUM}), (?P<hi>{NUM})\] of the unlabelled points",
        _inside_global,
    ),
    (rf"{_IN} the local z-score reaches (?P<z>{NUM}) at t = (?P<t>\d+)", _inside_local),
    (
        rf"{_IN} the local period is (?P<p>{NUM}) points(?: against the typical (?P<typ>{NUM}))?",
        _inside_period,
    ),
    (
        rf"{_IN} the gradient averages (?P<g>{NUM}) per 100 points against the typical "
        rf"(?P<typ>{NUM}) per 100 points",
        _inside_slope,
    ),
    (
        rf"{_IN} the subsequence starting at t = (?P<t>\d+) lies at distance (?P<d>{NUM}) from its "
        r"nearest neighbour \(window (?P<w>\d+)\)",
        _inside_discord,
    ),
    (_IN, _answer_interval),
    (r"\bno analysis finds a departure", _no_departure),
    (
        rf"(?i)\b(?:so the class is|at first sight:|the class is|the type is|classified as)\s+"
        rf"(?:an? )?({_LABEL})\b",
        _label,
    ),
    (r"(?i)\bso the series is normal\b", _normal),
    (
        rf"(?i)\b{_COUNT} anomalous (?:intervals?|segments?|regions?|windows?|stretch(?:es)?)\b",
        _count,
    ),
    (rf"(?i)\b{_COUNT} (?:distinct |separate )?anomal(?:y|ies)\b", _count),
    # the multivariate ExpCoT
    (r"\bgrid shows (\d+) variates of (\d+) points", _grid),
    (
        rf"median excess is ({NUM}); the largest are ((?:variate \d+: {NUM}(?:, )?){{1,8}}); "
        rf"(?:variates (\[[\d, ]*\]) reach {NUM}|no variate reaches {NUM})",
        _excess_summary,
    ),
    (
        rf"\bvariates? (?P<ids>\[[\d, ]*\]|\d+) \(excess (?P<ex>{NUM}(?:, {NUM}){{0,50}})\) "
        r"follows?",
        _variate_conclusion,
    ),
    # plainer wording
    (
        r"(?i)\b(spikes?|dips?|outliers?|jumps?|surges?|drops?|anomalous (?:point|value)s?|"
        r"sudden (?:rise|fall|drop|increase|decrease))\b"
        rf"[^.;<>]{{0,40}}?\b(?:around|at|near|about|by)\s+{_T}(\d+)\b",
        _spike,
    ),
    (
        rf"(?i)\breach(?:es|ing)?\s+(?:a (?:value|peak) of\s+)?~?({NUM})\s+"
        rf"(?:at|around|near)\s+{_T}(\d+)\b",
        _value_at,
    ),
    (
        r"(?i)\b(ris(?:e|es|ing)|increas\w*|upward|climb\w*|fall(?:s|ing)?|decreas\w*|downward|"
        rf"declin\w*)\b[^.;<>]{{0,60}}?\b(?:between|from)\s+{_T}(\d+)\s*(?:and|to|-|–)\s*{_T}(\d+)\b",
        _direction,
    ),
    (
        rf"(?i)\b(?:period(?:icity)?|cycle(?: length)?)\b{_ABOUT}({NUM})(?!\.?\d|\s*(?:%|sigma))",
        _one("period"),
    ),
    (rf"(?i)\brepeats every\s+(?:about |around |roughly |~)?({NUM})", _one("period")),
    (
        rf"(?i)\b(?:mean|average)(?: value| level)?\b{_ABOUT}({NUM})(?!\.?\d|\s*points)",
        _one("mean"),
    ),
    (rf"(?i)\b(?:std|standard deviation|stdev)\b{_ABOUT}({NUM})(?!\.?\d|\s*points)", _one("std")),
    (rf"(?i)(?<!running )\bmedian\b{_ABOUT}({NUM})(?!\.?\d|\s*points)", _one("median")),
    (rf"(?i)\bnoise (?:level|std)\b{_ABOUT}({NUM})", _one("noise")),
    (
        rf"(?i)\b(?:between|from|in)\s+{_T}(?P<s>\d+)\s*(?:and|to|-|–)\s*{_T}(?P<e>\d+)\b",
        _anomaly_interval,
    ),
)
MAX_DIGITS = 9
"""Longest run of digits read as a number (Python refuses to convert very long ones)."""
_COMPILED = tuple(
    (re.compile(pattern.replace(r"\d+", rf"\d{{1,{MAX_DIGITS}}}")), handler)
    for pattern, handler in PATTERNS
)


def extract_claims(text: str) -> list[Stated]:
    """The checkable claims of ``text``, in the order they appear."""
    text = text[:MAX_CHARS] if isinstance(text, str) else ""
    taken = bytearray(len(text))
    found: list[tuple[int, list[Stated]]] = []
    for pattern, handler in _COMPILED:
        for m in pattern.finditer(text):
            if any(taken[m.start() : m.end()]):
                continue
            taken[m.start() : m.end()] = b"\x01" * (m.end() - m.start())
            found.append((m.start(), handler(m, text)))
    found.sort(key=lambda item: item[0])
    return [claim for _, claims in found for claim in claims]
