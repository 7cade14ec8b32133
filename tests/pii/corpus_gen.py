"""A generated PII corpus: every format issue 10 names, in several locales, plus hand-written hard negatives.

Deterministic (seeded Faker and ``random``), so figures are reproducible; synthetic only: names from
Faker's locale lists, addresses at example.* domains, NANP 555-01xx and Ofcom drama numbers where a
fictional range exists, Luhn-valid numbers on test prefixes, identifiers whose checksums are computed
here or by Faker's providers (python-stdnum validates every one). Each case says which value must go,
which kind must be reported and which context must stay; ``kind`` is the one kind the case is about.
"""

from __future__ import annotations

import random
import unicodedata
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field

from faker import Faker
from stdnum import iban as stdnum_iban
from stdnum import verhoeff
from stdnum.iso7064 import mod_11_10

from otel_secretary.pii import Redactions

LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "pt_BR", "nl_NL", "en_IN", "ja_JP", "ru_RU")
LATIN = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "pt_BR", "nl_NL", "en_IN")


@dataclass
class Case:
    id: str
    kind: str  # "" for a hard negative
    text: str
    pii: list[str] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for check in "0123456789":
        number = body + check
        total = 0
        for index, char in enumerate(reversed(number)):
            digit = int(char)
            if index % 2:
                digit = digit * 2 - 9 if digit > 4 else digit * 2
            total += digit
        if total % 10 == 0:
            return number
    raise AssertionError("unreachable")


def _group(number: str, sizes: tuple[int, ...], sep: str) -> str:
    parts, pos = [], 0
    for size in sizes:
        parts.append(number[pos : pos + size])
        pos += size
    if pos < len(number):
        parts.append(number[pos:])
    return sep.join(part for part in parts if part)


def _cards(rng: random.Random) -> list[str]:
    specs = [
        ("4", 16),
        ("51", 16),
        ("55", 16),
        ("2221", 16),
        ("2720", 16),
        ("34", 15),
        ("37", 15),
        ("6011", 16),
        ("35", 16),
        ("1800", 15),
        ("5018", 12),
        ("6759", 16),
        ("6304", 19),
        ("36", 14),
    ]
    cards = []
    for prefix, length in specs:
        number = _luhn_complete(prefix, length, rng)
        if length == 15 and prefix in ("34", "37"):
            cards.append(_group(number, (4, 6, 5), rng.choice([" ", "-"])))
        elif length == 16:
            cards.append(_group(number, (4, 4, 4, 4), rng.choice([" ", "-", ""])))
        else:
            cards.append(number)
    return cards


_BBAN = {
    "DE": "n18",
    "GB": "a4 n14",
    "FR": "n10 c11 n2",
    "ES": "n20",
    "IT": "a1 n10 c12",
    "NL": "a4 n10",
    "PT": "n21",
    "BE": "n12",
    "AT": "n16",
    "CH": "n5 c12",
}


def _iban(country: str, rng: random.Random) -> str:
    bban = ""
    for part in _BBAN[country].split():
        alphabet = {
            "n": "0123456789",
            "a": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "c": "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ",
        }
        bban += "".join(rng.choice(alphabet[part[0]]) for _ in range(int(part[1:])))
    check = stdnum_iban.calc_check_digits(country + "00" + bban)
    compact = country + check + bban
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4)) if rng.random() < 0.6 else compact


