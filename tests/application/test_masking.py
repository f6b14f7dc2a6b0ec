"""Masking a party hides its personal data and nothing else."""

from __future__ import annotations

import dataclasses

from mediation.application.views import MASK, PERSONAL_FIELDS, mask_party
from mediation.domain.values import Party, PartyRole


def test_a_masked_party_keeps_every_field_but_its_personal_data() -> None:
    party = Party("p1", PartyRole.APPLICANT, "申请人", "13800000001", "540100000000000001")
    masked = mask_party(party)
    for field in dataclasses.fields(Party):
        expected = MASK if field.name in PERSONAL_FIELDS else getattr(party, field.name)
        assert getattr(masked, field.name) == expected, field.name


def test_personal_data_a_party_has_not_given_stays_absent() -> None:
    masked = mask_party(Party("p2", PartyRole.RESPONDENT, "被申请人"))
    assert (masked.phone, masked.id_number) == (None, None)
