"""Schemathesis against the live admin API (uvicorn on loopback): whatever it sends, valid or not,
the API never answers with a 5xx, and answers only as its schema says.

Driven through schemathesis' Python API and hypothesis directly: its lazy pytest fixture loader does
not run on pytest 9 (it reads a private attribute pytest no longer has).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from bot.app import App
from bot.services.drafts import CallToAction, PostDraft
from bot.services.roles import Role
from content.models import CtaKind, PostKind
from tests.web.conftest import AUTH, LiveServer

EXAMPLES = 60
# Never a 5xx, and every answer is one the schema documents, in the documented shape. (Not checked:
# that every schema-valid body is accepted: cross-field rules such as "a poll needs 2–10 options"
# and "no NUL characters" are enforced, with a 422, beyond what the schema states.)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


async def _seed(app: App) -> None:
    """Rows for reads and actions to meet: ids 1–3 exist (a poll, a link, a pending kb article)."""
    await app.publishing.create(
        PostDraft(title="Lunch", cta=CallToAction(CtaKind.POLL, ("Pizza", "Sushi"))), "test", Role.ADMIN
    )
    await app.publishing.create(
        PostDraft(title="Lees", cta=CallToAction(CtaKind.LINK, url="https://example.org/x")), "test", Role.ADMIN
    )
    await app.publishing.create(PostDraft(title="Wifi", body="wachtwoord", kind=PostKind.KB), "test", Role.ADMIN)


def test_the_api_never_answers_5xx(live_server_each: LiveServer) -> None:
    live_server_each.call(_seed)
    schema = schemathesis.openapi.from_url(f"{live_server_each.url}/api/openapi.json")
    tried: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,  # the same cases every run: a failure here is reproducible
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=AUTH, checks=CHECKS)

            run()
        tried.append(operation.label)
    assert len(tried) == 20, tried  # every operation of the schema was exercised (PATCH /api/posts/{id} too)