def _phones(locale: str, rng: random.Random) -> list[str]:
    def d(count: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(count))

    tail = f"{rng.randint(100, 199):03d}"
    common = {
        "en_US": [
            f"+1 555 010 01{tail[1:]}",
            f"(555) 010-01{tail[1:]}",
            f"555-010-01{tail[1:]}x{d(3)}",
            f"001 415 555 01{tail[1:]}",
            f"+1-555-010-01{tail[1:]} ext. {d(2)}",
        ],
        "en_GB": [
            f"+44 20 7946 0{tail}",
            f"020 7946 0{tail}",
            f"(0191) 496 0{tail}",
            f"07700 900{tail}",
            f"0044 20 7946 0{tail}",
        ],
        "de_DE": [f"+49 30 {d(8)}", f"030 {d(7)}", f"0151 {d(8)}", f"0049 89 {d(7)}"],
        "fr_FR": [
            f"+33 6 {d(2)} {d(2)} {d(2)} {d(2)}",
            f"06 {d(2)} {d(2)} {d(2)} {d(2)}",
            f"01.{d(2)}.{d(2)}.{d(2)}.{d(2)}",
        ],
        "es_ES": [f"+34 612 {d(3)} {d(3)}", f"0034 91 {d(3)} {d(2)} {d(2)}"],
        "it_IT": [f"+39 347 {d(3)} {d(4)}", f"+39 06 {d(4)} {d(4)}"],
        "pt_BR": [f"+55 11 9{d(4)}-{d(4)}", f"(11) 9{d(4)}-{d(4)}"],
        "nl_NL": [f"+31 6 {d(8)}", f"06-{d(8)}", f"020 {d(3)} {d(4)}"],
        "en_IN": [f"+91 98{d(3)} {d(5)}", f"+91-22-{d(4)}-{d(4)}"],
        "ja_JP": [f"+81 3-{d(4)}-{d(4)}", f"03-{d(4)}-{d(4)}"],
        "ru_RU": [f"+7 495 {d(3)}-{d(2)}-{d(2)}", f"+7 (916) {d(3)}-{d(2)}-{d(2)}"],
    }
    return common[locale]


# "mobile 612 345 678": national numbers that only a phone word marks.
_CUED_PHONES = ("mobile 612 {a} {b}", "Tel.: 98{c} 43{a}", "whatsapp 347 {a} {d}")


def _national_ids(rng: random.Random) -> list[tuple[str, str]]:
    """(text, value) pairs: a cue or a shape that says what the number is."""
    faker = {loc: Faker(loc) for loc in ("pt_BR", "es_ES", "fr_FR", "nl_NL", "it_IT")}
    for index, instance in enumerate(faker.values()):
        instance.seed_instance(rng.randint(0, 10**6) + index)
    aadhaar_body = str(rng.randint(2, 9)) + "".join(rng.choice("0123456789") for _ in range(10))
    aadhaar = aadhaar_body + verhoeff.calc_check_digit(aadhaar_body)
    idnr_body = str(rng.randint(1, 9)) + "".join(rng.sample("0123456789", 9))
    idnr = idnr_body + mod_11_10.calc_check_digit(idnr_body)
    cpf = faker["pt_BR"].cpf()
    nino = (
        rng.choice("ABCEGHJKLMNPRSTWXYZ")
        + rng.choice("ABCEGHJKLMNPRSTWXYZ")
        + f"{rng.randint(0, 999999):06d}"
    )
    nino += rng.choice("ABCD")
    spaced_nino = f"{nino[:2]} {nino[2:4]} {nino[4:6]} {nino[6:8]} {nino[8]}"
    nir = faker["fr_FR"].ssn()
    nif, nie, bsn, fiscal = (
        faker["es_ES"].nif(),
        faker["es_ES"].nie(),
        faker["nl_NL"].ssn(),
        faker["it_IT"].ssn(),
    )
    bare_cpf = cpf.replace(".", "").replace("-", "")
    return [
        (f"Customer CPF {cpf} verified", cpf),
        (f"cpf={bare_cpf}&plan=pro", bare_cpf),
        (f"NIF {nif} on the invoice", nif),
        (f"NIE: {nie}", nie),
        (f"numéro de sécurité sociale {nir}", nir),
        (f"BSN {bsn} checked", bsn),
        (f"codice fiscale {fiscal}", fiscal),
        (
            f"Aadhaar {aadhaar[:4]} {aadhaar[4:8]} {aadhaar[8:]} linked",
            f"{aadhaar[:4]} {aadhaar[4:8]} {aadhaar[8:]}",
        ),
        (f"Steuer-ID: {idnr}", idnr),
        (f"NI number {spaced_nino} on file", spaced_nino),
        (f'{{"tax_id": "{idnr}", "country": "DE"}}', idnr),
    ]


