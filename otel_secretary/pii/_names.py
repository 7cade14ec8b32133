"""Person names: where structure or wording says a name stands, and names learned from structure.

There is no NER model here (a spaCy model costs hundreds of MB and milliseconds per span). Names are
found where something *says* a person is named:

* structure: name keys (``displayName``, ``customer.full_name``), role keys whose value looks like a name
  (``organizer``, ``attendee``, ``sender``), ``"name": "…"`` in JSON carried by a string, mail headers
  (``From: Jane Doe <…>``);
* wording: greetings and sign-offs ("Hi Priya,", "Regards,\\nJane"), titles ("Dr. Okafor"), "meeting /
  call / lunch with …", "forward to …", "my name is …", honorific suffixes in CJK ("田中さん");
* learning (:class:`NameMemory`): a name masked in a structured place is remembered for the rest of
  its trace and masked wherever it recurs in that trace's free text (span names, log bodies, SQL).

A candidate is a run of one to four capitalised (or uncased-script) words; common capitalised words that
are not names ("Team", "Monday", "Support") stop it.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from importlib import resources

from ahocorasick_rs import AhoCorasick, MatchKind

from otel_secretary._internal.fork_reset import renew_lock, reset_in_forked_child

# Capitalised words that follow a cue but are not people ("Hi team", "Meeting with Sales", "Dear Customer").
STOPWORDS = frozenset(
    [
        "all",
        "everyone",
        "everybody",
        "team",
        "folks",
        "guys",
        "there",
        "you",
        "sir",
        "madam",
        "madame",
        "friends",
        "colleagues",
        "customer",
        "customers",
        "user",
        "users",
        "member",
        "members",
        "support",
        "sales",
        "marketing",
        "engineering",
        "finance",
        "legal",
        "ops",
        "hr",
        "admin",
        "admins",
        "the",
        "a",
        "an",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "my",
        "our",
        "your",
        "their",
        "his",
        "her",
        "we",
        "they",
        "he",
        "she",
        "i",
        "me",
        "us",
        "them",
        "him",
        "and",
        "or",
        "but",
        "so",
        "if",
        "then",
        "when",
        "while",
        "for",
        "from",
        "with",
        "to",
        "of",
        "in",
        "on",
        "at",
        "by",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "today",
        "tomorrow",
        "yesterday",
        "tonight",
        "morning",
        "afternoon",
        "evening",
        "night",
        "week",
        "weekend",
        "month",
        "year",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "thanks",
        "thank",
        "regards",
        "best",
        "kind",
        "warm",
        "cheers",
        "hello",
        "hi",
        "hey",
        "dear",
        "sincerely",
        "yours",
        "signed",
        "please",
        "note",
        "re",
        "fwd",
        "fw",
        "subject",
        "meeting",
        "call",
        "lunch",
        "dinner",
        "coffee",
        "chat",
        "sync",
        "update",
        "reminder",
        "invitation",
        "google",
        "microsoft",
        "apple",
        "amazon",
        "stripe",
        "openai",
        "slack",
        "zoom",
        "teams",
        "gmail",
        "outlook",
        "calendar",
        "jira",
        "github",
        "company",
        "client",
        "clients",
        "partner",
        "partners",
        "board",
        "staff",
        "manager",
        "managers",
        "director",
        "directors",
        "world",
        "redis",
        "celery",
        "postgres",
        "postgresql",
        "mysql",
        "docker",
        "kubernetes",
        "nginx",
        "gunicorn",
        "flask",
        "django",
        "python",
        "sentry",
        "jaeger",
        "prometheus",
        "grafana",
        "twilio",
        "salesforce",
        "hubspot",
        "notion",
        "figma",
        "aws",
        "azure",
        "heroku",
        "corp",
        "inc",
        "ltd",
        "gmbh",
        "llc",
        "plc",
        "mr",
        "mrs",
        "ms",
        "mx",
        "dr",
        "prof",
    ]
)
# Lower-case particles inside a name: "Ludwig van Beethoven", "María de la Cruz", "bin Salman".
PARTICLES = frozenset(
    [
        "van",
        "von",
        "der",
        "den",
        "de",
        "del",
        "della",
        "di",
        "da",
        "dos",
        "das",
        "du",
        "la",
        "le",
        "bin",
        "ibn",
        "al",
        "el",
        "ter",
        "ten",
        "zu",
    ]
)

_WORD = re.compile("[^\\W\\d_]+(?:['\u2019-][^\\W\\d_]+){0,3}")


def is_name_word(word: str) -> bool:
    """A capitalised word ("Priya", "O'Brien", "García-López", "Анна") or one in an uncased script."""
    first = word[0]
    if first.isupper():
        # "Li" and "Priya" are names; "NNN", "API" and "JANE" (shouting) are not read as one.
        if len(word) > 1 and not any(map(str.islower, word[1:])):
            return False
    elif first.islower() or not first.isalpha():
        return False  # CJK, Devanagari, Arabic …: no case at all, so neither upper nor lower
    return word.lower() not in STOPWORDS


def looks_like_name(value: str) -> bool:
    """One to five name words (particles allowed between them), letters only, at most 64 characters."""
    value = value.strip()
    if not value or len(value) > 64:
        return False
    if _PLAIN_NAME.fullmatch(value) is not None:
        # The common shape ("Tijs Knoers"): only the stop words and particles are left to look up.
        named = 0
        for word in value.lower().split(" "):
            if word not in PARTICLES:
                if word in STOPWORDS:
                    return False
                named += 1
        return named > 0
    words = value.replace(",", " ").split()
    if not 1 <= len(words) <= 5:
        return False
    named = 0
    for word in words:
        if word.lower() in PARTICLES or (len(word) == 2 and word[1] == "." and word[0].isupper()):
            continue  # "de", "van", an initial "J."
        if _WORD.fullmatch(word) is None or not is_name_word(word):
            return False
        named += 1
    return named > 0


# Words of labels that live under a bare ``name`` key next to people's names: agents and tools ("Travel
# Planner"), plans and products ("Premium Plan"), mail labels and calendars ("Work Projects"), queues,
# browsers and OSes in Sentry contexts ("Chrome Mobile"). Surnames and given names that are also words
# ("Price", "West", "Silver", "Hope", "Max") are deliberately left out.
_LABEL_WORDS = """
    assistant assistants agent agents bot bots helper planner scheduler tutor advisor copilot router
    triage tool tools plan plans tier pro plus premium basic standard starter enterprise business free trial
    lite personal work home family private public shared general default main primary secondary test
    tests demo
    sample example project projects review reviews report reports notes note summary digest daily weekly
    monthly quarterly annual yearly standup retro retrospective planning kickoff onboarding offboarding
    queue queues worker workers job jobs task tasks service services server servers client api app apps
    application account accounts workspace channel channels room rooms group groups list lists folder
    folders label labels inbox draft drafts sent spam trash archive archived important starred unread
    template templates holidays birthdays events event reminders reminder contacts office
    region zone cluster node pool bucket table view dashboard panel alert alerts rule rules product
    products subscription subscriptions license bundle package new beta alpha stable legacy internal
    external production staging development search email emails mail message messages voice video audio
    image images file files document documents docs data analytics insights billing invoices payments
    payment orders order travel expense expenses booking bookings campaign launch release sprint
    milestone roadmap goals budget forecast pipeline leads deals webinar workshop conference summit
    meetup offsite feedback survey help desk center centre hub portal studio lab cloud suite platform
    engine tracker monitor reader writer parser handler processor exporter importer backup export import
    upload uploads download downloads cache store storage database index mobile desktop web browser
    android ios linux windows macos ubuntu debian chrome chromium firefox safari edge opera internet
    explorer webview headless runtime kernel system systems network security auth login settings profile
    preferences notifications notification integration integrations webhook webhooks connector
    connectors model models prompt prompts workflow workflows automation agenda schedule
    slot slots
