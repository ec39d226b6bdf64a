"""The app's icon: linked from every page, and answered at /favicon.ico, where browsers ask anyway."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from models.reference.tables import User
from tests.conftest import login


@pytest.mark.parametrize("path", ["/favicon.ico", "/static/favicon.svg"])
def test_it_serves_the_icon_without_a_login(client: FlaskClient, path: str) -> None:
    # A static asset, like the stylesheet: the login page itself shows it.
    with client.get(path) as response:
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        assert response.get_data(as_text=True).lstrip().startswith("<svg")


def test_it_links_the_icon_from_every_page(client: FlaskClient, district: dict[str, User]) -> None:
    link = '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
    assert link in client.get("/login").get_data(as_text=True)
    login(client, "operator")
    assert link in client.get("/queue").get_data(as_text=True)
