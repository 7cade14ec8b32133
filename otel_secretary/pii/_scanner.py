"""Finds PII spans in a string in time linear in its length, without scanning every position with regexes.

Trying a 25-way alternation at every character costs ~0.7 µs/char in CPython's ``re``; instead each
family is driven by cheap anchors found at C speed, and the detector regexes are only ``match``-ed there:

* digits: each number-bearing token (a digit in a long token or joined to the next group) is tried
  against the allow-list and the digit detectors (cards, phones, IBAN, SSN, IPs);
* secrets: literal anchors (``sk-``, ``AKIA``, ``Bearer``, ``=``, ``://``, ``": `` …), all found by one
  Aho-Corasick pass (ahocorasick-rs), then only the detectors of each anchor are ``match``-ed there;
* e-mail: from each ``@`` outward (bounded), so ``'a' * 10**6`` never starts a local-part scan.

Every detector pattern is bounded, so each ``match`` is O(1) in the input size; rejected candidates skip
a whole token, so the total work is linear. This module returns spans; it never decides placeholders.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from ahocorasick_rs import AhoCorasick, MatchKind

from otel_secretary.pii import _validators as v
from otel_secretary.pii._detectors import PLACEHOLDER, SAFE_HEX, SAFE_PATTERNS, Detector
from otel_secretary.pii._keys import key_kind
from otel_secretary.pii._names import find_names, looks_like_name, name_end

_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_WORD = _ALNUM | {"_"}
_KEY = _WORD | {".", "-"}
_ALNUM_CHARS = "".join(sorted(_ALNUM))
_WORD_CHARS = "".join(sorted(_WORD))
_KEY_CHARS = "".join(sorted(_KEY))
_TOKEN_END = re.compile(r"[0-9A-Za-z]*")
# Where a number-like candidate can start: every detector and allow-listed id spans 7+ characters, so a
# digit matters only inside a long token or where a separator joins it to the next group ("555 010",
# "fe80::1", "(555) 010", "GB29 NWBK"). A single leading class plus a lookahead is ~2x faster to
# search than "\d(?:…)" in CPython's re.
# A digit up to three hex digits before a colon may start an IPv6 group ("2a0d:5600:…").
_INTERESTING = re.compile(r"[0-9](?=[0-9A-Za-z]{6}|[ ./()-]{1,2}[0-9]|[0-9A-Fa-f]{0,3}:|\)| [A-Z0-9]{4})")
_VERSION_LABEL = re.compile(r"(?:^|[^A-Za-z])(?:rv|v|ver|version)$", re.IGNORECASE)
_HEX_COLON = frozenset("0123456789abcdefABCDEF:")
# "AB 12 34 56 C": a national id whose letters stand apart from its first digit group.
_LETTER_PREFIX = re.compile(r"[A-Z]{2} ")
_PLACEHOLDER = re.compile(PLACEHOLDER)
_EMAIL_DOMAIN = re.compile(r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.([A-Za-z]{2,24})\b")
_EMAIL_LOCAL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-"
_EMAIL_LOCAL = frozenset(_EMAIL_LOCAL_CHARS)
# "logo@2x.png" is an asset name, not an address.
_FILE_TLDS = frozenset({"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "pdf", "js", "css", "py"})
# How far back from an interesting digit its token may start ("DE89 …", "c56a4180-…", "555 010").
_MAX_PREFIX = 24


class Hit(NamedTuple):
    """One PII span; ``rank`` orders the passes when spans overlap (lower wins)."""

    start: int
    end: int
    kind: str
    rank: int = 0


class Scanner:
    def __init__(self, detectors: Sequence[Detector], names: bool = True) -> None:
        self._names = names
        # The prefilter's name search, reused by the scan of the same string (identity, not equality).
        self._found_names: tuple[str, list[tuple[int, int]]] = ("", [])
        # The last text the prefilter passed on a name cue alone (no anchor, trigger or digit): its scan
        # is the name search only (identity, not equality; one reference, so threads may race harmlessly).
        self._names_only: str | None = None
        # The last text the prefilter found a digit in but no literal (anchor, '@', '%', extra trigger):
        # its scan skips the literal-driven families (identity, not equality, as above).
        self._no_literals: str | None = None
        # "123.456.789-09" (CPF) would pass for a version "187.244.670-14": tried before the allow-list.
        digit_detectors = [d for d in detectors if d.family == "digits"]
        self._early = [(d, re.compile(d.pattern)) for d in digit_detectors if d.name == "cpf"]
        self._digit_detectors = [d for d in detectors if d.family == "digits" and d.name != "cpf"]
        self._digit_regexes = [re.compile(d.pattern) for d in self._digit_detectors]
        # Each alternative is named by an empty group at its end (``lastgroup``: the group that closed
        # last), not by a group around it: an alternative that starts with a literal or a class is then
        # skipped by re's branch dispatch at the first character, instead of being entered (~15% faster).
        parts = [f"(?:{PLACEHOLDER})(?P<s0>)"]
        parts += [f"(?:{pattern})(?P<s{i + 1}>)" for i, (_, pattern) in enumerate(SAFE_PATTERNS)]
        parts += [
            f"(?:{d.pattern.replace('(?P<secret>', '(?:')})(?P<d{i}>)"
            for i, d in enumerate(self._digit_detectors)
        ]
        parts.append(f"(?:{SAFE_HEX})(?P<s99>)")
        self._digit_scanner = re.compile("|".join(parts))
        self._by_group = {f"d{i}": (i, d) for i, d in enumerate(self._digit_detectors)}
        self._digit_tails = [
            re.compile("|".join(parts[1 + len(SAFE_PATTERNS) + i : -1]))
            for i in range(len(self._digit_detectors))
        ]

        self._anchored: dict[str, list[tuple[Detector, re.Pattern[str]]]] = {}
        for detector in detectors:
            if detector.family == "secret":
                compiled = re.compile(detector.pattern)
                for anchor in detector.anchors:
                    self._anchored.setdefault(anchor, []).append((detector, compiled))
        # Longest first so "github_pat_" wins over a shorter overlapping anchor at the same place.
        ordered = sorted(self._anchored, key=len, reverse=True)
        # Short texts: one Aho-Corasick pass over the anchors (~0.3 µs for a 50-character value, where a
        # regex alternation of the same literals costs 1-2 µs: its first characters s, t, e, b … stop it
        # on most letters). Leftmost-longest, like the longest-first alternation it replaces.
        self._anchor_list = tuple(ordered)
        self._anchor_automaton = (
            AhoCorasick(ordered, matchkind=MatchKind.LeftmostLongest) if ordered else None
        )
        # Long texts: all occurrences (about 3x faster on 4 KB than one str.find loop per anchor).
        self._all_anchors = AhoCorasick(ordered or ["\x00"])

        extra = [d for d in detectors if d.family.startswith("extra")]
        self._extra = [(d, re.compile(d.pattern), d.family.removeprefix("extra:")) for d in extra]
        # may_match: every possible hit needs an anchor, an interesting digit, '@' or an extra trigger.
        # A trigger-less extra pattern could match anything, so it turns the prefilter off.
        self._always = any(not trigger for _, _, trigger in self._extra)
        literals = [*ordered, *(trigger for _, _, trigger in self._extra if trigger)]
        # One automaton pass finds every literal a hit needs (anchors, extra triggers, '@' of an e-mail,
        # '%' of an encoded value): about 0.2 µs on a short value, where a regex alternation of the same
        # literals stops on most letters and costs several times that.
        self._triggers = AhoCorasick([*literals, "@", "%"])

    def may_match(self, text: str) -> bool:
        """False only when ``scan(text)`` is certainly empty; meant for short values."""
        if self._always:
            return True
        if self._triggers.find_matches_as_indexes(text):
            return True
        if _INTERESTING.search(text) is not None:
            self._no_literals = text
            return True
        if "+" in text and "=" in text:
            return True  # a form body: '+' is a blank ("4539+1488+0343+6467")
        # A cue needs a blank after it ("Hi Priya"); one automaton pass decides.
        if self._names and _may_name(text) and self._names_in(text):
            self._names_only = text
            return True
        return False

    def scan(self, text: str, decode: bool = True) -> list[Hit]:
        if self._names_only is text and decode:
            # Nothing but a name cue can match here (may_match just looked): skip the other families.
            names = [Hit(start, end, "name", 2) for start, end in self._names_in(text)]
            return _non_overlapping(names) if len(names) > 1 else names
        hits: list[Hit] = []
        if self._no_literals is text and decode and not ("+" in text and "=" in text):
            # No anchor, '@', '%' or extra trigger anywhere (may_match just looked): digits and names only.
            self._scan_digits(text, hits)
            if self._names and _may_name(text):
                hits.extend(Hit(start, end, "name", 2) for start, end in self._names_in(text))
            return _non_overlapping(hits) if len(hits) > 1 else hits
        if decode and ("%" in text or ("+" in text and "=" in text)):
            self._scan_decoded(text, hits)
        if self._anchor_automaton is not None:
            self._scan_anchors(text, hits)
        self._scan_digits(text, hits)  # its first search finds no digit at C speed
        if "@" in text or "%40" in text:
            self._scan_emails(text, hits)
        if decode and self._names and _may_name(text):  # names are never URL-encoded cues
            hits.extend(Hit(start, end, "name", 2) for start, end in self._names_in(text))
        for detector, regex, trigger in self._extra:
            if not trigger or trigger in text:
                hits.extend(
                    Hit(m.start(), m.end(), detector.kind, 3)
                    for m in regex.finditer(text)
                    if m.end() > m.start()
                )
        if len(hits) > 1:
            hits = _non_overlapping(hits)
        return hits

    def _names_in(self, text: str) -> list[tuple[int, int]]:
        cached_text, spans = self._found_names
        if cached_text is text:
            return spans
        spans = find_names(text)
        self._found_names = (text, spans)
        return spans

    # ------------------------------------------------------------------------------------ URL encoding
    def _scan_decoded(self, text: str, hits: list[Hit]) -> None:
        """Scan the percent-/form-decoded view ("%2B1%20415…", "4539+1488…") and map hits back.

        Each hit covers the whole encoded source of its characters, so "?tel=%2B1%20415%20555%200199&x=1"
        becomes "?tel=<phone>&x=1": only the PII substring is replaced, the rest of the URL stays readable.
        """
        decoded, starts = _url_decoded(text)
        if decoded == text:
            return
        for hit in self.scan(decoded, decode=False):
            hits.append(Hit(starts[hit.start], starts[hit.end], hit.kind, hit.rank))

    # ------------------------------------------------------------------------------------ secrets
    def _anchor_positions(self, text: str) -> list[tuple[int, str]]:
        assert self._anchor_automaton is not None
        if len(text) < 512:
            anchors = self._anchor_list
            return [
                (start, anchors[index])
                for index, start, _ in self._anchor_automaton.find_matches_as_indexes(text)
            ]
        # Long text: every occurrence, overlapping ones too ('":' and ': ' in '"k": "v"'), in one pass.
        anchors = self._anchor_list
        found = [
            (start, anchors[index])
            for index, start, _ in self._all_anchors.find_matches_as_indexes(text, overlapping=True)
        ]
        found.sort(key=lambda item: (item[0], -len(item[1])))
        return found

    def _scan_anchors(self, text: str, hits: list[Hit]) -> None:
        covered = -1
        for index, anchor in self._anchor_positions(text):
            if index < covered:
                continue
            for detector, regex in self._anchored[anchor]:
                mode = detector.start
                if mode == "here":
                    start = index
                else:  # _start, inlined: this runs at every ": ", "=" and '":' of every value
                    chars = _KEY_CHARS if mode == "key" else _WORD_CHARS
                    floor = index - 80 if index > 80 else 0
                    start = floor + len(text[floor:index].rstrip(chars))
                    if start > 0 and text[start - 1] in chars:
                        continue
                kind = detector.kind
                if mode == "key":
                    key = text[start:index]
                    kind = _anchored_key_kind(key, anchor == ": ")
                    if not kind:
                        continue  # decided before the value scan, so "a=a=a=…" costs O(1) per '='
                match = regex.match(text, start)
                if match is None:
                    continue
                if kind == "person":
                    # "organizer": "Jane Doe" is a name; "organizer": "cus_123" or an address is not.
                    if not looks_like_name(match.group("secret")):
                        continue
                    kind = "name"
                accepted = _accept(detector, match.group(), text, start)
                if not accepted:
                    continue
                end = start + accepted
                if "(?P<secret>" in detector.pattern:
                    inner_start, inner_end = match.span("secret")
                    if inner_start >= 0 and inner_end <= end:
                        if kind == "name":
                            # "name=Ada Lovelace" (a decoded query, a log line): the value stops at the
                            # blank, the name does not.
                            inner_end = max(inner_end, name_end(text, inner_start))
                        hits.append(Hit(inner_start, inner_end, kind))
                        covered = max(end, inner_end)
                        break
                hits.append(Hit(start, end, kind))
                covered = end
                break

    # ------------------------------------------------------------------------------------ digits
    def _scan_digits(self, text: str, hits: list[Hit]) -> None:
        pos = 0
        length = len(text)
        search = _INTERESTING.search  # this loop runs for every value with a digit: no helper calls
        token_end_at = _TOKEN_END.match
        while pos < length:
            found = search(text, pos)
            if found is None:
                return
            digit = found.start()
            floor = digit - _MAX_PREFIX if digit > _MAX_PREFIX else 0
            # The token's start: one C-level rstrip over the letters and digits before the digit.
            token = floor + len(text[floor:digit].rstrip(_ALNUM_CHARS))
            word = token_end_at(text, digit)
            token_end = word.end() if word is not None else digit
            if token > 0 and text[token - 1] in _ALNUM:
                # The digit sits deep inside a longer word (an id, a hash, a key): never PII on its own.
                pos = token_end
                continue
            if token > 0 and text[token - 1] == "<":
                placeholder = _PLACEHOLDER.match(text, token - 1)
                if placeholder is not None:
                    pos = placeholder.end()
                    continue
            first = text[token]
            if first.islower() and first > "f":
                # Only hex ids and IPv6 start lowercase; "v1", "utf8", "gpt4" cannot match anything.
                pos = token_end
                continue
            prefix = text[token - 1] if token else ""
            if prefix and prefix in "+(":
                # "+44 …", "(555) …": the longer, more specific candidate first.
                end = self._try_token(text, token - 1, hits)
                if end < 0:
                    end = self._try_token(text, token, hits)
            else:
                end = self._try_token(text, token, hits)
                if end < 0 and prefix == ":":
                    end = self._try_token(text, token - 1, hits)
                    if end < 0:
                        end = self._try_ipv6_start(text, token, hits)
                if end < 0 and prefix == " " and token >= 3 and _LETTER_PREFIX.match(text, token - 3):
                    end = self._try_token(text, token - 3, hits)
            if end < 0:
                end = self._try_cued(text, token, hits)
            pos = max(end, token_end, digit + 1)

    def _try_ipv6_start(self, text: str, token: int, hits: list[Hit]) -> int:
        """ "abcd:5600::1": the address starts at the hex group before the colon, not at this digit."""
        start = token
        floor = max(0, token - 40)
        while start > floor and text[start - 1] in _HEX_COLON:
            start -= 1
        if start == token or (start > 0 and text[start - 1] in _WORD):
            return -1
        return self._try_token(text, start, hits)

    def _try_cued(self, text: str, token: int, hits: list[Hit]) -> int:
        """A bare number no detector claims, named by the words before it ("SSN 123456789",
        "Steuer-ID: 86095742719", "mobile 612 345 678"); the cue decides which validator applies."""
        window = text[max(0, token - _CUE_WINDOW) : token]
        tail = window.rstrip(" \t:=#.()-")
        if not tail or not tail[-1].isalpha():
            return -1  # every cue ends in a word just before the number ("1 1 1 …" costs nothing here)
        number = _NUMBER_RUN.match(text, token)
        if number is None or (token and text[token - 1] in _WORD):
            return -1
        if window.isascii() and not _CUE_PREFIXES.find_matches_as_indexes(window.lower()):
            return -1  # no cue word at all (the common case: "at 10:42", "version 2 of 3")
        cue = _CUE.search(window)
        if cue is None:
            return -1
        raw = number.group()
        end = token + len(raw)
        if end < len(text) and text[end] in _WORD:
            return -1
        for kind, check in _cue_checks(cue):
            if check(raw):
                hits.append(Hit(token, end, kind, 1))
                return end
        return -1

    def _try_token(self, text: str, start: int, hits: list[Hit]) -> int:
        """Match at ``start``; returns where scanning continues, or -1 when nothing matched."""
        if self._early and text[start + 3 : start + 4] == "." and text[start : start + 3].isdigit():
            for detector, regex in self._early:
                early = regex.match(text, start)
                if early is not None and (accepted := _accept(detector, early.group(), text, start)):
                    hits.append(Hit(start, start + accepted, detector.kind, 1))
                    return start + accepted
        match = self._digit_scanner.match(text, start)
        if match is None:
            return -1
        found = self._by_group.get(match.lastgroup or "")
        if found is None:
            return match.end()  # an allow-listed identifier or our own placeholder: skipped whole
        candidate: re.Match[str] | None = match
        # The first alternative that matched may be rejected by its validator; the later ones get a chance,
        # found by one match of the alternation of all later detectors (not one match per detector).
        # The matched alternative is the whole match: each is a top-level group of the alternation.
        while candidate is not None:
            index, detector = found
            accepted = _accept(detector, candidate.group(), text, start)
            if accepted:
                hits.append(Hit(start, start + accepted, detector.kind, 1))
                return start + accepted
            if index + 1 >= len(self._digit_tails):
                return -1
            candidate = self._digit_tails[index + 1].match(text, start)
            if candidate is not None:
                found = self._by_group[candidate.lastgroup or ""]
        return -1

    # ------------------------------------------------------------------------------------ e-mail
    @staticmethod
    def _scan_emails(text: str, hits: list[Hit]) -> None:
        for separator in ("@", "%40"):  # "%40" is '@' URL-encoded (?email=jane%40example.com)
            width = len(separator)
            at = text.find(separator)
            while at != -1:
                after = at + width
                if at == 0 or text[at - 1] not in _EMAIL_LOCAL:
                    at = text.find(separator, after)
                    continue
                domain = _EMAIL_DOMAIN.match(text, after)
                if domain is None or domain.group(1).lower() in _FILE_TLDS:
                    at = text.find(separator, after)
                    continue
                # The local part: the run of local-part characters before the '@', at most 64 (one
                # C-level rstrip instead of a Python step per character).
                window = text[max(0, at - 64) : at]
                start = at - len(window) + len(window.rstrip(_EMAIL_LOCAL_CHARS))
                while start < at and text[start] == ".":
                    start += 1
                if start < at:
                    hits.append(Hit(start, domain.end(), "email", 2))
                at = text.find(separator, domain.end())


# A number as people write it: groups of digits joined by single blanks, dots, dashes or slashes.
_NUMBER_RUN = re.compile(r"\(?\d{1,6}\)?(?:[ .-]?\d{1,6}){0,6}")
_CUE_WINDOW = 40
_PHONE_CUES = (
    r"phone|telephone|tel|mobile|cell|call|ring|text|sms|whatsapp|fax|móvil|movil|telefone|"
    r"telefon|telefono|téléphone|portable|handy|celular|cellulare"
)
# The words that name the number after them, by the validator they call for (regex alternatives).
_CUE_WORDS: dict[str, tuple[str, ...]] = {
    "ssn": ("ssn", r"social security(?: number| no\.?)?"),
    "tax": (r"tax[ _-]?id", "tin", "taxpayer id"),
    "cpf": ("cpf",),
    "bsn": ("bsn", "burgerservicenummer"),
    "aadhaar": ("aadhaar", "aadhar", "uidai"),
    "steuer": (
        r"steuer-?id",
        r"steuer-?idnr",
        "idnr",
        "steueridentifikationsnummer",
        "tax identification number",
    ),
    "nir": ("nir", "insee", "sécurité sociale", "securite sociale"),
    "nif": ("nif", "nie", "dni"),
    "phone": tuple(_PHONE_CUES.split("|")),
}
# Not preceded by '<': our own "<phone>" or "<ssn>" placeholder is no cue for the number after it.
_CUE = re.compile(
    r"(?i)(?<![<\w])(?:"
    + "|".join(f"(?P<{group}>{'|'.join(words)})" for group, words in _CUE_WORDS.items())
    + r")\b[^0-9\n<>]{0,24}$"
)


def _literal_head(alternative: str) -> str:
    """The letters and blanks an alternative always starts with ("tax[ _-]?id" → "tax", "steuer-?id" →
    "steuer"): a character followed by '?' is optional, and any other regex syntax ends the head."""
    head = re.match(r"[\w ]*", alternative)
    literal = head.group() if head else ""
    if len(alternative) > len(literal) and alternative[len(literal)] == "?":
        literal = literal[:-1]
    return literal


# What every ASCII alternative of _CUE starts with: an ASCII window without any of these, lower-cased,
# cannot match it, and one automaton pass says so faster than the regex tried at each place.
_CUE_PREFIXES = AhoCorasick(
    sorted({_literal_head(word) for words in _CUE_WORDS.values() for word in words if word.isascii()})
)


def _cue_checks(cue: re.Match[str]) -> tuple[tuple[str, Callable[[str], bool]], ...]:
    group = cue.lastgroup
    if group == "phone":
        return (("phone", _is_cued_phone),)
    if group == "ssn":
        return (("ssn", v.is_ssn),)
    if group == "tax":
        return (("ssn", v.is_ssn), ("national_id", v.is_national_id))
    check = {
        "cpf": v.is_cpf, "bsn": v.is_bsn, "aadhaar": v.is_aadhaar, "steuer": v.is_steuer_id,
        "nir": v.is_nir, "nif": v.is_nif,
    }[group or ""]  # fmt: skip
    return (("national_id", check),)


def _is_cued_phone(candidate: str) -> bool:
    """After a phone word, 9 to 13 digits that are not a date or a version."""
    digits = v.digits_only(candidate)
    return 9 <= len(digits) <= 13 and digits.isdigit() and candidate.count(".") < 3


def _may_name(text: str) -> bool:
    """A cue needs a blank after it ("Hi Priya"); CJK honorifics need none ("田中さん"). In ASCII text a
    name after a cue starts with a capital after the first character, and one at the very start can only
    be named by an address after it ("Jane <jane@…>"): all-lower-case text without '@' holds no name."""
    if not text.isascii():
        return True
    if " " not in text and "\n" not in text:
        return False
    return not text[1:].islower() or "@" in text


_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})|\+")


def _url_decoded(text: str) -> tuple[str, list[int]]:
    """``text`` with %XX (ASCII only) and, in a query or form body, '+' decoded; ``starts[i]`` is where
    decoded character ``i`` begins in ``text`` (``starts[len(decoded)] == len(text)``)."""
    form = "=" in text
    pieces: list[str] = []
    starts: list[int] = []
    last = 0
    for match in _ESCAPE.finditer(text):
        escape = match.group(1)
        if escape is None:
            if not form:
                continue
            char = " "
        else:
            code = int(escape, 16)
            if code >= 0x80:
                continue  # a byte of a multi-byte character: never part of a number or an address
            char = chr(code)
        start = match.start()
        pieces.append(text[last:start])
        starts.extend(range(last, start))
        pieces.append(char)
        starts.append(start)
        last = match.end()
    pieces.append(text[last:])
    starts.extend(range(last, len(text) + 1))
    return "".join(pieces), starts


@functools.lru_cache(maxsize=4096)
def _anchored_key_kind(key: str, colon_blank: bool) -> str:
    """The kind a key before an anchor gives its value ("" for none); a bare "name" counts as a person
    after "=" or '":' ("name=Ada Lovelace", '"name": "…"'), not after ": " in prose ("name: Ada")."""
    return key_kind(key) or ("person" if key.lower() == "name" and not colon_blank else "")


def _accept(detector: Detector, candidate: str, text: str, start: int) -> int:
    """Length of the accepted PII prefix of ``candidate`` (0: rejected).

    The guard looks at the characters around the candidate: the side before is checked first, as it
    does not depend on how much the validator keeps (cheap rejections for "1.1.1.1.1…" runs).
    """
    guard = detector.guard
    if guard == "digits":  # most detectors: the checks below for this guard alone, in the same order
        before = text[start - 1] if start else " "
        if before in _WORD or (before == "+" and candidate[0] != "+"):
            return 0
        if before in "./-" and start > 1 and text[start - 2].isdigit():
            return 0
        accepted = detector.validator(candidate) if detector.validator is not None else len(candidate)
        end = start + accepted
        if accepted and end < len(text):
            after = text[end]
            if after in _WORD or (after in "./-" and end + 1 < len(text) and text[end + 1].isdigit()):
                return 0
        return accepted
    if guard == "address":
        # ">, Name <": the '>' must close an address ("<jane@…>") or a masked one ("<<email>>").
        opened = text.rfind("<", max(0, start - 256), start)
        inside = text[opened + 1 : start] if opened >= 0 else ""
        masked_address = inside.startswith("email") and opened > 0 and text[opened - 1] == "<"
        return len(candidate) if "@" in inside or masked_address else 0
    before = text[start - 1] if start else " "
    joins = "." if guard == "ipv4" else "./-"
    if guard:
        if guard == "ipv6":
            if before in _WORD or before == ":":
                return 0
        elif before in _WORD or (before == "+" and candidate[0] != "+"):
            return 0
        elif before in joins and start > 1 and text[start - 2].isdigit():
            # The tail of a longer number ("06.12.34.56.78", "12/05/2024 2024-05").
            return 0
        elif guard == "ipv4" and before == "/" and start > 1 and text[start - 2] in _ALNUM:
            return 0  # "Chrome/124.0.0.0" is a product version, not an address
        elif guard == "ipv4" and before == ":" and _VERSION_LABEL.search(text, max(0, start - 9), start - 1):
            return 0  # "rv:1.9.1.20" in a Gecko user agent is a version
    accepted = detector.validator(candidate) if detector.validator is not None else len(candidate)
    if accepted and guard:
        end = start + accepted
        after = text[end] if end < len(text) else " "
        if guard == "ipv6":
            if after in _WORD or after == ":":
                return 0
        elif after in _WORD or (after in joins and end + 1 < len(text) and text[end + 1].isdigit()):
            return 0  # glued to a word, or the head of a longer number
    return accepted


def _non_overlapping(hits: list[Hit]) -> list[Hit]:
    """On overlap the better-ranked pass wins (secrets, digits, e-mail, extra): a password in URL
    userinfo stays a secret instead of becoming the local part of an "e-mail"."""
    hits.sort(key=lambda hit: (hit.start, hit.rank, -hit.end))
    accepted = [hits[0]]
    for hit in hits[1:]:
        last = accepted[-1]
        if hit.start >= last.end:
            accepted.append(hit)
        elif hit.rank < last.rank:
            accepted[-1] = hit
    return accepted