def generate(seed: int = 10) -> list[Case]:
    rng = random.Random(seed)
    cases: list[Case] = []

    def add(kind: str, text: str, pii: list[str], keep: list[str] | None = None) -> None:
        cases.append(Case(f"{kind}-{len(cases):04d}", kind, text, [p for p in pii if p], keep or []))

    for round_ in range(3):
        for locale in LOCALES:
            fake = Faker(locale)
            fake.seed_instance(seed * 100 + round_ * 17 + LOCALES.index(locale))
            first, last = fake.first_name(), fake.last_name()
            full = f"{first} {last}" if locale not in ("ja_JP",) else f"{last} {first}"
            local = _ascii(first) + "." + _ascii(last) if locale in LATIN else f"user{rng.randint(10, 99)}"
            email = f"{local}@example.{rng.choice(['com', 'org', 'net', 'co.uk'])}"
            # ---- e-mail: raw, in JSON, percent-encoded in a query
            add("email", f"Sending reminder to {email} for tomorrow", [email], ["Sending reminder to"])
            add(
                "email",
                f"GET /api/v1/users?email={urllib.parse.quote(email)}&page=2",
                [email, urllib.parse.quote(email)],
                ["&page=2"],
            )
            # ---- phones
            for phone in _phones(locale, rng):
                template = rng.choice(
                    ["call {} before Friday", "SMS to {} failed: 21610", '{{"msg": "ring {}"}}']
                )
                add("phone", template.format(phone), [phone], [template.split("{")[0].strip() or "ring"])
                if round_ == 0:
                    encoded = urllib.parse.quote(phone)
                    add("phone", f"POST /sms?to={encoded}&ok=1", [encoded], ["&ok=1"])
            # ---- names: structural and cued
            if locale in LATIN or round_ == 0:
                add("name", f"Hi {first},\nthe invoice is attached.", [first], ["the invoice is attached."])
                add(
                    "name",
                    f"Thanks for the update.\n\nBest regards,\n{full}",
                    [full],
                    ["Thanks for the update."],
                )
                add(
                    "name",
                    f"Booked a call with {full} on Tuesday",
                    [full],
                    ["Booked a call with", "on Tuesday"],
                )
                add("name", f"lunch with {full} moved to 1pm", [full], ["moved to 1pm"])
                add("name", f"please forward this to {full} asap", [full], ["please forward this to"])
                add("name", f"my name is {full} and I need a refund", [full], ["and I need a refund"])
                add("name", f"Dr. {last} confirmed the appointment", [last], ["confirmed the appointment"])
                add(
                    "name",
                    f'{{"attendees": [{{"displayName": "{full}", "responseStatus": "accepted"}}]}}',
                    [full],
                    ['"responseStatus": "accepted"'],
                )
                add(
                    "name",
                    f'{{"organizer": {{"displayName": "{full}"}}, "summary": "Sync"}}',
                    [full],
                    ['"summary": "Sync"'],
                )
                add("name", f"From: {full} <{email}>\nSubject: Q3 plan", [full, email], ["Subject: Q3 plan"])
                add(
                    "name", f'tool result: {{"name": "{full}", "role": "owner"}}', [full], ['"role": "owner"']
                )
                add("name", f"POST /contacts name={full}&plan=pro", [full], ["&plan=pro"])
                if round_ == 1:
                    # No cue, no structure: only learning from the trace finds it (not here); a known miss.
                    add("name", f"{first} will join the review at 3pm", [first], ["will join the review"])
        # ---- cards
        for card in _cards(rng):
            template = rng.choice(
                ["charge failed for card {} (declined)", "card_number={}&exp=12/34", "PAN {} tokenised"]
            )
            add("card", template.format(card), [card], [template.split("{")[0].strip()])
        encoded = urllib.parse.quote("4539 1488 0343 6467")
        add("card", f"/api/v1/cards/{encoded}/refund", [encoded], ["/refund"])
        add("card", "card=4539+1488+0343+6467&amount=10", ["4539+1488+0343+6467"], ["&amount=10"])
        # ---- IBANs
        for country in _BBAN:
            value = _iban(country, rng)
            add("iban", f"Refund to IBAN {value} scheduled", [value], ["scheduled"])
        value = _iban("DE", rng).replace(" ", "")
        add("iban", f"payout?iban={value}&currency=EUR", [value], ["&currency=EUR"])
        # ---- SSNs
        for _ in range(4):
            area, group, serial = rng.randint(1, 665), rng.randint(1, 99), rng.randint(1, 9999)
            dashed = f"{area:03d}-{group:02d}-{serial:04d}"
            add("ssn", f"applicant ssn {dashed} on file", [dashed], ["on file"])
            bare = dashed.replace("-", "")
            add("ssn", f"SSN: {bare}", [bare], ["SSN:"])
            add("ssn", f"tax id {bare} for 1099", [bare], ["for 1099"])
        # ---- IP addresses
        for value in (
            f"192.0.2.{rng.randint(1, 254)}",
            f"198.51.100.{rng.randint(1, 254)}",
            f"203.0.113.{rng.randint(1, 254)}",
            f"2001:db8:{rng.randint(1, 9999):x}::{rng.randint(1, 99)}",
            f"2a0d:5600:{rng.randint(1, 99)}:b3::1",
            "fe80::1ff:fe23:4567:890a",
        ):
            add("ip", f"request from {value} blocked", [value], ["blocked"])
        # ---- secrets
        token = "".join(
            rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") for _ in range(32)
        )
        for text, value in (
            (f"OPENAI_API_KEY=sk-proj-{token}", f"sk-proj-{token}"),
            (f"stripe.api_key = 'sk_live_{token}'", f"sk_live_{token}"),
            (f"Authorization: Bearer {token}", token),
            (f"aws AKIA{token[:16].upper()} {token}{token[:8]}", f"AKIA{token[:16].upper()}"),
            (f"git clone https://ghp_{token}{token[:4]}@github.com/org/repo", f"ghp_{token}{token[:4]}"),
            (f"postgres://app:{token[:12]}@db.example.com/app", token[:12]),
            (f'{{"password": "{token[:10]}", "user": "svc"}}', token[:10]),
        ):
            add("secret", text, [value], [])
        # ---- national identifiers
        for text, value in _national_ids(rng):
            add("national_id", text, [value], [])
        # ---- dates of birth and postal addresses under telling keys
        fake = Faker(rng.choice(LATIN))
        fake.seed_instance(rng.randint(0, 10**6))
        birth = fake.date_of_birth()
        add(
            "dob",
            f'{{"date_of_birth": "{birth.isoformat()}", "plan": "pro"}}',
            [birth.isoformat()],
            ['"plan": "pro"'],
        )
        add(
            "dob",
            f"signup?dob={birth.strftime('%d/%m/%Y')}&plan=pro",
            [birth.strftime("%d/%m/%Y")],
            ["&plan=pro"],
        )
        add("dob", f"DOB: {birth.strftime('%d.%m.%Y')}", [birth.strftime("%d.%m.%Y")], ["DOB:"])
        street = fake.street_address().replace("\n", ", ")
        add(
            "address",
            f'{{"billing_address": "{street}", "currency": "eur"}}',
            [street],
            ['"currency": "eur"'],
        )
        add("address", f'{{"street": "{street}"}}', [street], [])
        add(
            "address",
            f"address_line1={urllib.parse.quote_plus(street)}&city=x",
            [urllib.parse.quote_plus(street)],
            ["&city=x"],
        )
    return cases + [Case(f"neg-{i:03d}", "", text) for i, text in enumerate(HARD_NEGATIVES)]


