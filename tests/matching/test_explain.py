"""Explanations (service.matching.explain), pure: list grammar and lower case in Bokmål and English,
plural agreement, whole quotes, the strongest pair of each direction against a brute-force oracle,
variety across a page, shared terms highlighted with HTML escaping kept."""

from __future__ import annotations

import datetime as dt
import re
from itertools import product

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from service.matching import explain
from service.matching.explain import ExplanationParts, InterestPair, PairOption

# --- grammar ---


def test_lists_read_naturally_in_both_languages() -> None:
    assert explain.joined(("sommerjobb",), "nb") == "sommerjobb"
    assert explain.joined(("sommerjobb", "praksisplass"), "nb") == "sommerjobb og praksisplass"
    assert explain.joined(("a", "b", "c"), "nb") == "a, b og c"
    assert explain.joined(("a", "b", "c", "d"), "en") == "a, b, c and d"
    assert explain.joined(("summer job", "internship"), "en") == "summer job and internship"
    # A label holding the conjunction itself gets a comma before the last item, not "... og IKT og ...".
    assert explain.joined(("cybersikkerhet og IKT", "industriteknologi"), "nb") == (
        "cybersikkerhet og IKT, og industriteknologi")
    assert explain.joined(("bioeconomy", "cyber security and ICT", "industrial technology"), "en") == (
        "bioeconomy, cyber security and ICT, and industrial technology")


def test_labels_are_lower_case_mid_sentence_but_acronyms_stay() -> None:
    assert explain.mid_sentence("Sommerjobb") == "sommerjobb"
    assert explain.mid_sentence("Cybersikkerhet og IKT") == "cybersikkerhet og IKT"
    assert explain.mid_sentence("Thesis (bachelor or master)") == "thesis (bachelor or master)"
    assert explain.mid_sentence("FoU-prosjekt") == "FoU-prosjekt"
    assert explain.mid_sentence("R&D project") == "R&D project"
    assert explain.mid_sentence("IKT") == "IKT"
    assert explain.mid_sentence("Bachelor- eller masteroppgave") == "bachelor- eller masteroppgave"


def _parts(
    domains: tuple[str, ...], engagements: tuple[str, ...], pairs: tuple[InterestPair, ...] = ()
) -> ExplanationParts:
    return ExplanationParts(domains=domains, period=None, engagements=engagements, pair=None, pairs=pairs)


def test_domains_and_engagements_in_bokmaal_with_plural_agreement() -> None:
    one = explain.render(_parts(("bioeconomy",), ("summer_job",)), "nb")
    assert one == "Felles fagområde: bioøkonomi. Begge er åpne for: sommerjobb."
    two = explain.render(_parts(("cyber_ict", "industrial_tech"), ("internship", "summer_job")), "nb")
    assert two == ("Felles fagområder: cybersikkerhet og IKT, og industriteknologi. "
                   "Begge er åpne for: praksisplass og sommerjobb.")
    three = explain.render(_parts(("bioeconomy", "cyber_ict", "industrial_tech"),
                                  ("thesis", "internship", "summer_job")), "nb")
    assert "Felles fagområder: bioøkonomi, cybersikkerhet og IKT, og industriteknologi." in three
    assert "Begge er åpne for: bachelor- eller masteroppgave, praksisplass og sommerjobb." in three
    assert not re.search(r"(og|,) [A-ZÆØÅ][a-zæøå]", three)  # no capital after "og" or a comma


def test_domains_and_engagements_in_english_with_plural_agreement() -> None:
    one = explain.render(_parts(("cyber_ict",), ("summer_job",)), "en")
    assert one == "Shared domain: cyber security and ICT. Both open to: summer job."
    three = explain.render(_parts(("bioeconomy", "cyber_ict", "industrial_tech"),
                                  ("internship", "summer_job", "project")), "en")
    assert three == ("Shared domains: bioeconomy, cyber security and ICT, and industrial technology. "
                     "Both open to: internship, summer job and R&D project.")


