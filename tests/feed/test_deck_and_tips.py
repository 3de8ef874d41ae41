"""Pure logic of the feed's dead ends and order (issue 12): the session's deck and the profile tips."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from service.feed import deck, tips
from service.kit import i18n

TODAY = dt.date(2026, 12, 7)


# --- the deck: a stable order for the sitting ---


def test_a_new_deck_takes_the_rankers_order_and_keeps_it_when_the_ranker_reorders() -> None:
    first = deck.arrange([], [7, 3, 9])
    assert first == [7, 3, 9] and deck.current(first, {7, 3, 9}) == 7
    # The ranker now puts 9 first (an exposure moved 7 down) and brings a newcomer, 5.
    again = deck.arrange(first, [9, 5, 7, 3])
    assert again == [7, 3, 9, 5] and deck.current(again, {9, 5, 7, 3}) == 7


def test_the_card_on_screen_is_the_first_still_available_so_a_reload_shows_it_again() -> None:
    kept = [7, 3, 9]
    assert deck.current(kept, {3, 9}) == 3  # 7 answered
    assert deck.current(deck.arrange(kept, [9, 3]), {9, 3}) == 3  # reload: the ranker's order does not matter
    assert deck.current(kept, set()) is None


def test_undo_puts_the_card_taken_back_first() -> None:
    assert deck.to_front([7, 3, 9], 3) == [3, 7, 9]
    assert deck.to_front([7, 3, 9], 4) == [4, 7, 3, 9]  # taken back from an earlier sitting


def test_progress_counts_answered_cards_of_this_deck_and_those_still_to_show() -> None:
    kept = [7, 3, 9, 5]
    assert deck.progress(kept, {7, 3, 9, 5}, set()) == deck.Progress(1, 4)
    assert deck.progress(kept, {9, 5}, {7, 3}) == deck.Progress(3, 4)
    assert deck.progress(kept, {5}, {7, 3}) == deck.Progress(3, 3)  # 9 went away (hidden): not counted
    assert deck.progress(kept, set(), {7, 3, 9, 5}) == deck.Progress(4, 4)  # all answered: no card, 4 done


def test_the_deck_is_bounded_and_belongs_to_one_participant() -> None:
    long = deck.arrange(list(range(deck.DECK_MAX)), [1000, 1001])
    assert len(long) == deck.DECK_MAX and long[-2:] == [1000, 1001]
    stored = deck.to_session([4, 2], participant_id=11, now=1000.0)
    assert deck.from_session(stored, 11, now=1000.0 + deck.SITTING_SECONDS) == [4, 2]
    assert deck.from_session(stored, 11, now=1001.0 + deck.SITTING_SECONDS) == []  # the sitting ended
    assert deck.from_session(stored, 12, now=1000.0) == []
    assert deck.from_session({"p": 11, "t": 1000, "ids": "garbage"}, 11, now=1000.0) == []
    assert deck.from_session({"p": 11, "ids": [4]}, 11, now=1000.0) == []
    assert deck.from_session(None, 11) == []


# --- tips from the profile ---


def profile(**changes: Any) -> dict[str, Any]:
    """A Norwegian student whose profile leaves no tip to give; `changes` narrow it."""
    base: dict[str, Any] = {
        "language": "nb", "engagements": [], "available_from": None, "available_until": None,
        "domains": ["bioeconomy", "cyber_ict", "industrial_tech"],
        "offers": ["Erfaring med Python og dataanalyse", "Feltarbeid i skog og landbruk"],
        "seeks": ["A master thesis on forest biomass"],
    }
    return base | changes


@pytest.fixture(autouse=True)
def english() -> Any:
    token = i18n.current_language.set("en")
    yield
    i18n.current_language.reset(token)


def keys(found: list[tips.Tip]) -> list[str]:
    return [tip.key for tip in found]


def test_a_wide_profile_gets_no_tips() -> None:
    assert tips.tips(profile(), TODAY) == []


def test_only_the_tips_that_apply_most_effective_first() -> None:
    narrow = profile(engagements=["thesis"], available_until=TODAY + dt.timedelta(days=30), domains=["bioeconomy"],
                     offers=["Feltarbeid i skog"], seeks=[])
    found = tips.tips(narrow, TODAY)
    assert keys(found) == ["engagements", "availability", "domains", "language", "interests"]
    assert found[0].text.startswith("You only look for thesis (bachelor or master). Tick more kinds")
    assert "internship and summer job" in found[0].text
    assert "2027-01-06" in found[1].text and found[1].href == "/me/edit#available_until"
    assert "cyber security and ICT or industrial technology" in found[2].text  # lower case mid-sentence
    assert "in English too" in found[3].text


def test_a_late_start_is_a_tip_and_a_far_end_is_not() -> None:
    assert keys(tips.tips(profile(available_until=TODAY + dt.timedelta(days=365)), TODAY)) == []
    late = tips.tips(profile(available_from=TODAY + dt.timedelta(days=200)), TODAY)
    assert keys(late) == ["availability"] and late[0].href == "/me/edit#available_from"


def test_the_other_language_tip_looks_at_what_is_written() -> None:
    only_norwegian = profile(seeks=["Masteroppgave om skog og biomasse"])
    assert keys(tips.tips(only_norwegian, TODAY)) == ["language"]
    english_profile = profile(language="en", offers=["Data analysis with Python", "Field work"],
                              seeks=["A thesis on the forest"])
    found = tips.tips(english_profile, TODAY)
    assert keys(found) == ["language"] and "in Norwegian too" in found[0].text


def test_written_in_tells_the_two_languages_apart_or_says_it_cannot() -> None:
    assert tips.written_in("Erfaring med nettverk og sikkerhet") == "nb"
    assert tips.written_in("Sårbarhetsanalyse") == "nb"
    assert tips.written_in("Experience with networks and security") == "en"
    assert tips.written_in("Python, SCADA") is None


def test_tips_speak_norwegian_on_norwegian_pages() -> None:
    token = i18n.current_language.set("nb")
    try:
        found = tips.tips(profile(engagements=["thesis", "internship"], domains=["cyber_ict"]), TODAY)
    finally:
        i18n.current_language.reset(token)
    assert found[0].text.startswith("Du ser bare etter bachelor- eller masteroppgave og praksisplass.")
    assert "bioøkonomi eller industriteknologi" in found[1].text