# Text that looks like PII to a careless detector but is not: identifiers, versions, dates, cues without
# a person, organisations after "with", numbers in every shape.
HARD_NEGATIVES = [
    "Hi team, the deploy finished",
    "Hi all, standup moved",
    "Dear Customer, your invoice is ready",
    "Meeting with Stripe about payouts",
    "call with Sales moved to Monday",
    "lunch with the team on Friday",
    "forward this to Support",
    "please send it to Finance",
    "Thanks for the update",
    "Thanks, everyone!",
    "Best practices for retries",
    "Regards from the scheduler",
    "Hello World example",
    "Hey there",
    "ask the model to summarise",
    "remind me tomorrow",
    "my name is not important here",
    "Signed URL expires in 3600 s",
    "Mr. Robot season 2 recap",
    "Prof. level feature flag",
    "twilio.account_sid=AC8d5e3b0f1a2c4e6f8a0b2c4d6e8f0a1b2",
    "message SM0123456789abcdef0123456789abcdef queued",
    "Mozilla/5.0 (X11; U; Linux i686; en-US; rv:1.9.1.20) Gecko/20090824 Firefox/3.5.3",
    "Chrome/124.0.6367.91 Safari/537.36",
    "python-requests/2.32.3",
    "otel-secretary 0.1.0 on CPython 3.11.7",
    "order 501800000001 shipped",
    "order number 123456789 shipped",
    "invoice INV-2024-000123 paid",
    "id 1234 5678 9012 3456 not a card",
    "epoch 1732712345 and 1732712345678 ms",
    "uptime 123456789 s",
    "took 1234.5678 ms",
    "Total: $1,234.56 (tax 19%)",
    "retry in 30 s (attempt 3/5)",
    "2024-06-04T14:00:00+02:00 job started",
    "06/04/2024 10:30 meeting room B",
    "on 01.05.2024 10:30",
    "trace 4bf92f3577b34da6a3ce929d0e0e4736 span 00f067aa0ba902b7",
    "request req_8fJk2LmNoPq9 for cus_NffrFeUfNV2Hib",
    "pi_3MtwBwLkdIwHu7ix28a3tqPa succeeded",
    "event id 7b2c9e0a-1f3d-4c5b-9a8e-2d7f6b1c0e9a",
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "GET /api/v1/messages?page=2&limit=50",
    "q=caf%C3%A9+au+lait&page=2",
    "sort=created_at%20desc",
    "/files/report%202024-05-01.pdf",
    "a+b=c",
    "q=100%25+cotton",
    "logo@2x.png",
    "icon@3x.webp",
    "BSN 214035798 fails the check",
    "CPF 187.244.670-15 bad check digit",
    "NIE X9549656A bad letter",
    "version 10.0.19045 build",
    "ISBN 978-3-16-148410-0",
    "port 5432 and 6379",
    "HTTP/1.1 200 OK",
    "gpt-4o-2024-08-06 returned 1523 tokens",
    "gen_ai.usage.input_tokens=1523",
    "phone number format: +CC NNN NNN NNNN",
    "Call Center hours 9-5",
    "SSN field is required",
    "tax id missing from form",
    "passport check skipped",
    "dob field empty",
    "street view disabled",
    "cpf field required",
    "The secretary booked the room",
    "Session expired, please log in",
    "Authorization header missing",
    "password_reset_sent=true",
    "token counting enabled",
    "Basic authentication is disabled",
    "Regards, The Billing Team".lower(),
    "Meeting with Google Calendar API failed: 403",
    "sync with Jira done",
    "Dear Sir or Madam",
    "Hello, World!",
    "Best Buy order",
    "Thank you for your order",
    "attendees: 4, rooms: 2",
    "organizer approved",
    "display_name_updated=true",
    "12:30 lunch",
    "Mon, 03 Dec 2026 10:00:00 GMT",
    "x <card>, IBAN <iban>",
    "To: <name> <<email>>",
    "Hi <name>,",
    "meeting with <name> at <ip>",
    "sha256:3f2a9c1d0b8e7f6a5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e",
    "k8s pod api-7d9f8b6c5-x2v4q restarted",
    "us-east-1 ap-southeast-2",
    "AC power restored",
    "error code E1234567 at 0x7ffe5367e044",
    "lat 51.5074 lon -0.1278",
    "celery.task.process_inbound_message succeeded in 0.42s",
    "POST /api/v1/meetings 201 Created",
    "SELECT id, status FROM meetings WHERE tenant_id = %(tenant_id)s LIMIT 50",
    "UPDATE invoices SET status = 'paid' WHERE id = 4821",
    "redis GET session_cache:tenant-42",
    "openai.APITimeoutError: Request timed out after 30.0 seconds",
    "stripe.error.CardError: Your card was declined.",
    "googleapiclient.errors.HttpError: <HttpError 404 when requesting events returned Not Found>",
    'Traceback (most recent call last):\n  File "app.py", line 42, in handler',
    "KeyError: 'attendees'",
    "ValueError: invalid literal for int() with base 10: 'abc'",
    "TimeoutError: [Errno 110] Connection timed out",
    "Summarise the thread below in three bullet points.",
    "Draft a polite reply declining the invitation.",
    "Reschedule the weekly sync to Thursday afternoon.",
    "Create an event titled Quarterly Review for next Monday.",
    "The assistant suggested two time slots.",
    "Calendar quota exceeded for project 1234567890",
    "rate limit: 60 requests per minute, 10000 per day",
    "queue depth 1523, workers 8, prefetch 4",
    "disk /dev/sda1 at 91% (452.3 GiB of 496.9 GiB)",
    "cpu 73.5% mem 2.1 GiB rss 512 MiB",
    "Received SIGTERM, shutting down gracefully",
    "Worker celery@worker-1 ready.",
    "Connected to redis://localhost:6379/0",
    "Listening at: http://0.0.0.0:8000 (4123)",
    "Booting worker with pid: 4127",
    "Starting gunicorn 23.0.0",
    "Loaded 14 alert rules from rules/",
    "alert HighErrorRate firing for 5m",
    "webhook delivery failed: 502 Bad Gateway (attempt 2/5)",
    "Span exported in 12 ms, batch size 512",
    "dropped 0 spans, 0 logs",
    "exemplar trace_id=4bf92f3577b34da6",
    "Model gpt-4o-mini cost $0.0023 for 1523 input and 211 output tokens",
    "temperature=0.2 top_p=1.0",
    "Refund re_3MtwBwLkdIwHu7ix0snN0B15 created for ch_3MtwBwLkdIwHu7ix28a3tqPa",
    "Subscription sub_1MowQVLkdIwHu7ixeRlqHVzs renewed",
    "price_1MoBy5LkdIwHu7ixZhnattbh updated",
    "invoice in_1MtHbELkdIwHu7ixl4OzzPMv finalized",
    "customer cus_NffrFeUfNV2Hib created",
    "Meeting with Acme Corp rescheduled",
    "call with Microsoft Teams failed",
    "Thanks to all contributors",
    "Hi, this is an automated message",
    "Dear valued customer",
    "Regards, Support",
    "with Docker Compose v2.27.0",
    "forward to /login",
    "reply to this e-mail to unsubscribe",
    "ask Sales for a quote",
    "ping Redis before start",
    "tell Celery to retry",
    "Invite link expired",
    "Dr. Martens boots order 8812",
    "sent to Stripe at 10:42",
    "Best effort delivery",
    "phone verification pending",
    "mobile app version 4.12.1 (build 4121)",
    "call duration 00:03:12",
    "ring buffer size 4096",
    "text/html; charset=utf-8",
    "fax machine offline",
    "tel: protocol unsupported",
    # labels under name keys, as text
    "gen_ai.agent.name=Calendar Assistant",
    "gen_ai.tool.name=get_weather",
    '{"name": "get_weather", "arguments": {}}',
    '{"gen_ai.agent.name": "Travel Planner"}',
    "name=tasks.send_email",
    "service.name=secretary-api host.name=worker-1 k8s.pod.name=api-7d9f8b6c5-x2v4q",
    "logger.name=app.api file.name=invoice.pdf",
]