"""
LABEL_WORDS = frozenset(_LABEL_WORDS.split())


def looks_like_full_name(value: str) -> bool:
    """Stricter than :func:`looks_like_name`, for a bare ``name`` key that holds labels as often as
    people: at least two name words (an initial counts as one next to a full word: "J. Okafor"), none
    of them a label word. "Priya Patel", "José García-López" and "Anna van der Berg" pass; "Inbox",
    "Priya" (one word: see :func:`is_given_name`), "Travel Planner" do not."""
    if " " not in value and "," not in value:
        return False  # one word: the common label ("Inbox", "get_weather"), rejected before any regex
    if not looks_like_name(value):
        return False
    words = value.replace(",", " ").split()
    named = initials = 0
    for word in words:
        lower = word.lower()
        if lower in PARTICLES:
            continue
        if len(word) == 2 and word[1] == ".":
            initials += 1
            continue
        if lower in LABEL_WORDS:
            return False
        named += 1
    return named >= 2 or (named == 1 and initials >= 1)


@functools.cache
def given_names() -> frozenset[str]:
    """Faker's given names of 111 locales, casefolded (``given_names.txt``, built by
    ``scripts/build_given_names.py``); read on first use, about 22 000 names."""
    text = resources.files(__package__).joinpath("given_names.txt").read_text(encoding="utf-8")
    return frozenset(line.casefold() for line in text.splitlines() if line and not line.startswith("#"))


def is_given_name(value: str) -> bool:
    """One capitalised (or uncased-script) word that is a given name in some locale: "Priya", "Jürgen",
    "Анна", "Jean-Paul". "Inbox", "Default", "Server" and "priya" (lower case) are not."""
    word = value.strip()
    if not 2 <= len(word) <= 40 or " " in word:
        return False
    return word.casefold() in given_names() and looks_like_name(word)


def bare_name_is_person(value: str) -> bool:
    """What a bare ``name`` key holds is a person: a full name, or one word that is a given name."""
    return looks_like_full_name(value) or is_given_name(value) or looks_like_cjk_full_name(value)


# Chinese, Japanese and Korean full names are written without a blank ("王伟", "田中太郎", "김민준"), so
# the two-word rule above never sees them; under a bare ``name`` key (labels there are "收件箱", "日历",
# "默认") a short run that starts with a common surname is read as a person. The surnames are the most
# frequent Chinese ones (simplified and traditional forms; characters that are also everyday words, such
# as 文 "text" or 关 "close", are left out), compound Chinese ones, the most frequent Japanese ones
# (their given names may be written in kana: "佐藤さゆり") and the Korean ones.
_HAN_SURNAMES = frozenset(
    "王李张張刘劉陈陳杨楊黄黃赵趙吴吳周徐孙孫马馬朱胡郭何高林罗羅郑鄭梁谢謝宋唐许許韩韓冯馮邓鄧曹彭曾"
    "肖蕭萧田董袁潘于蒋蔣蔡余杜叶葉程苏蘇魏吕呂丁任沈姚卢盧姜崔钟鍾谭譚陆陸汪范範金石廖贾賈夏韦韋付方"
    "白邹鄒孟熊秦邱江尹薛闫閆段雷侯龙龍史陶黎贺賀顾顧毛郝龚龔邵万萬钱錢严嚴覃武戴莫孔向汤湯施赖賴翁简簡"
    "康洪聂聶纪紀申冷虞宗左窦竇解庞龐欧歐樊兰蘭殷乔喬伍齐齊柳辛管祝甘鲁魯葛牛詹戚岳蒙涂凃凌柴靳骆駱焦"
    "邢舒穆耿费費苗鲍鮑褚翟颜顏童梅盛霍柯缪繆荣榮甄芮储儲巫谷仲温溫庄莊晏瞿阎閻艾容古匡寇饶饒权權卓池"
    "连連邝鄺麦麥阮佘蓝藍傅尤俞卞邬鄔官符章朴"
)
_HAN_COMPOUND_SURNAME_LIST = """
    欧阳 歐陽 司马 司馬 上官 诸葛 諸葛 东方 東方 皇甫 令狐 慕容 尉迟 公孙 公孫