def test_both_directions_are_quoted_to_you_and_by_name() -> None:
    mine = InterestPair("Sommerjobb med etisk hacking", "Summer job in ethical hacking", True)
    theirs = InterestPair("Students who know penetration testing", "Penetrasjonstesting av nettsider", False)
    parts = _parts((), (), (mine, theirs))
    assert explain.render(parts, "nb") == (
        "Du ser etter «Sommerjobb med etisk hacking», og de tilbyr «Summer job in ethical hacking». "
        "De ser etter «Students who know penetration testing», og du tilbyr «Penetrasjonstesting av nettsider».")
    by_name = explain.render(parts, "en", ("Martin", "Hackers AS"))
    assert by_name.startswith("Martin looks for “Sommerjobb med etisk hacking”, and Hackers AS offers")
    assert "Hackers AS looks for “Students who know penetration testing”, and Martin offers" in by_name


# --- quotes ---


def test_short_interests_are_quoted_whole() -> None:
    text = "Masteroppgave om sikkerhet i industrielle styringssystemer og OT-nettverk hos en bedrift i Gjøvik-regionen"
    assert explain.quote(text) == text  # the old 80-character cut ended "…OT-nettverk hos…"


def test_long_interests_are_cut_at_a_sentence_holding_the_shared_terms() -> None:
    text = ("Vi er en bedrift med 40 ansatte på Raufoss. Vi trenger hjelp med kartlegging av sårbarheter i "
            "produksjonsnettverket vårt og ønsker penetrasjonstesting av styringssystemene våre. "
            "Vi har kontorer i tre byer og en kantine som serverer lunsj hver dag til alle som jobber her.")
    quoted = explain.quote(text, shared={"sårbarheter", "penetrasjonstesting"})
    assert quoted.startswith("…Vi trenger hjelp med kartlegging av sårbarheter")
    assert quoted.endswith("våre…") and len(quoted) <= explain.QUOTE_CHARS
    assert explain.quote(text).startswith("Vi er en bedrift med 40 ansatte på Raufoss.")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["sikkerhet", "OT-nettverk", "styring,", "data.", "og", "Raufoss;",
                                 "penetrasjonstesting", "a", "\u2013", "lang"]), min_size=1, max_size=80),
       st.integers(min_value=20, max_value=200))
def test_a_quote_is_never_cut_inside_a_word(words: list[str], limit: int) -> None:
    text = " ".join(words)
    quoted = explain.quote(text, limit)
    assert len(quoted) <= limit or quoted == text or " " not in quoted  # (one word longer than the limit)
    inner = quoted.strip(explain.ELLIPSIS)
    kept = inner.split()
    assert all(re.sub(r"[,.;:]$", "", w) in [re.sub(r"[,.;:]$", "", x) for x in words] for w in kept)
    assert " ".join(kept).rstrip(" ,.;:") in text


# --- the strongest pair: brute force over every pair as the oracle ---


def _options(seeks_a: np.ndarray, offers_a: np.ndarray, seeks_b: np.ndarray, offers_b: np.ndarray) -> list[PairOption]:
    found = [PairOption(True, i, j, f"a-seek-{i}", f"b-offer-{j}", float(s @ o))
             for (i, s), (j, o) in product(enumerate(seeks_a), enumerate(offers_b))]
    found += [PairOption(False, i, j, f"a-offer-{i}", f"b-seek-{j}", float(o @ s))
              for (i, o), (j, s) in product(enumerate(offers_a), enumerate(seeks_b))]
    return found


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 6))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.integers(1, 4), st.integers(0, 4), st.integers(0, 4),
       st.integers(1, 4))
def test_the_strongest_pair_is_the_one_contributing_most_to_each_direction(
    seed: int, n_seeks_a: int, n_offers_a: int, n_seeks_b: int, n_offers_b: int
) -> None:
    rng = np.random.default_rng(seed)
    sa, oa, sb, ob = _unit(rng, n_seeks_a), _unit(rng, n_offers_a), _unit(rng, n_seeks_b), _unit(rng, n_offers_b)
    chosen = explain.strongest_per_direction(_options(sa, oa, sb, ob), near=0.0)
    # The direction's fit is the cosine of the side means, a sum of one term per pair: the oracle
    # takes the pair whose term is largest.
    mean_s, mean_o = sa.mean(axis=0), ob.mean(axis=0)
    terms = {(i, j): float(sa[i] @ ob[j]) / (len(sa) * len(ob)) for i, j in product(range(len(sa)), range(len(ob)))}
    assert np.isclose(sum(terms.values()), float(mean_s @ mean_o))
    forward = max(terms, key=lambda key: (terms[key], -key[0], -key[1]))
    assert (chosen[0].query_seeks, chosen[0].query_index, chosen[0].candidate_index) == (True, *forward)
    if len(oa) and len(sb):
        backward = max(product(range(len(oa)), range(len(sb))), key=lambda key: float(oa[key[0]] @ sb[key[1]]))
        assert (chosen[1].query_seeks, chosen[1].query_index, chosen[1].candidate_index) == (False, *backward)
    else:
        assert len(chosen) == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(min_value=0.7, max_value=0.95), min_size=1, max_size=6), st.sets(st.integers(0, 5)))
