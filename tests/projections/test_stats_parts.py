"""Re-disputes decided from the notes of a rebuild's parts, as the fold decides them."""

from __future__ import annotations

from mediation.projections.stats_parts import PartNotes, re_disputes

A, B, C = 101, 202, 303  # case numbers


def test_a_new_case_sharing_a_party_with_a_case_closed_in_another_part_is_a_re_dispute() -> None:
    first = PartNotes(keys=[(1, A, ("k1", "k2"), True)], closed=[(5, A, True)])
    second = PartNotes(keys=[(3, B, ("k2",), True), (9, C, ("k2", "k3"), True)])

    assert re_disputes([first, second]) == [9]  # B came before A closed, C after


def test_a_case_open_again_makes_no_re_dispute_until_it_closes_again() -> None:
    first = PartNotes(
        keys=[(1, A, ("k1",), True)], closed=[(2, A, True), (4, A, False), (8, A, True)]
    )
    second = PartNotes(
        keys=[(3, B, ("k1",), True), (6, C, ("k1",), True), (10, 404, ("k1",), True)]
    )

    assert re_disputes([first, second]) == [3, 10]


def test_a_party_amended_away_before_the_new_case_links_nothing() -> None:
    first = PartNotes(keys=[(1, A, ("k1",), True), (2, A, ("k9",), False)], closed=[(3, A, True)])
    second = PartNotes(keys=[(4, B, ("k1",), True), (5, C, ("k9",), True)])

    assert re_disputes([first, second]) == [5]


def test_a_party_amended_in_links_from_that_moment_on() -> None:
    first = PartNotes(keys=[(1, A, ("k1",), True)], closed=[(2, A, True)])
    second = PartNotes(keys=[(3, B, ("k2",), True), (4, B, ("k1",), False)])

    assert re_disputes([first, second]) == []  # an amendment is no registration


def test_a_case_is_no_re_dispute_of_itself_nor_of_open_cases() -> None:
    alone = PartNotes(keys=[(1, A, ("k1",), True), (2, B, ("k1",), True)], closed=[(3, A, True)])

    assert re_disputes([alone]) == []
    assert re_disputes([]) == []
