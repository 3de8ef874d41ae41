"""The labelled bilingual evaluation set: `python -m evaluation.labelled [DIR]` writes it (seeded).

Output: `participants.jsonl` (docs/contracts.md §1) and `gold.jsonl` (docs/contracts.md §4) in DIR, by default
`evaluation/data/`. The same seed always writes the same files.

How the set is built
- About 136 participants (students, researchers, companies, public bodies) each get one or two
  *subjects* (evaluation.topics, fifteen subjects over the three domains) for what they offer and
  for what they seek. Usually a participant offers and seeks within the same subjects; about a
  third "split": they offer one subject and seek another (a student skilled in pentesting who wants
  a summer job in web development; a company that needs OT security and offers a robotics thesis).
- Texts come from the phrase bank, worded by role: a student names a competence, an organisation
  describes its problem, a researcher names a field; so the same need is written in other words on
  the two sides. Languages: Norwegian, English, and Norwegian with English jargon ("mixed", stored
  as language `nb`); cross-lingual pairs arise wherever a Norwegian and an English participant
  share a subject. Most English-writing researchers give a paragraph-long research profile.
- Domains are the union of the participant's subjects' domains; engagements, availability windows,
  capacity and location are drawn per kind like real profiles (some open-ended, some none).
- Traps: near-duplicates (the same texts, one word added) of a strongly relevant candidate b of a
  query a, changed to break exactly one hard constraint towards a: the same kind as a (a
  consultancy offering a student's skills to a company), no shared domain, an availability window
  that ends before a's begins, or engagements disjoint from a's. A correct ranker never suggests
  them to a; `constraint_violations` counts any that it does.

How gold is decided (for every ordered pair a ≠ b, traps included)
- The pair must pass every hard constraint of docs/contracts.md §6 (evaluation.constraints); otherwise it
  is not relevant, however well the texts fit.
- forward fit: b offers a subject that a seeks; backward fit: b seeks a subject that a offers.
- relevance 2 when both fits hold (a two-sided match: each gets what it looks for), relevance 1
  when exactly one holds (one side's need is met), no gold line otherwise.
- Every participant with at least one relevant candidate is a query. Relevance is symmetric, so a
  pair appears as (a, b) and (b, a).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from evaluation.constraints import Facts, broken, facts_of
from evaluation.topics import SUBJECTS, Subject
from service.profiles.demo import WINDOWS as DEMO_WINDOWS

Lang = Literal["nb", "en"]
Style = Literal["nb", "en", "mixed"]
DATA_DIR = Path(__file__).parent / "data"
SEED = 2027
COUNTS = {"student": 56, "researcher": 28, "company": 36, "public_body": 16}
TRAPS_PER_TYPE = 6
# (Norwegian, English, mixed) shares of the writing style, per kind.
STYLES: dict[str, tuple[float, float, float]] = {
    "student": (0.5, 0.35, 0.15), "researcher": (0.3, 0.55, 0.15),
    "company": (0.5, 0.3, 0.2), "public_body": (0.8, 0.1, 0.1),
}
LONG_PROFILE_SHARE = 0.7  # of English-writing researchers
PUBLIC_SUBJECTS = ("privacy", "webapp", "soc", "energy", "biogas", "forest_remote", "precision_farming", "pentest")
ENGAGEMENT_POOLS: dict[str, tuple[str, ...]] = {
    "student": ("thesis", "summer_job", "internship", "part_time_job", "project"),
    "researcher": ("research_collaboration", "project", "thesis", "mentoring"),
    "company": (
        "thesis", "internship", "summer_job", "part_time_job", "project", "research_collaboration", "mentoring",
    ),
    "public_body": ("internship", "thesis", "project", "summer_job"),
}
ENGAGEMENT_COUNT = {"student": (1, 2), "researcher": (1, 3), "company": (2, 4), "public_body": (2, 3)}
# The usual periods of each engagement: the same academic year as the demo data.
WINDOWS: dict[str, tuple[dt.date, dt.date | None]] = {str(key): span for key, span in DEMO_WINDOWS.items()}
AUTUMN = (dt.date(2027, 8, 16), dt.date(2027, 12, 20))  # students free only after the summer
LOCATIONS = ("Gjøvik", "Raufoss", "Lena", "Hunndalen", "Biri", "Reinsvoll", "Dokka", "Lillehammer", "Hamar")

STUDENT_OFFER: dict[Lang, tuple[str, ...]] = {
    "nb": ("Erfaring med {x} fra studiet", "Jeg kan bidra med {x}", "Har jobbet mye med {x} i prosjekter på studiet"),
    "en": ("Experience with {x} from my studies", "I can contribute {x}", "Worked a lot on {x} in course projects"),
}
STUDENT_SEEK: dict[Lang, dict[str, str]] = {
    "nb": {"thesis": "Masteroppgave innen {x}", "summer_job": "Sommerjobb der jeg får jobbe med {x}",
           "internship": "Praksisplass innen {x}", "part_time_job": "Deltidsjobb ved siden av studiene, gjerne med {x}",
           "project": "Et studentprosjekt sammen med en bedrift om {x}"},
    "en": {"thesis": "A master's thesis on {x}", "summer_job": "A summer job where I can work on {x}",
           "internship": "An internship in {x}", "part_time_job": "A part-time job next to my studies, ideally in {x}",
           "project": "A student project with a company on {x}"},
}
ORG_SEEK: dict[Lang, tuple[str, ...]] = {
    "nb": ("Vi trenger hjelp med {x}", "Vi ser etter noen som kan bidra til {x}", "Utfordring: {x}"),
    "en": ("We need help with {x}", "We are looking for someone who can help with {x}", "Our challenge: {x}"),
}
ORG_OFFER: dict[Lang, dict[str, str]] = {
    "nb": {"thesis": "Masteroppgave hos oss om {x}", "summer_job": "Sommerjobb knyttet til {x}",
           "internship": "Praksisplass der du jobber med {x}", "part_time_job": "Deltidsstilling rettet mot {x}",
           "project": "Prosjektsamarbeid om {x}", "research_collaboration": "Forskningssamarbeid om {x}, med våre data",
           "mentoring": "Mentor fra bransjen med erfaring fra {x}"},
    "en": {"thesis": "A master's thesis with us on {x}", "summer_job": "A summer job working on {x}",
           "internship": "An internship where you work on {x}", "part_time_job": "A part-time position focused on {x}",
           "project": "A joint project on {x}",
           "research_collaboration": "Research collaboration on {x}, with our data",
           "mentoring": "A mentor from industry with experience in {x}"},
}
RESEARCHER_OFFER: dict[Lang, tuple[str, ...]] = {
    "nb": ("Forsker på {x}", "Forskningsgruppe innen {x}"),
    "en": ("Researcher working on {x}", "Research group on {x}"),
}
RESEARCHER_EXTRA: dict[Lang, str] = {
    "nb": "Veiledning av oppgaver innen {x}", "en": "Supervision of student projects on {x}",
}
RESEARCHER_SEEK: dict[Lang, tuple[str, ...]] = {
    "nb": ("Bedrifter eller studenter som vil jobbe med {x}", "Partnere med reelle data og case innen {x}"),
    "en": ("Companies or students who want to work on {x}", "Partners with real data and use cases in {x}"),
}
TRAP_SUFFIX: dict[Lang, str] = {"nb": " (ny utlysning)", "en": " (new posting)"}
FIRST = ("Ingrid", "Ola", "Kari", "Håkon", "Sigrid", "Øystein", "Maja", "Eirik", "Åse", "Jonas", "Thea", "Sindre",
         "Priya", "Lukas", "Chen", "Amina", "Mateo", "Sofia", "Tomasz", "Yuki", "Fatima", "Daniel", "Elena", "Omar")
LAST = ("Haugen", "Bakken", "Lund", "Strand", "Solberg", "Dahl", "Moen", "Nilsen", "Berg", "Kristiansen",
        "Sharma", "Müller", "Wang", "Hassan", "García", "Rossi", "Kowalski", "Tanaka", "Ali", "Novak", "Ivanova")
PLACES = ("Mjøs", "Toten", "Hunn", "Biri", "Redalen", "Kapp", "Bøverbru", "Lena", "Eina", "Snertingdal", "Skreia",
          "Reinsvoll", "Hov", "Vardal", "Fluberg", "Odnes", "Brusveen", "Raufoss", "Bybrua", "Kolbu")
ORG_SUFFIX = {"cyber_ict": ("Data AS", "Digital AS", "IT-tjenester AS"),
              "industrial_tech": ("Industri AS", "Mekaniske AS", "Produksjon AS"),
              "bioeconomy": ("Tre AS", "Bio AS", "Landbruk SA")}
PUBLIC_SUFFIX = ("kommune", "interkommunale IKT", "næringsråd", "fylkesetat")


@dataclass
class Person:
    """One generated participant: its file row and the subjects behind its texts."""

    row: dict[str, Any]
    offers: frozenset[str]
    seeks: frozenset[str]
    trap_for: str | None = None  # the query this trap targets, the constraint it breaks there, its twin
    trap_breaks: str | None = None
    twin: str | None = None
    # The subject behind each text of row["offers"] / row["seeks"], position by position (subjects.jsonl).
    offer_subjects: tuple[str, ...] = ()
    seek_subjects: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """The external id."""
        return str(self.row["external_id"])


@dataclass
class Generator:
    """The random source and the names handed out so far."""

    rng: random.Random
    names: set[str] = field(default_factory=set)
    serial: Counter[str] = field(default_factory=Counter)

    def next_id(self, kind: str) -> str:
        """The next external id of a kind, e.g. `ev-student-007`."""
        self.serial[kind] += 1
        return f"ev-{kind.replace('_', '-')}-{self.serial[kind]:03d}"

    def unique(self, make: Any) -> str:
        """A name from `make()` not used before."""
        while (name := make()) in self.names:
            pass
        self.names.add(name)
        return str(name)


# --- Subjects, styles and texts ----------------------------------------------------------------


def subject_plan(g: Generator, first: str) -> tuple[frozenset[str], frozenset[str]]:
    """(offered, sought) subjects: the same one, the same two, or split across two related subjects."""
    related = [k for k, s in SUBJECTS.items() if k != first and set(s.domains) & set(SUBJECTS[first].domains)]
    second = g.rng.choice(related)
    roll = g.rng.random()
    if roll < 0.5:
        return frozenset({first}), frozenset({first})
    if roll < 0.68:
        return frozenset({first, second}), frozenset({first, second})
    return frozenset({first}), frozenset({second})


def style_of(g: Generator, kind: str) -> Style:
    """Norwegian, English or mixed, by the kind's shares."""
    nb, en, mixed = STYLES[kind]
    styles: tuple[Style, ...] = ("nb", "en", "mixed")
    return g.rng.choices(styles, weights=(nb, en, mixed))[0]