# ---------------------------------------------------------------------------------------- keyed values
# Values under a bare ``name`` key (and dotted "…name" keys whose owner is not a person), scored through
# ``Masker.mask_value``: people must go, labels must stay readable.
NAME_KEYS = ("name", "Name", "NAME")


@dataclass
class KeyedCase:
    id: str
    key: str
    value: str
    person: bool


def generate_keyed(seed: int = 10) -> list[KeyedCase]:
    """People under a bare ``name`` key in every locale (two words, three words, particles, hyphens,
    initials, one word), and the labels that share that key or end in ``.name``."""
    rng = random.Random(seed)
    cases: list[KeyedCase] = []
    for round_ in range(4):
        for locale in (*LATIN, "ru_RU", "ja_JP"):
            fake = Faker(locale)
            fake.seed_instance(seed * 1000 + round_ * 31 + len(cases))
            first, last = fake.first_name(), fake.last_name()
            key = rng.choice(NAME_KEYS)
            cases.append(KeyedCase(f"full-{len(cases):04d}", key, f"{first} {last}", True))
            if round_ % 2 == 0:
                cases.append(
                    KeyedCase(f"full-{len(cases):04d}", key, f"{first} {fake.first_name()} {last}", True)
                )
            if round_ == 1 and locale in LATIN:
                cases.append(KeyedCase(f"initial-{len(cases):04d}", key, f"{first[0]}. {last}", True))
                cases.append(KeyedCase(f"reversed-{len(cases):04d}", key, f"{last}, {first}", True))
            if round_ == 2 and locale in LATIN:
                # One word under "name" is indistinguishable from a label without a name dictionary.
                cases.append(KeyedCase(f"oneword-{len(cases):04d}", key, first, True))
    for value in (
        "José García-López", "Anna van der Berg", "Ludwig van Beethoven", "María de la Cruz",
        "Mohammed bin Salman", "Siobhán O'Brien", "Zoë Saldaña-Pérez", "Анна Иванова", "田中 太郎",
    ):  # fmt: skip
        cases.append(KeyedCase(f"full-{len(cases):04d}", "name", value, True))
    for key, value in BARE_NAME_LABELS:
        cases.append(KeyedCase(f"label-{len(cases):04d}", key, value, False))
    return cases