"""
_HAN_COMPOUND_SURNAMES = frozenset(_HAN_COMPOUND_SURNAME_LIST.split())
_JAPANESE_SURNAME_LIST = """
    佐藤 鈴木 高橋 田中 伊藤 渡辺 渡邊 山本 中村 小林 加藤 吉田 山田 佐々木 山口 松本 井上 木村 斎藤
    清水 山崎 池田 橋本 阿部 石川 山下 中島 石井 小川 前田 岡田 長谷川 藤田 後藤 近藤 村上 遠藤
    青木 坂本 斉藤 福田 太田 西村 藤井 金子 岡本 藤原 中野 三浦 原田 中川 松田 竹内 小野 田村 中山
    和田 石田 森田 上田 柴田 酒井 工藤 横山 宮崎 宮本 内田 高木 安藤 島田 谷口 大野 高田 丸山 今井
    河野 藤本 村田 武田 上野 杉山 増田 小島 小山 千葉 久保 松井 岩崎 桜井 木下 野口 松尾 菊地 野村
    新井 渡部 林 森 原
"""
_JAPANESE_SURNAMES = frozenset(_JAPANESE_SURNAME_LIST.split())
_HANGUL_SURNAMES = frozenset(
    "김이박최정강조윤장임한오서신권황안송류전홍고문양손배백허유남심노하곽성차주우구민진나지엄채원천방"
    "공현함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용"
)


def _is_han(char: str) -> bool:
    return "\u4e00" <= char <= "\u9fff" or char == "々"


def _is_kana(char: str) -> bool:
    return "\u3041" <= char <= "\u30ff" and char not in "゛゜・"


def looks_like_cjk_full_name(value: str) -> bool:
    """ "王伟", "欧阳娜娜", "田中太郎", "佐藤さゆり", "김민준": a common surname and a given name of one to
    four characters, nothing else. A short label that happens to start with a surname character ("高级",
    "이메일" under a bare ``name``) is masked too: that costs a label's readability, never privacy."""
    length = len(value)
    if not 2 <= length <= 7 or value.isascii():
        return False
    if all("\uac00" <= char <= "\ud7a3" for char in value):
        return length <= 4 and value[0] in _HANGUL_SURNAMES
    if not _is_han(value[0]):
        return False
    for size in (3, 2, 1):
        if value[:size] in _JAPANESE_SURNAMES:
            given = value[size:]
            if 1 <= len(given) <= 4 and all(_is_han(char) or _is_kana(char) for char in given):
                return True
    if not all(_is_han(char) for char in value):
        return False
    for size in (2, 1):
        if value[:size] in (_HAN_COMPOUND_SURNAMES if size == 2 else _HAN_SURNAMES):
            return 1 <= length - size <= 2
    return False