def test_near_equal_pairs_prefer_an_interest_not_yet_quoted(cosines: list[float], quoted_at: set[int]) -> None:
    options = [PairOption(True, i, 0, f"mine {i}", "theirs", c) for i, c in enumerate(cosines)]
    quoted = {f"mine {i}" for i in quoted_at}
    chosen = explain.strongest(options, quoted)
    assert chosen is not None
    best = max(cosines)
    assert chosen.cosine >= best - explain.NEAR  # never a clearly weaker pair
    fresh = [o for o in options if o.cosine >= best - explain.NEAR and o.query_text not in quoted]
    if fresh:
        assert chosen == min(fresh, key=lambda o: o.order)  # the best fresh one, deterministic
    else:
        assert chosen == min(options, key=lambda o: o.order)
    assert explain.strongest(options, quoted) == chosen


def test_explanation_parts_quote_each_direction_and_keep_the_old_single_pair_form() -> None:
    me = {"domains": ["cyber_ict"], "engagements": ["summer_job"], "available_from": None, "available_until": None}
    rows = [
        {"query_side": "seeks", "query_position": 1, "candidate_position": 0, "cosine": 0.81,
         "query_text": "Jobb med appdesign", "candidate_text": "Summer job in ethical hacking"},
        {"query_side": "seeks", "query_position": 0, "candidate_position": 0, "cosine": 0.9,
         "query_text": "Sommerjobb med etisk hacking", "candidate_text": "Summer job in ethical hacking"},
        {"query_side": "offers", "query_position": 0, "candidate_position": 0, "cosine": 0.88,
         "query_text": "Penetrasjonstesting", "candidate_text": "Students with penetration testing skills"},
    ]
    parts = explain.explanation_parts(me, me, rows)
    assert [(p.seek, p.offer) for p in parts.pairs] == [
        ("Sommerjobb med etisk hacking", "Summer job in ethical hacking"),
        ("Students with penetration testing skills", "Penetrasjonstesting")]
    assert parts.pair == parts.pairs[0] and parts.pairs[0].seek_index == 0
    assert explain.quoted_query_texts(rows, parts) == {"Sommerjobb med etisk hacking", "Penetrasjonstesting"}
    old = explain.explanation_parts(me, me, {"query_side": "seeks", "query_text": "x", "candidate_text": "y"})
    assert old.pair == InterestPair("x", "y", True) and old.pairs == ()
    assert explain.explanation_parts(me, me, None).quoted == ()


# --- shared terms ---


def test_shared_terms_are_words_stems_and_compound_starts() -> None:
    shared = explain.shared_terms("Erfaring med penetrasjonstesting og sårbarhetsanalyse",
                                  "Vi trenger penetrasjonstester som finner sårbarheter og data")
    assert set(shared) == {"penetrasjonstesting", "penetrasjonstester", "sårbarhetsanalyse", "sårbarheter"}
    assert explain.shared_terms("Data og analyse", "Database og produkt") == ()  # short or stop words only


def test_highlighting_keeps_html_escaped() -> None:
    seek, offer = "<script>alert(1)</script> OT security & PLC", "PLC <b>security</b>"
    pair = InterestPair(seek, offer, True, shared=explain.shared_terms(seek, offer))
    html = explain.render_html(_parts((), (), (pair,)), "en", ("<i>Ann</i>", "Co"))
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;i&gt;Ann&lt;/i&gt;" in html
    assert "<mark>security</mark>" in html and "&amp; PLC" in html
    assert re.sub(r"</?mark>", "", str(html)).count("<") == 0  # only <mark> tags
    assert explain.render(_parts((), (), (pair,)), "en").count("<mark>") == 0  # plain text: no marks


def test_periods_still_read_as_months() -> None:
    parts = ExplanationParts((), (dt.date(2027, 6, 1), dt.date(2027, 8, 31)), (), None)
    assert explain.render(parts, "nb") == "Tilgjengelige i samme periode: juni\u2013august 2027."