# What else lives under "name" in an AI secretary's telemetry: tools, agents, tasks, queues, loggers,
# files, Gmail labels, calendars, Stripe products and plans, Sentry's runtime/os/browser contexts,
# feature flags; and OTel keys whose last token is "name" but whose owner is not a person.
_LABELS = (
    "Inbox", "Default", "INBOX", "IMPORTANT", "CATEGORY_PERSONAL", "Work", "Personal", "Receipts",
    "Travel", "get_weather", "send_email", "search_calendar", "create_event", "tasks.send_email",
    "celery", "default", "app.api", "werkzeug", "otel_secretary.pii", "report 2024-05-01.pdf",
    "invoice.pdf", "Calendar Assistant", "Email Assistant", "Travel Planner", "Inbox Triage Agent",
    "Scheduling Agent", "Research Assistant", "Meeting Notes", "Weekly Digest", "Daily Summary",
    "Premium Plan", "Pro Plan", "Starter Tier", "Business Monthly", "Enterprise Annual",
    "Team Calendar", "Holidays in United Kingdom", "Birthdays", "Work Projects", "Follow Up",
    "Quarterly Review", "Project Phoenix", "Design Sync", "Morning Brief", "Standup Notes",
    "Acme Corp", "Globex GmbH", "CPython", "Linux", "Chrome Mobile", "Mobile Safari", "Samsung Internet",
    "Microsoft Edge", "Android", "Windows", "Firefox", "Google Chrome", "Sales Pipeline",
    "Customer Support", "Billing Alerts", "High Error Rate", "HighErrorRate", "new_onboarding_flow",
    "Onboarding Flow", "Reply Drafts", "Smart Compose", "Focus Time", "Out of Office", "Lunch Break",
    "Deep Work", "Board Meeting", "Payments Webhook", "Slack Connector", "Gmail Sync", "Zoom Integration",
    "gpt-4o-mini", "Summarize Thread", "Draft Reply", "Find Free Slot", "Book Meeting Room",
    "Conference Room B", "London Office", "North America", "Europe West", "Alpha Release",
    "Stripe Checkout", "OpenAI", "Google Calendar API", "Q3 Planning", "Annual Report",
)  # fmt: skip
BARE_NAME_LABELS: list[tuple[str, str]] = [
    *(("name", value) for value in _LABELS),
    ("gen_ai.agent.name", "Calendar Assistant"),
    ("gen_ai.agent.name", "Maya Assistant"),
    ("gen_ai.tool.name", "get_weather"),
    ("gen_ai.tool.name", "Find Free Slot"),
    ("service.name", "secretary-api"),
    ("messaging.destination.name", "celery"),
    ("db.name", "secretary"),
    ("span.name", "POST /api/v1/meetings"),
    ("logger.name", "app.api"),
    ("file.name", "Quarterly Review.pdf"),
    ("host.name", "worker-1"),
    ("k8s.pod.name", "api-7d9f8b6c5-x2v4q"),
]


