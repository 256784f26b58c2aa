"""The schema, the models, the migrations and the docs agree with each other."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector

import models
from api.db import tortoise_config
from api.docs import TABLES, policy_document, stale
from models.base import PublicModel, SealedField, SecretField
from permissions.decisions import FieldPlan, PolicyError
from permissions.roles import Category, Role
from schema.build import build_schema
from schema.inventory import phi_fields

ROOT = Path(__file__).resolve().parent.parent


def sealed_columns() -> set[tuple[str, str]]:
    found = set()
    for name in models.__all__:
        model = getattr(models, name)
        if isinstance(model, type) and issubclass(model, PublicModel):
            for field_name, field in model._meta.fields_map.items():
                if isinstance(field, SealedField) and not isinstance(field, SecretField):
                    found.add((model.__name__, field_name))
    return found


def test_every_sealed_column_is_exposed_only_through_phi() -> None:
    """A new sealed column without a @phi field (or a @phi field reading a plain column) fails."""
    guarded = {(f.type_name, f.column) for f in phi_fields(build_schema())}
    assert guarded == sealed_columns()


def test_plain_fields_never_resolve_sealed_values() -> None:
    schema = build_schema()
    guarded = {(f.type_name, f.field_name) for f in phi_fields(schema)}
    for type_name, column in sealed_columns():
        definition = schema.get_type_by_name(type_name)
        graphql_names = {
            schema.config.name_converter.get_graphql_name(f): f
            for f in definition.fields  # type: ignore[union-attr]
        }
        for graphql_name, field in graphql_names.items():
            if field.python_name == column:
                assert (type_name, graphql_name) in guarded


def test_sdl_prints_the_directive_on_every_phi_field() -> None:
    schema = build_schema()
    sdl = schema.as_str()
    assert (
        "directive @phi(category: PhiCategory!, allow: [Role!], mask: [Role!], write: [Role!]) "
        "on FIELD_DEFINITION" in sdl
    )
    for field in phi_fields(schema):
        block = re.search(rf"type {field.type_name} [^{{]*\{{(.*?)\n\}}", sdl, re.S)
        assert block is not None
        assert re.search(
            rf"\b{field.field_name}: \w+ @phi\(category: {field.category.value}\b", block.group(1)
        ), f"{field.type_name}.{field.field_name}"
    assert "birthDate: PartialDate @phi(category: DATE, mask: [NURSE])" in sdl
    assert "recordedDate: PartialDate @phi(category: DATE, write: [PHYSICIAN])" in sdl


def test_write_decisions_are_the_write_column_unless_a_field_names_its_writers() -> None:
    plans = build_schema().plans
    assert plans["Patient.phone"].writes is not None
    assert {r for r, d in plans["Patient.phone"].writes.items() if d.value == "ALLOW"} == {
        Role.FRONT_DESK,
        Role.PATIENT,
    }
    recorded = plans["Diagnosis.recordedDate"].writes
    assert recorded is not None
    assert {r for r, d in recorded.items() if d.value == "ALLOW"} == {Role.PHYSICIAN}
    # An earlier version of a field is read like the field and written by nobody.
    assert plans["PatientRevision.ssn"].writes is None
    assert plans["PatientRevision.ssn"].decisions == plans["Patient.ssn"].decisions


def test_the_docs_generated_tables_match_the_policy() -> None:
    assert stale(ROOT / "docs") == [], "run: phigate docs"
    placed = "".join(path.read_text() for path in (ROOT / "docs").glob("*.md"))
    for name in TABLES:
        assert f"<!-- {name}:start -->" in placed, name
    assert policy_document() in (ROOT / "docs" / "policy.md").read_text()


def test_mask_on_a_category_without_a_mask_is_refused_at_build() -> None:
    with pytest.raises(PolicyError):
        FieldPlan.compile(Category.NOTE, mask=(Role.NURSE,))


async def test_migrations_match_the_models() -> None:
    config = tortoise_config("sqlite://:memory:")
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        detector = MigrationAutodetector(ctx.apps, config["apps"])
        changes = await detector.changes()
    assert changes == [], "run: tortoise -c api.db.TORTOISE_ORM makemigrations"
