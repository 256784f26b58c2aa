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
