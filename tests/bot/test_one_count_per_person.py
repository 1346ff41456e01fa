"""One count per person: once a person's messenger accounts are linked, what they did on each
counts once — one acknowledgement and one like per post, the latest vote — on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import WebHarness, web  # noqa: F401  (the fixture)

ANNA = "email,name,slack,telegram\nanna@example.org,Anna de Vries,U01ANNA,1001\n"


async def _post(web: WebHarness, call_to_action: dict[str, Any]) -> int:  # noqa: F811
    answer = await web.client.post("/api/posts", json={"title": "Check", "body": "…", "call_to_action": call_to_action})
    assert answer.status_code == 201, answer.text
    await web.app.settle()
    return int(answer.json()["id"])


async def _stats(web: WebHarness, post_id: int) -> dict[str, Any]:  # noqa: F811
    detail = (await web.client.get(f"/api/posts/{post_id}")).json()
    return {"counts": detail["counts"], "votes": detail["votes"], "engaged": detail["engaged"]}


async def _link_anna(web: WebHarness) -> None:  # noqa: F811
    answer = await web.client.post("/api/employees/import", content=ANNA, headers={"content-type": "text/csv"})
    assert answer.status_code == 200 and answer.json()["failed"] == [], answer.text


async def test_ack_on_slack_and_on_telegram_counts_once_when_linked(web: WebHarness) -> None:  # noqa: F811
    post_id = await _post(web, {"kind": "acknowledge"})
    await web.react(post_id, "U01ANNA", "ack", platform="slack")
    await web.react(post_id, "1001", "ack", platform="telegram")
    assert (await _stats(web, post_id))["counts"] == {"ack": 2}  # two unlinked accounts: two people

    await _link_anna(web)
    assert await _stats(web, post_id) == {"counts": {"ack": 1}, "votes": {}, "engaged": 1}

    # Linked now: acknowledging again on either platform is the same person's one acknowledgement.
    assert "already" in (await web.react(post_id, "1001", "ack", platform="telegram"))
    assert (await _stats(web, post_id))["counts"] == {"ack": 1}


async def test_the_latest_vote_wins_across_accounts(web: WebHarness) -> None:  # noqa: F811
    post_id = await _post(web, {"kind": "poll", "options": ["Pizza", "Sushi"]})
    await web.react(post_id, "U01ANNA", "vote:1", platform="slack")
    web.clock.advance(minutes=1)
    await web.react(post_id, "1001", "vote:2", platform="telegram")  # later: this one stands
    await web.react(post_id, "bram", "vote:1")
    assert (await _stats(web, post_id))["votes"] == {"Pizza": 2, "Sushi": 1}

    await _link_anna(web)
    assert await _stats(web, post_id) == {"counts": {"vote": 2}, "votes": {"Pizza": 1, "Sushi": 1}, "engaged": 2}

    web.clock.advance(minutes=1)
    await web.react(post_id, "U01ANNA", "vote:1", platform="slack")  # she changes her mind, on Slack
    assert (await _stats(web, post_id))["votes"] == {"Pizza": 2, "Sushi": 0}


async def test_one_like_per_person_and_removing_it_anywhere_removes_it(web: WebHarness) -> None:  # noqa: F811
    post_id = await _post(web, {"kind": "like"})
    await _link_anna(web)
    await web.react(post_id, "U01ANNA", "like", platform="slack")
    assert "already" in (await web.react(post_id, "1001", "like", platform="telegram"))
    assert (await _stats(web, post_id))["counts"] == {"like": 1}

    csv = (await web.client.get("/api/responses.csv", params={"post_id": post_id})).text
    assert csv.count("\n") == 2  # the header and one like