# A capitalised word in Latin-1 or Cyrillic letters: capital first, lower-case after (no all-caps label).
_CAPITALISED = (
    "(?:[A-Z\u00c0-\u00d6\u00d8-\u00de][a-z\u00df-\u00f6\u00f8-\u00ff]+"
    "|[\u0401\u0410-\u042f][\u0430-\u044f\u0451]+)"
)
# Up to four capitalised words joined by single blanks: name_end's fast path.
_CAPITALISED_RUN = re.compile(f"{_CAPITALISED}(?: {_CAPITALISED}){{0,3}}")


# One to five capitalised words joined by single blanks: every word is a name word unless a stop word.
_PLAIN_NAME = re.compile(f"{_CAPITALISED}(?: {_CAPITALISED}){{0,4}}")


def name_end(text: str, start: int, limit: int = 4) -> int:
    """End of the name that starts at ``start`` (0 words: returns ``start``)."""
    end = start
    pos = start
    words = 0
    length = len(text)
    run = _CAPITALISED_RUN.match(text, start) if limit == 4 else None
    if run is not None and (
        (after := run.end()) >= length or not (text[after].isalnum() or text[after] in "_'\u2019-")
    ):
        # The common shape ("Tijs Knoers"), words the loop below would take one by one: each is a name
        # word unless a stop word or a particle, and there the loop takes over with the same state.
        for word in run.group().split(" "):
            lower = word.lower()
            if lower in STOPWORDS or (words and lower in PARTICLES):
                break
            end = pos + len(word)
            words += 1
            pos = end + 1
        else:
            if words == limit or not (end + 1 < length and text[end] == " "):
                return end
    match_word = _WORD.match
    while words < limit and pos < length:
        if text[pos].islower():
            # What ends most names ("Priya confirmed"), said without a word match: a lower-case word
            # goes on only as a particle followed by a blank ("de la Cruz"), never as the first word.
            if not words:
                break
            blank = text.find(" ", pos, pos + 7)
            if blank < 0 or text[pos:blank].lower() not in PARTICLES:
                break
        match = match_word(text, pos)
        if match is None:
            break
        word = match.group()
        lower = word.lower()
        if words and lower in PARTICLES:
            after = match.end()
            if after < length and text[after] == " ":
                pos = after + 1
                continue
            break
        # is_name_word, inlined (this walk runs after every cue): capitalised, or an uncased script.
        first = word[0]
        if first.isupper():
            # All capitals ("ACME") is a label: nothing after the first letter changes when upper-cased.
            if len(word) > 1 and (rest := word[1:]).upper() == rest:
                break
        elif first.islower() or not first.isalpha():
            break
        if lower in STOPWORDS:
            break
        end = match.end()
        words += 1
        # One blank joins the next word; an initial "J. " too.
        if end + 1 < length and text[end] == " ":
            pos = end + 1
        elif end + 2 < length and text[end] == "." and text[end + 1] == " " and len(word) == 1:
            pos = end + 2
            end += 1
        else:
            break
    return end


