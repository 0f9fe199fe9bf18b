"""Schemathesis over every operation, as every role: the OpenAPI document says what the API does.

A fresh app on a database of its own, seeded so that generated requests hit real objects about
half the time. Every response must be declared (status code, content type, body schema) and none
may be a server error. The console generates its client from this document.

Schemathesis' own pytest plugin does not run on this pytest, so each operation is one test that
drives Schemathesis' Hypothesis strategies (valid and invalid requests) for every role.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from backend.main import create_app
from tests.api.openapi_world import ROLES, World, seeded_world

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def no_server_error(ctx: Any, response: Any, case: Case) -> bool | None:
    """``not_a_server_error``, except a 503 the operation documents: a model that is not trained
    yet in this fresh app (``warming_up``) is a state the API reports, not a failure."""
    if response.status_code == 503 and "503" in case.operation.definition.raw["responses"]:
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Examples per operation, role and mode (valid / invalid requests): the pass stays near a minute.
EXAMPLES = 3
DOCUMENT = create_app().openapi()
OPERATIONS = sorted(
    (method.upper(), path) for path, ops in DOCUMENT["paths"].items() for method in ops
)
ERROR, OPENAI_ERROR = "ErrorResponse", "OpenAIErrorBody"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The app, its seeded objects and every role's headers (one database for the module)."""
    with seeded_world(Path(tmp_path_factory.mktemp("openapi"))) as built:
        yield built


@pytest.fixture(scope="module")
def operations(world: World) -> dict[str, Any]:
    """Every operation of the app's document, loaded (and so validated) by Schemathesis."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    found: dict[str, Any] = {}
    for result in schema.get_all_operations():
        if isinstance(result, Ok):
            found[result.ok().label] = result.ok()
        else:  # a schema error: the operation cannot be generated at all
            error = result.err()
            found[f"{(error.method or '').upper()} {error.path}"] = error
    return found


def test_document_lists_every_operation(operations: dict[str, Any]) -> None:
    assert sorted(operations) == sorted(f"{m} {p}" for m, p in OPERATIONS)
    errors = [label for label, op in operations.items() if isinstance(op, Exception)]
    assert not errors, f"schema errors: {errors}"


def test_every_path_parameter_is_declared() -> None:
    # Schemathesis guesses a string for an undeclared one; a client generator cannot.
    undeclared = []
    for path, ops in DOCUMENT["paths"].items():
        for method, op in ops.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            missing = set(re.findall(r"\{(\w+)\}", path)) - declared
            undeclared += [f"{method.upper()} {path}: {name}" for name in sorted(missing)]
    assert not undeclared, undeclared


def test_every_error_uses_the_error_schema() -> None:
    # Every 4xx is the one error body, except OpenAI's own shape on /v1 (its clients read it).
    wrong = []
    for path, ops in DOCUMENT["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                if not status.startswith("4"):
                    continue
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                expected = OPENAI_ERROR if path.startswith("/v1/") else ERROR
                if schema != {"$ref": f"#/components/schemas/{expected}"}:
                    wrong.append(f"{method.upper()} {path} {status}: {schema}")
    assert not wrong, wrong


def _realize(case: Case, world: World) -> None:
    # Generated ids mostly name nothing: use the seeded objects (and the real site key) instead.
    if case.path_parameters:
        case.path_parameters = world.real_path_parameters(case.path, dict(case.path_parameters))
    if isinstance(case.query, dict) and "site_key" in case.query:
        case.query = {**case.query, "site_key": world.site_key}
    if isinstance(case.body, dict) and "site_key" in case.body:
        case.body = {**case.body, "site_key": world.site_key}


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_operation_as_every_role(
    operations: dict[str, Any], world: World, method: str, path: str
) -> None:
    operation = operations[f"{method} {path}"]
    assert not isinstance(operation, Exception), f"schema error: {operation}"
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    for role in ROLES:
        try:
            _exercise(cases, world, role)
        except Exception as exc:
            raise AssertionError(f"as {role}: {exc}") from exc


def _exercise(cases: st.SearchStrategy[Case], world: World, role: str) -> None:
    @given(case=cases, real=st.booleans())
    @settings(
        max_examples=EXAMPLES * 2,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case, real: bool) -> None:
        if real:
            _realize(case, world)
        response = case.call_and_validate(headers=world.headers[role], checks=CHECKS)
        world.seen.setdefault(f"{case.method} {case.path}", {}).setdefault(role, set()).add(
            response.status_code
        )

    run()


def test_the_pass_reached_real_objects(world: World) -> None:
    # Runs last (file order): the seeded objects and every role's credentials really worked.
    if len(world.seen) < len(OPERATIONS):
        pytest.skip("only part of the pass ran")
    succeeded = {
        op
        for op, by_role in world.seen.items()
        if any(s < 300 for s in set().union(*by_role.values()))
    }
    assert len(succeeded) >= len(OPERATIONS) // 2, sorted(set(world.seen) - succeeded)
    for role in ROLES:
        if role != "anonymous":
            assert any(s < 300 for by_role in world.seen.values() for s in by_role.get(role, ())), (
                role
            )