def _ordered(subjects: Iterable[str]) -> list[str]:
    return sorted(subjects)


def _skill(subject: Subject, lang: Lang, variant: int) -> str:
    return (subject.skill_nb if lang == "nb" else subject.skill_en)[variant]


def _need(subject: Subject, lang: Lang, variant: int) -> str:
    return (subject.need_nb if lang == "nb" else subject.need_en)[variant]


def _template(g: Generator, templates: dict[str, str], engagements: Sequence[str]) -> str:
    """The template for one of the participant's engagements (any one the templates know)."""
    usable = [e for e in engagements if e in templates] or list(templates)
    return templates[g.rng.choice(usable)]


def student_texts(g: Generator, person: Person, style: Style) -> tuple[list[str], list[str]]:
    """(offers, seeks): a competence per offered subject, an opportunity per sought subject."""
    lang: Lang = "en" if style == "en" else "nb"
    variant = g.rng.randint(0, 1)
    offers = [g.rng.choice(STUDENT_OFFER[lang]).format(x=_skill(SUBJECTS[s], lang, variant))
              for s in _ordered(person.offers)]
    if style == "mixed":
        offers[0] = STUDENT_OFFER["nb"][0].format(x=SUBJECTS[_ordered(person.offers)[0]].mixed[0])
    engagements = person.row["engagements"]
    seeks = [_template(g, STUDENT_SEEK[lang], engagements).format(x=_skill(SUBJECTS[s], lang, 1 - variant))
             for s in _ordered(person.seeks)]
    return offers, seeks


