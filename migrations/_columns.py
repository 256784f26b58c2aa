"""Adding a column so that taking the migration back drops only that column.

Tortoise's SQLite editor removes a field by rebuilding the table, and dropping the old table
cascades to every row that references it (a patient's encounters, diagnoses...) and loses the
indexes added since. SQLite drops a column in place since 3.35, PostgreSQL always has.
"""

from typing import Any

from tortoise.migrations import operations as ops
from tortoise.migrations.schema_editor.base import BaseSchemaEditor


class AddColumn(ops.AddField):
    async def database_backward(
        self,
        app_label: str,
        old_state: Any,
        new_state: Any,
        state_editor: BaseSchemaEditor | None = None,
    ) -> None:
        if state_editor is None:
            return
        model = old_state.apps.get_model(f"{app_label}.{self.model_name}")
        column = model._meta.fields_map[self.name].source_field or self.name
        await state_editor.client.execute_script(
            f'ALTER TABLE "{model._meta.db_table}" DROP COLUMN "{column}"'
        )


class FilledColumn(AddColumn):
    """A NOT NULL column without a default, added to a table with rows: created with a
    default, filled by `fill`, and the default dropped again (PostgreSQL; SQLite cannot drop
    one in place, and the ORM always writes the column)."""

    def __init__(self, model_name: str, name: str, field: Any, sql_type: str, fill: str) -> None:
        super().__init__(model_name=model_name, name=name, field=field)
        self.sql_type, self.fill = sql_type, fill

    async def database_forward(
        self,
        app_label: str,
        old_state: Any,
        new_state: Any,
        state_editor: BaseSchemaEditor | None = None,
    ) -> None:
        if state_editor is None:
            return
        model = new_state.apps.get_model(f"{app_label}.{self.model_name}")
        table = model._meta.db_table
        client = state_editor.client
        await client.execute_script(
            f'ALTER TABLE "{table}" ADD COLUMN "{self.name}" {self.sql_type} NOT NULL DEFAULT \'\''
        )
        await client.execute_script(self.fill)
        if client.capabilities.dialect == "postgres":
            await client.execute_script(
                f'ALTER TABLE "{table}" ALTER COLUMN "{self.name}" DROP DEFAULT'
            )