def name_parts(name: str) -> Iterator[str]:
    """The full name and each of its words worth remembering on its own (3+ letters, not a stop word)."""
    name = " ".join(name.split())
    if name:
        yield name
    words = name.split()
    if len(words) > 1:
        for word in words:
            if len(word) >= 3 and word.lower() not in STOPWORDS and word.lower() not in PARTICLES:
                yield word


def local_part_names(local: str) -> Iterator[str]:
    """ "priya.natarajan+news" → "priya", "natarajan": the words of an e-mail's local part worth learning."""
    for word in re.split(r"[._+\-0-9]+", local.split("+", 1)[0]):
        if len(word) >= 3 and word.isalpha() and word.lower() not in STOPWORDS:
            yield word


class NameMemory:
    """Names seen in structured places, per trace; bounded (LRU over traces, capped per trace), never
    exported, never logged. Thread-safe: span and log exporters run on different threads."""

    def __init__(self, max_traces: int = 2048, max_names: int = 64) -> None:
        self.traces: OrderedDict[int, _TraceNames] = OrderedDict()
        self._max_traces = max_traces
        self._max_names = max_names
        self._lock = threading.Lock()
        # A fork while another thread held the lock (the export thread learning) would leave the child's
        # copy held for ever, and spans end (and learn) in the app's threads: the child gets a new one.
        reset_in_forked_child(self, renew_lock)

    def learn(self, trace_id: int, names: Iterable[str]) -> None:
        with self._lock:
            known = self.traces.get(trace_id)
            if known is None:
                known = self.traces[trace_id] = _TraceNames()
                if len(self.traces) > self._max_traces:
                    self.traces.popitem(last=False)
            else:
                self.traces.move_to_end(trace_id)
            for name in names:
                if len(known.names) >= self._max_names:
                    break
                known.add(name)

    def pattern(self, trace_id: int) -> re.Pattern[str] | None:
        known = self.traces.get(trace_id)
        return known.compiled() if known is not None else None

    def pattern_for(self, trace_id: int, text: str) -> re.Pattern[str] | None:
        """:meth:`pattern`, or None when none of the trace's names occurs in ``text`` in any case."""
        known = self.traces.get(trace_id)
        return known.compiled_for(text) if known is not None else None

    def __len__(self) -> int:
        return len(self.traces)