def org_texts(g: Generator, person: Person, style: Style) -> tuple[list[str], list[str]]:
    """(offers, seeks): an opportunity per offered subject, a problem per sought subject."""
    lang: Lang = "en" if style == "en" else "nb"
    variant = g.rng.randint(0, 1)
    engagements = person.row["engagements"]
    offers = [_template(g, ORG_OFFER[lang], engagements).format(x=_need(SUBJECTS[s], lang, 1 - variant))
              for s in _ordered(person.offers)]
    seeks = [g.rng.choice(ORG_SEEK[lang]).format(x=_need(SUBJECTS[s], lang, variant)) for s in _ordered(person.seeks)]
    if style == "mixed":
        seeks[0] = ORG_SEEK["nb"][0].format(x=SUBJECTS[_ordered(person.seeks)[0]].mixed[1])
    return offers, seeks


def researcher_texts(g: Generator, person: Person, style: Style) -> tuple[list[str], list[str]]:
    """(offers, seeks): a field (or a long English profile) per offered subject, partners sought."""
    lang: Lang = "en" if style == "en" else "nb"
    first, *rest = [SUBJECTS[s] for s in _ordered(person.offers)]
    if style == "en" and g.rng.random() < LONG_PROFILE_SHARE:
        offers = [first.profile_en]
    else:
        field_name = first.research_en if lang == "en" else first.research_nb
        offers = [g.rng.choice(RESEARCHER_OFFER[lang]).format(x=field_name)]
    if style == "mixed":
        offers.append(f"Metoder og verktøy: {first.mixed[0]}")
    offers += [RESEARCHER_EXTRA[lang].format(x=_skill(s, lang, 0)) for s in rest]
    labels = [SUBJECTS[s].label_en if lang == "en" else SUBJECTS[s].label_nb for s in _ordered(person.seeks)]
    seeks = [g.rng.choice(RESEARCHER_SEEK[lang]).format(x=label) for label in labels]
    return offers, seeks


