"""Validate REST responses against the checked-in OpenAPI file."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import yaml
from openapi_schema_validator import OAS30Validator

import mantik_jupyter.server

SPEC_PATH = Path(mantik_jupyter.server.__file__).parent / "openapi.yaml"


@cache
def spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text())


def _validator(schema: dict) -> OAS30Validator:
    # "#/components/..." references resolve against the root, so the components go along.
    return OAS30Validator({**schema, "components": spec()["components"]})


def check(method: str, template: str, status: int, body: bytes) -> None:
    """Assert that a response (by route template, e.g. /runs/{run_id}) matches the spec."""
    operation = spec()["paths"][template][method.lower()]
    responses = operation["responses"]
    assert str(status) in responses, f"{method} {template}: status {status} not in the spec"
    response = responses[str(status)]
    if "$ref" in response:
        response = spec()["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    content = response.get("content", {})
    if "application/json" not in content:
        return
    _validator(content["application/json"]["schema"]).validate(json.loads(body))