class _TraceNames:
    """One trace's names. They are only ever added, so their number versions what is built from them:
    a build from a snapshot that a concurrent ``add`` outdated is rebuilt at the next use, never kept."""

    __slots__ = ("_finder", "_regex", "names")

    def __init__(self) -> None:
        self.names: set[str] = set()
        self._regex: tuple[int, re.Pattern[str]] | None = None
        # The names lower-cased, when there are few and all are ASCII: on ASCII text the regex below (any
        # case) can only match where one of them occurs in the lower-cased text, and a few substring
        # searches say so faster than the regex says it does not (0.6-3.6 µs per value, on every value
        # of a trace that learned a name). A tuple of strings: nothing per trace beyond the names.
        self._finder: tuple[int, tuple[str, ...] | None] | None = None

    def add(self, name: str) -> None:
        if name:
            self.names.add(name)

    def compiled_for(self, text: str) -> re.Pattern[str] | None:
        if text.isascii():
            finder = self._finder
            if finder is None or finder[0] != len(self.names):
                names = list(self.names)
                lowered = (
                    tuple({name.lower() for name in names})
                    if len(names) <= _PREFILTERED_NAMES and all(name.isascii() for name in names)
                    else None
                )
                finder = self._finder = (len(names), lowered)
            if finder[1] is not None:
                lowered_text = text.lower()
                if not any(name in lowered_text for name in finder[1]):
                    return None
        return self.compiled()

    def compiled(self) -> re.Pattern[str] | None:
        built = self._regex
        if built is None or built[0] != len(self.names):
            names = list(self.names)
            if not names:
                return None
            # Longest first, so "Priya Natarajan" wins over "Priya"; whole words only, any case. Chinese
            # and Japanese put no blank between words and Korean attaches particles ("田中太郎からの",
            # "김민준님"): a name in those scripts is found inside a run of its script.
            ordered = sorted(names, key=len, reverse=True)
            spaced = "|".join(re.escape(name) for name in ordered if not _unspaced_script(name))
            unspaced = "|".join(re.escape(name) for name in ordered if _unspaced_script(name))
            pattern = rf"(?<![\w<:])(?:{spaced})(?![\w>])" if spaced else ""
            if unspaced:
                pattern = f"{pattern}|(?:{unspaced})" if pattern else f"(?:{unspaced})"
            built = self._regex = (len(names), re.compile(pattern, re.IGNORECASE))
        return built[1]


# Up to this many names a trace's values are searched for each lower-cased name before its regex runs;
# beyond, the substring searches would cost what the regex does.
_PREFILTERED_NAMES = 16


def _unspaced_script(name: str) -> bool:
    return all(_is_han(char) or _is_kana(char) or "\uac00" <= char <= "\ud7a3" for char in name)