# --- Participants --------------------------------------------------------------------------------


def engagements_of(g: Generator, kind: str) -> list[str]:
    """Engagements typical of the kind; one in ten lists none (any engagement)."""
    if g.rng.random() < 0.1:
        return []
    low, high = ENGAGEMENT_COUNT[kind]
    return g.rng.sample(ENGAGEMENT_POOLS[kind], g.rng.randint(low, high))


def window_of(g: Generator, kind: str, engagements: Sequence[str]) -> tuple[str | None, str | None]:
    """An availability window covering the engagements, with open ends, shifts and some autumn-only students."""
    roll = g.rng.random()
    if roll < 0.12:
        return None, None
    if kind == "student" and roll < 0.22:
        return AUTUMN[0].isoformat(), AUTUMN[1].isoformat()
    spans = [WINDOWS[e] for e in engagements or ENGAGEMENT_POOLS[kind]]
    start = min(s for s, _ in spans) + dt.timedelta(weeks=g.rng.choice((0, 0, 1, 3)))
    ends = [e for _, e in spans]
    end = None if None in ends or roll > 0.85 else max(e for e in ends if e is not None)
    return start.isoformat(), end.isoformat() if end else None


def _person_name(g: Generator) -> str:
    return g.unique(lambda: f"{g.rng.choice(FIRST)} {g.rng.choice(LAST)}")


def _org_name(g: Generator, kind: str, domain: str) -> str:
    suffixes = PUBLIC_SUFFIX if kind == "public_body" else ORG_SUFFIX[domain]
    return g.unique(lambda: f"{g.rng.choice(PLACES)} {g.rng.choice(suffixes)}")


def _domains(subjects: Iterable[str]) -> list[str]:
    return sorted({d for s in subjects for d in SUBJECTS[s].domains})


def _organisation(g: Generator, kind: str, name: str) -> str | None:
    if kind == "student":
        return "NTNU Gjøvik"
    if kind == "researcher":
        return g.rng.choice(("NTNU Gjøvik", "NTNU Gjøvik", "SINTEF Raufoss Manufacturing"))
    return name