def score_keyed(
    mask_value: Callable[[str, str, Redactions], object], cases: list[KeyedCase]
) -> tuple[dict[str, Score], int, int]:
    """Per-group recall of people (value gone, ``name`` reported) and labels altered / total."""
    per_group: dict[str, Score] = {}
    altered = labels = 0
    for case in cases:
        redactions = Redactions()
        masked = mask_value(case.key, case.value, redactions)
        if not case.person:
            labels += 1
            altered += masked != case.value
            continue
        entry = per_group.setdefault(case.id.split("-")[0], Score())
        entry.cases += 1
        entry.caught += case.value not in str(masked) and "name" in redactions.kinds
    return per_group, altered, labels


@dataclass
class Score:
    cases: int = 0
    caught: int = 0

    @property
    def recall(self) -> float:
        return self.caught / self.cases if self.cases else 1.0


def score(mask: Callable[[str, Redactions], str], cases: list[Case]) -> tuple[dict[str, Score], int, int]:
    """Per-kind case recall (every value gone, context kept, the kind reported) and hard negatives
    altered / total."""
    per_kind: dict[str, Score] = {}
    altered = negatives = 0
    for case in cases:
        redactions = Redactions()
        masked = mask(case.text, redactions)
        if not case.kind:
            negatives += 1
            altered += masked != case.text
            continue
        entry = per_kind.setdefault(case.kind, Score())
        entry.cases += 1
        entry.caught += (
            all(value not in masked for value in case.pii)
            and all(value in masked for value in case.keep)
            and case.kind in redactions.kinds
        )
    return per_kind, altered, negatives