# ------------------------------------------------------------------------------------------ free text
# Words that say a person's name follows (case-sensitive: capitalised and lower-case forms are listed).
_GREETINGS = (
    "Hi|Hello|Hey|Dear|Hiya|Morning|Thanks|Thank you|Many thanks|Cheers|Regards|Best regards|Kind regards|"
    "Warm regards|Best wishes|Best|Sincerely|Yours sincerely|Yours truly|Yours|Signed|Love|Bonjour|Salut|"
    "Chère|Cher|Hallo|Liebe|Lieber|Viele Grüße|Grüße|Beste|Hola|Querida|Querido|Estimado|Estimada|Ciao|"
    "Caro|Cara|Gentile|Olá|Oi|Prezado|Prezada|Cordialement|Saludos|Un saluto|Namaste|Привет|Здравствуйте|"
    "Уважаемый|Уважаемая|Dag|Beste|Groeten|Met vriendelijke groet|hi|hello|hey|dear|thanks|cheers|regards"
)
_TITLES = "Dr|Mr|Mrs|Ms|Mx|Prof|Herr|Frau|Mme|Mlle|Sr|Sra|Srta|Dott|Dra|Sig|Shri|Smt|Sir|Dame|Madame|Monsieur"
_ACTIVITIES = (
    "meeting|meet|call|lunch|dinner|coffee|chat|sync|catch-up|catch up|1:1|one-on-one|interview|appointment|"
    "drinks|breakfast|session|talk|demo|Meeting|Meet|Call|Lunch|Dinner|Coffee|Chat|Sync|Interview|"
    "Appointment|Breakfast|Drinks|meeting scheduled|call scheduled|met|spoke|speak|talked|talk"
)
_HANDOFFS = (
    "forward|forwarded|Forward|send|sent|Send|reply|replied|Reply|email|e-mail|mail|Email|write|wrote|"
    "introduce|Introduce|assign|assigned|Assign|hand|handed|escalate|escalated|pass|passed|give|gave|show"
)
_ASKS = (
    "invite|Invite|invited|ask|Ask|asked|ping|Ping|pinged|remind|Remind|tell|Tell|told|cc|CC|Cc|thank|Thank"
)
_SELF = (
    "my name is|My name is|name is|call me|Call me|signed by|Signed by|on behalf of|On behalf of|"
    "Je m'appelle|je m'appelle|Ich heiße|ich heiße|Me llamo|me llamo|Mi chiamo|mi chiamo|"
    "Meu nome é|meu nome é|Mijn naam is|mijn naam is"
)
_OBJECTS = (
    "",
    "it ",
    "this ",
    "that ",
    "them ",
    "these ",
    "the invite ",
    "the notes ",
    "the email ",
    "the deck ",
    "the doc ",
    "the file ",
    "the contract ",
    "the ticket ",
    "the link ",
    "a copy ",
)


def _cue_patterns() -> list[str]:
    """Every cue with the character that ends it; a name must start right after (blanks skipped)."""
    patterns: list[str] = []
    for word in _GREETINGS.split("|"):
        # A bare "Best" before a capital is "Best Practices" or "Best Buy"; as a sign-off it has a comma.
        ends = (",", "\n") if word == "Best" else (" ", ",", "!", "\n", ":")
        patterns += [f"{word}{end}" for end in ends]
    for word in _TITLES.split("|"):
        patterns += [f"{word}. ", f"{word} "]
    patterns += [f"{word} with " for word in _ACTIVITIES.split("|")]
    patterns += [f"{word} {obj}to " for word in _HANDOFFS.split("|") for obj in _OBJECTS]
    patterns += [f"{word} " for word in (*_ASKS.split("|"), *_SELF.split("|"))]
    return sorted(set(patterns))