def make_person(g: Generator, kind: str, first_subject: str) -> Person:
    """One participant of a kind whose main subject is `first_subject`."""
    offers, seeks = subject_plan(g, first_subject)
    domains = _domains(offers | seeks)
    person_kind = kind in ("student", "researcher")
    name = _person_name(g) if person_kind else _org_name(g, kind, domains[0])
    engagements = engagements_of(g, kind)
    available_from, available_until = window_of(g, kind, engagements)
    external_id = g.next_id(kind)
    row: dict[str, Any] = {
        "external_id": external_id, "kind": kind, "name": name, "email": f"{external_id}@eval.koble.example",
        "organisation": _organisation(g, kind, name), "language": "nb", "domains": domains,
        "engagements": engagements, "available_from": available_from, "available_until": available_until,
        "capacity": 1 if kind == "student" else g.rng.randint(1, 5), "location": g.rng.choice(LOCATIONS),
        "offers": [], "seeks": [],
    }
    person = Person(row, offers, seeks)
    write_texts(g, person, style_of(g, kind))
    return person


def write_texts(g: Generator, person: Person, style: Style) -> None:
    """Fill in language, offers and seeks for the person's kind and style."""
    kind = person.row["kind"]
    writer = {"student": student_texts, "researcher": researcher_texts}.get(kind, org_texts)
    person.row["offers"], person.row["seeks"] = writer(g, person, style)
    person.row["language"] = "en" if style == "en" else "nb"
    person.offer_subjects, person.seek_subjects = text_subjects(person)