def main() -> None:
    """Print the per-kind table published in docs/privacy.md."""
    from opentelemetry.sdk.metrics import MeterProvider

    from otel_secretary.pii import Masker
    from tests.pii.conftest import load_corpus

    cases = generate() + [Case(f"yaml-{c['id']}", "", c["text"]) for c in load_corpus() if not c["pii"]]
    per_kind, altered, negatives = score(Masker(meter_provider=MeterProvider()).mask_text, cases)
    print("| kind | cases | case recall |\n|---|---:|---:|")
    for kind, entry in sorted(per_kind.items()):
        print(f"| {kind} | {entry.cases} | {entry.recall:.1%} |")
    print(f"\nhard negatives altered: {altered} of {negatives} ({altered / negatives:.1%})")
    groups, labels_altered, labels = score_keyed(
        Masker(meter_provider=MeterProvider()).mask_value, generate_keyed()
    )
    print("\n| value under a bare `name` key | cases | case recall |\n|---|---:|---:|")
    for group, entry in sorted(groups.items()):
        print(f"| {group} | {entry.cases} | {entry.recall:.1%} |")
    share = labels_altered / labels
    print(f"\nlabels under `name` / `*.name` altered: {labels_altered} of {labels} ({share:.1%})")


if __name__ == "__main__":
    main()
