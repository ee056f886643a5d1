"""Migration operations the apps share."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def _change_index(schema_editor: Any, model: Any, index: Any, *, add: bool) -> None:
    """Add or drop an index, CONCURRENTLY where the database can (PostgreSQL): writes go on
    meanwhile, and the migration that does it sets `atomic = False`."""
    change = schema_editor.add_index if add else schema_editor.remove_index
    if schema_editor.connection.vendor == "postgresql":
        change(model, index, concurrently=True)
    else:
        change(model, index)


class AddIndexConcurrentlyOnPostgreSQL(migrations.AddIndex):
    """AddIndex, built without blocking writes where the database can."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            _change_index(schema_editor, model, self.index, add=True)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            _change_index(schema_editor, model, self.index, add=False)


class RemoveIndexConcurrentlyOnPostgreSQL(migrations.RemoveIndex):
    """RemoveIndex, dropped without blocking reads and writes where the database can."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = from_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = from_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            _change_index(schema_editor, model, index, add=False)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            index = to_state.models[app_label, self.model_name_lower].get_index_by_name(self.name)
            _change_index(schema_editor, model, index, add=True)