def text_subjects(person: Person) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The subject of each offers and seeks text, as the writers order them (one per subject, sorted;
    a researcher's extra "Metoder og verktøy" line is about the first subject)."""
    offered, sought = _ordered(person.offers), _ordered(person.seeks)
    if person.row["kind"] == "researcher" and len(person.row["offers"]) > len(offered):
        offered = [offered[0], *offered]
    return tuple(offered), tuple(sought)


def base_people(g: Generator) -> list[Person]:
    """The regular participants, subjects dealt round-robin per kind so every subject is covered."""
    people: list[Person] = []
    for kind, count in COUNTS.items():
        pool = list(PUBLIC_SUBJECTS if kind == "public_body" else SUBJECTS)
        g.rng.shuffle(pool)
        people += [make_person(g, kind, pool[i % len(pool)]) for i in range(count)]
    return people


# --- Gold -----------------------------------------------------------------------------------------


def relevance(a: Person, b: Person, facts: dict[str, Facts]) -> int:
    """2 for a two-sided fit, 1 for a one-sided fit, 0 otherwise or when a hard constraint is broken."""
    if a.id == b.id or broken(facts[a.id], facts[b.id]):
        return 0
    return int(bool(a.seeks & b.offers)) + int(bool(b.seeks & a.offers))


def gold_lines(people: Sequence[Person]) -> list[dict[str, Any]]:
    """Every relevant ordered pair, grouped by query, best first."""
    facts = {p.id: facts_of(p.row) for p in people}
    lines = []
    for a in people:
        found = [(relevance(a, b, facts), b.id) for b in people]
        lines += [{"a": a.id, "b": b, "relevance": rel} for rel, b in sorted(found, key=lambda f: (-f[0], f[1])) if rel]
    return lines


# --- Traps ------------------------------------------------------------------------------------------


def trap_copy(g: Generator, a: Person, b: Person, breaks: str) -> Person:
    """A near-duplicate of b that breaks `breaks` towards a (and only that, by construction)."""
    kind = a.row["kind"] if breaks == "same_kind" else b.row["kind"]
    external_id = g.next_id(kind)
    lang: Lang = b.row["language"]
    name = _org_name(g, kind, b.row["domains"][0]) if kind in ("company", "public_body") else _person_name(g)
    row = {**b.row, "external_id": external_id, "kind": kind, "name": name,
           "email": f"{external_id}@eval.koble.example", "organisation": _organisation(g, kind, name),
           "capacity": 1 if kind == "student" else 3,
           "offers": [*b.row["offers"][:-1], b.row["offers"][-1] + TRAP_SUFFIX[lang]], "seeks": list(b.row["seeks"])}
    row.update(trap_change(a.row, breaks))
    return replace(b, row=row, trap_for=a.id, trap_breaks=breaks, twin=b.id)


def trap_change(a: dict[str, Any], breaks: str) -> dict[str, Any]:
    """The fields that make the copy break one constraint towards a."""
    if breaks == "no_shared_domain":
        return {"domains": [next(d for d in ("bioeconomy", "cyber_ict", "industrial_tech") if d not in a["domains"])]}
    if breaks == "no_shared_engagement":
        return {"engagements": [e for e in ENGAGEMENT_POOLS["company"] if e not in a["engagements"]][:2]}
    if breaks == "no_overlapping_window":
        until = dt.date.fromisoformat(a["available_from"]) - dt.timedelta(days=20)
        return {"available_from": (until - dt.timedelta(days=90)).isoformat(), "available_until": until.isoformat()}
    return {}


def trap_fits(a: Person, b: Person, breaks: str) -> bool:
    """Whether a trap of this type can be built for query a from candidate b."""
    checks = {
        "same_kind": a.row["kind"] == "company" and b.row["kind"] in ("student", "researcher"),
        "no_shared_domain": len(a.row["domains"]) < 3,
        "no_shared_engagement": bool(a.row["engagements"]) and len(a.row["engagements"]) <= 4,
        "no_overlapping_window": a.row["available_from"] is not None,
    }
    return checks[breaks]


def make_traps(g: Generator, people: Sequence[Person]) -> list[Person]:
    """TRAPS_PER_TYPE traps of each type, each aimed at a different query's best candidate."""
    facts = {p.id: facts_of(p.row) for p in people}
    by_id = {p.id: p for p in people}
    pairs = [(a, b) for a in people for b in people if relevance(a, b, facts) == 2]
    g.rng.shuffle(pairs)
    traps: list[Person] = []
    used: set[str] = set()
    for breaks in ("same_kind", "no_shared_domain", "no_overlapping_window", "no_shared_engagement"):
        chosen = [(a, b) for a, b in pairs if a.id not in used and trap_fits(a, b, breaks)][:TRAPS_PER_TYPE]
        for a, b in chosen:
            used.add(a.id)
            traps.append(trap_copy(g, by_id[a.id], b, breaks))
    return traps


def check_traps(people: Sequence[Person]) -> None:
    """Every trap breaks exactly the constraint it was built to break towards its query."""
    facts = {p.id: facts_of(p.row) for p in people}
    for trap in people:
        if trap.trap_for is not None:
            assert broken(facts[trap.trap_for], facts[trap.id]) == [trap.trap_breaks], trap.id


# --- Writing ------------------------------------------------------------------------------------------


def build(seed: int = SEED) -> tuple[list[Person], list[dict[str, Any]]]:
    """The participants (regular ones, then traps) and the gold lines."""
    g = Generator(random.Random(seed))
    people = base_people(g)
    people += make_traps(g, people)
    check_traps(people)
    return people, gold_lines(people)


def write_jsonl(rows: Iterable[dict[str, Any]], path: Path) -> None:
    """UTF-8 JSON Lines, one object per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def describe(people: Sequence[Person], gold: Sequence[dict[str, Any]]) -> str:
    """A few counts about the set, for the person who regenerates it."""
    language = {p.id: p.row["language"] for p in people}
    pairs = Counter("cross" if language[g["a"]] != language[g["b"]] else f"{language[g['a']]}-{language[g['b']]}"
                    for g in gold)
    kinds = Counter(p.row["kind"] for p in people)
    long_texts = sum(1 for p in people if any(len(t) > 300 for t in p.row["offers"]))
    return (f"{len(people)} participants {dict(kinds)}, {sum(1 for p in people if p.trap_for)} traps, "
            f"{long_texts} with a long profile; {len({g['a'] for g in gold})} queries, {len(gold)} gold pairs "
            f"{dict(pairs)}")


def subject_lines(people: Sequence[Person]) -> Iterator[dict[str, Any]]:
    """One line per interest: the subject its text was written about (docs/contracts.md §7)."""
    for person in people:
        for side, subjects in (("offers", person.offer_subjects), ("seeks", person.seek_subjects)):
            yield from ({"external_id": person.id, "side": side, "index": index, "subject": subject}
                        for index, subject in enumerate(subjects))


def main(argv: Sequence[str]) -> None:
    """Write participants.jsonl, gold.jsonl and subjects.jsonl into the folder given (default evaluation/data)."""
    folder = Path(argv[0]) if argv else DATA_DIR
    people, gold = build()
    write_jsonl((p.row for p in people), folder / "participants.jsonl")
    write_jsonl(gold, folder / "gold.jsonl")
    write_jsonl(subject_lines(people), folder / "subjects.jsonl")  # explanations measured (koble evaluate)
    print(describe(people, gold), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