# One Aho-Corasick automaton over every cue: CPython's re tries a literal alternation branch by branch
# (about 1 ms per 4 KB for these ~900 cues); the automaton finds them all in one pass at C speed.
_CUES = _cue_patterns()
_AUTOMATON = AhoCorasick(_CUES, matchkind=MatchKind.LeftmostLongest)
# "田中さん", "王伟先生", "김민준 님": a CJK/Hangul name before an honorific suffix.
_HONORIFIC = re.compile(
    "[\u30a0-\u30ff\u3400-\u9fff\uac00-\ud7af]{1,5}(?= ?(?:さん|様|さま|先生|くん|ちゃん|女士|小姐|님|씨))"
)
# "Acme Corp", "Globex GmbH": the capitalised words before these name a company, not a person.
_ORG_SUFFIX = re.compile(r" (?:Corp|Inc|Ltd|GmbH|LLC|PLC|AG|SA|SAS|BV|NV|SpA|Srl|Co|Group|Labs)\b")
# Brands and works whose name is a title and one word ("Dr. Martens boots", "Mr. Robot season 2"): an
# order or a watch list is not a person. A gazetteer, as NER systems keep one, of well-known names only;
# a person who shares one ("Dr. Pepper, cardiology") is the price, and the docs say so. Surnames common
# on their own (Mr. Price, Mr. Porter, Dr. Brown's notes) are left out: there the person is likelier.
_TITLED_BRANDS = frozenset(
    {
        "dr:pepper", "dr:martens", "dr:oetker", "dr:scholl", "dr:scholl's", "dr:bronner", "dr:bronner's",
        "dr:who", "dr:dre", "dr:jart", "dr:hauschka", "dr:squatch", "dr:seuss", "dr:evil", "dr:zhivago",
        "mr:clean", "mr:muscle", "mr:sheen", "mr:kipling", "mr:bean", "mr:robot", "mr:coffee", "mr:potato",
        "mr:men", "mr:whippy", "mr:olympia", "mr:bricolage", "mr:beast", "mr:peanut",
        "mrs:doubtfire", "mrs:fields", "mrs:dash", "mrs:maisel", "ms:pac-man",
    }
)  # fmt: skip
_TITLE_WORDS = frozenset(word.lower() for word in _TITLES.split("|"))
# The automaton's indexes of title cues ("Dr. ", "Mr "): only after one can a brand follow.
_TITLE_CUES = frozenset(i for i, cue in enumerate(_CUES) if cue.rstrip(". ").lower() in _TITLE_WORDS)
# "Jane Doe <jane@…>" or '"Jane Doe" <jane@…>' anywhere (headers are covered by the detectors).
_ADDRESSED = re.compile(r"<[^<>\s@]{1,64}@")


def find_names(text: str) -> list[tuple[int, int]]:
    """Spans of person names that a cue in ``text`` announces (no cue, no name)."""
    length = len(text)
    found: list[tuple[int, int]] = []
    # No pre-check: the automaton pass costs about what a regex search for "a blank, then a capital" did.
    for cue, start, end in _AUTOMATON.find_matches_as_indexes(text):
        if start and (text[start - 1].isalnum() or text[start - 1] == "_"):
            continue  # inside a word: "Chi " in "Zucchi "
        cue_end = end
        while end < length and text[end] in " \t\n" and end - start < 80:
            end += 1
        if end < length and text[end].isalpha() and not text[end].islower():
            name = name_end(text, end, 4)
            if (
                name > end
                and not _ORG_SUFFIX.match(text, name)
                and not (cue in _TITLE_CUES and _titled_brand(text, start, cue_end, end, name))
            ):
                found.append((end, name))
    if "@" in text:
        for address in _ADDRESSED.finditer(text):
            end = address.start()
            while end > 0 and text[end - 1] in ' \t"':
                end -= 1
            start = _name_start_before(text, end)
            if start < end and (start == 0 or text[start - 1] in " \t\n\"',;:(>"):
                found.append((start, end))
    if not text.isascii():
        found.extend(match.span() for match in _HONORIFIC.finditer(text))
    return found


def _titled_brand(text: str, cue_start: int, cue_end: int, start: int, end: int) -> bool:
    """Whether a title cue and the one word after it make a brand or a work ("Dr. Martens")."""
    title = text[cue_start:cue_end].rstrip(". ").lower()
    if title not in _TITLE_WORDS:
        return False
    name = text[start:end]
    # One word only: "Dr. Pepper Lee" is a person.
    return " " not in name and f"{title}:{name.lower()}" in _TITLED_BRANDS


def _name_start_before(text: str, end: int) -> int:
    """Start of up to four name words that end at ``end`` ("… Jane Doe" ← end)."""
    start = end
    words = 0
    while words < 4 and start > 0:
        pos = start
        while pos > 0 and (text[pos - 1].isalpha() or text[pos - 1] in "'\u2019-."):
            pos -= 1
        word = text[pos:start].rstrip(".")
        if not word or not (is_name_word(word) or (words and word.lower() in PARTICLES)):
            break
        start = pos
        words += 1
        if start > 0 and text[start - 1] == " " and start > 1 and text[start - 2].isalpha():
            start -= 1
        else:
            break
    while start < end and text[start] == " ":
        start += 1
    return start if words else end
