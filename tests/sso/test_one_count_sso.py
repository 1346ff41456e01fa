"""One count per person through single sign-on: Anna acknowledges on Slack and again on Telegram
(two unlinked accounts, two people); once she has linked both by signing in, the stats say 1."""

from __future__ import annotations

from adapters.base import UserRef
from bot.services.engagement import Request
from tests.sso.conftest import SsoHarness
from tests.sso.test_link_flow import DIRECTORY


async def test_ack_on_slack_and_telegram_counts_once_after_linking(sso: SsoHarness) -> None:
    await sso.admin.post("/api/employees/import", content=DIRECTORY, headers={"content-type": "text/csv"})
    created = await sso.admin.post("/api/posts", json={"title": "Verlof", "call_to_action": {"kind": "acknowledge"}})
    post_id = created.json()["id"]
    await sso.app.settle()
    for platform, user_id in (("slack", "U01ANNA"), ("telegram", "1001")):
        await sso.app.engagement.submit(
            Request(platform, None, UserRef(platform, user_id, "Anna"), "ack", post_id=post_id)
        )
    assert (await sso.admin.get(f"/api/posts/{post_id}")).json()["counts"] == {"ack": 2}

    for platform, user_id in (("slack", "U01ANNA"), ("telegram", "1001")):
        page = await sso.sign_in(await sso.link_url(platform, user_id, "Anna"), "anna")
        assert 'data-outcome="linked"' in page.text

    detail = (await sso.admin.get(f"/api/posts/{post_id}")).json()
    assert detail["counts"] == {"ack": 1} and detail["engaged"] == 1
    assert (await sso.accounts())["anna@example.org"] == ["slack:U01ANNA", "telegram:1001"]
