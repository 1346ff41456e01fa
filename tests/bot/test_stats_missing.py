"""``stats ID missing``: a moderator asks, privately, who a must-read reached and has not acknowledged."""

from __future__ import annotations

from content.models import Employee
from content.people import find_identity
from tests.conftest import ConsoleApp


async def _department(console_app: ConsoleApp, user: str, department: str) -> None:
    async with console_app.app.store.transaction() as session:
        identity = await find_identity(session, "console", user)
        assert identity is not None
        employee = await session.get(Employee, identity.employee_id)
        assert employee is not None
        employee.department = department


async def test_a_moderator_hears_who_has_not_acknowledged(console_app: ConsoleApp) -> None:
    # Speaking in the channel makes each of them a member of it, from before the post too.
    await console_app.say("anna: /mine", "bram: /mine", "carla: /mine")
    await console_app.say("mod: /post Verlof | Lees dit. | cta: acknowledge")
    await console_app.app.settle()
    await _department(console_app, "bram", "Sales")
    await console_app.say("anna: /ack 1")
    await console_app.app.settle()

    await console_app.say("mod: /stats 1 missing")
    await console_app.app.answer_tasks.idle(10)

    answer = console_app.replies_to("mod")[-1]
    lines = answer.splitlines()
    assert lines[0] == "#1 “Verlof”: 3 of the 4 people known to be reached have not acknowledged:"
    assert lines[1:] == [
        "- bram · Sales · console",
        "- carla · no department · console",
        "- mod · no department · console",
    ]

    await console_app.say("mod: /stats 1")
    await console_app.app.answer_tasks.idle(10)
    assert "reached 4" in console_app.replies_to("mod")[-1]


async def test_missing_needs_the_role_and_something_to_miss(console_app: ConsoleApp) -> None:
    await console_app.say("mod: /post Koffie | Er is taart. | cta: like")
    await console_app.app.settle()
    await console_app.say("mod: /stats 1 missing", "anna: /stats 1 missing", "mod: /stats 1 everyone")
    await console_app.app.answer_tasks.idle(10)
    [nothing, wrong] = console_app.replies_to("mod")[-2:]
    assert "asks for no acknowledgement, answer or vote" in nothing
    assert "stats #ID [missing]" in wrong
    assert "moderator" in console_app.replies_to("anna")[-1]
