from tests.conftest import login
from tests.casedata import make_case, move
from models.cases.lifecycle import Action
from datetime import UTC, datetime

def test_tmp(client, session, district):
    c = make_case(session, district["operator"], datetime.now(UTC))
    for a, who in ((Action.assign, "dm"),):
        move(session, c, a, district[who], datetime.now(UTC), officer=district["cmho"])
    session.commit()
    login(client, "collector")
    page = client.get(f"/cases?q={c.number}").get_data(as_text=True)
    import re
    print(c.number, re.findall(r'class="number"[^>]*>[^<]*', page)[:5])
    i = page.find("<main"); print(page[i:i+3000])
