"""The lookup page: a party's cases of the user's center, by ID number or by name and phone."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support import FakeClock
from tests.web.web_support import (
    CHINESE_NAME,
    TIBETAN_NAME,
    act,
    post_form,
    register,
    sign_in,
    signed_in,
)

ID_NUMBER = "54010219900101123X"


def results(page: str) -> list[str]:
    """The case links of the results table, in order."""
    if "<tbody>" not in page:
        return []
    body = page[page.index("<tbody>") : page.index("</tbody>")]
    return re.findall(r'<a href="/cases/([0-9a-f-]+)">', body)


def test_an_id_number_finds_the_partys_cases_latest_first_and_stays_out_of_the_address(
    clerk: TestClient, clock: FakeClock
) -> None:
    older = register(
        clerk, **{"parties-0-id_number": ID_NUMBER, "dispute_type": "land", "summary": "宅基地纠纷"}
    )
    act(clerk, older, "reject", reason="already before a court")
    clock.advance(hours=1)
    newer = register(clerk, **{"parties-0-id_number": ID_NUMBER})
    register(clerk)  # the same name and phone, but without the ID number

    response = post_form(clerk, "/cases/find", {"id_number": ID_NUMBER.lower()}, "/cases/find")

    assert response.status_code == 200
    assert results(response.text) == [newer, older]
    assert "Closed" in response.text
    assert f'<a href="/cases/{older}">宅基地纠纷</a>' in response.text  # the summary opens it
    assert "Land" in response.text
    assert str(response.url).endswith("/cases/find")  # the number is in no address
    assert 'autocomplete="off"' in response.text


def test_a_name_and_phone_find_a_party_registered_without_an_id_number(clerk: TestClient) -> None:
    case = register(clerk)  # the applicant: TIBETAN_NAME, 138 0891 0001, no ID number
    found = post_form(
        clerk, "/cases/find", {"name": TIBETAN_NAME, "phone": "13808910001"}, "/cases/find"
    )
    nobody = post_form(
        clerk, "/cases/find", {"name": CHINESE_NAME, "phone": "13808910001"}, "/cases/find"
    )

    assert results(found.text) == [case]
    assert results(nobody.text) == []
    assert "No case of this center matches." in nobody.text


def test_another_centers_user_finds_none_of_this_centers_cases(
    web_app: FastAPI, clerk: TestClient
) -> None:
    register(clerk, **{"parties-0-id_number": ID_NUMBER})
    with signed_in(web_app, "dz_clerk") as elsewhere:
        page = post_form(elsewhere, "/cases/find", {"id_number": ID_NUMBER}, "/cases/find").text
    with signed_in(web_app, "city_sup") as above:
        city = post_form(above, "/cases/find", {"id_number": ID_NUMBER}, "/cases/find").text

    assert results(page) == []
    assert results(city) == []


def test_a_lookup_naming_no_one_shows_the_form_again_with_the_field_to_correct(
    clerk: TestClient,
) -> None:
    empty = post_form(
        clerk, "/cases/find", {"id_number": " ", "name": "", "phone": ""}, "/cases/find"
    )
    half = post_form(clerk, "/cases/find", {"name": TIBETAN_NAME, "phone": ""}, "/cases/find")

    assert empty.status_code == 422
    assert "give an ID number, or a name and a phone" in empty.text
    assert 'id="id_number" name="id_number" value=""' in empty.text
    assert half.status_code == 422
    assert 'aria-describedby="phone-error" aria-invalid="true"' in half.text
    assert "give both the name and the phone" in half.text
    assert f'value="{TIBETAN_NAME}"' in half.text  # what was typed stays


def test_the_lookup_page_is_in_the_menu_and_speaks_chinese_and_tibetan(
    web_app: FastAPI, clerk: TestClient
) -> None:
    assert '<a href="/cases/find">Find cases</a>' in clerk.get("/queue").text
    for language, title, nothing in (
        ("zh", "查找当事人的案件", "本中心没有符合条件的案件。"),
        ("bo", "རྩོད་ཕྱོགས་ཀྱི་རྩོད་གཞི་འཚོལ་བ།", "བར་འདུམ་ལྟེ་གནས་འདིར་ཆ་རྐྱེན་དང་མཐུན་པའི་རྩོད་གཞི་མེད།"),
    ):
        with TestClient(web_app, headers={"Accept-Language": language}) as client:
            sign_in(client, "clerk")
            page = client.get("/cases/find").text
            none = post_form(client, "/cases/find", {"id_number": ID_NUMBER}, "/cases/find").text
        assert f"<h1>{title}</h1>" in page
        assert nothing in none


def test_the_lookup_needs_a_signed_in_user(browser: TestClient) -> None:
    response = browser.get("/cases/find", follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")
