"""Athena: a partitioned table is read from the partitions registered in the Glue Data Catalog.

Gap closed (`RegisteredPartitions`), pinned in `tests/contract/emulator/test_athena_partitions.py`:
the emulator (running a query on DuckDB when DuckDB is installed) read every file under the table's
`Location` and took partition values only from `key=value` folder names. Athena reads a Hive table's
registered partitions, each from its own `StorageDescriptor.Location` with the values the catalog holds
for it (Athena user guide, "Partition your data": partitions not in Hive's `key=value` layout are added
with `ALTER TABLE ADD PARTITION ... LOCATION` or the Glue API, and "Athena reads only the partitions
in the catalog"; the data in the table's location outside them is not read). Each partition reads the
table's format; a table with partition keys but no partition has no rows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local.emulator.seam import replace, require, service


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class RegisteredPartitions:
    """Athena's relation of a partitioned Glue table: the union of its registered partitions (module doc)."""

    def __init__(self) -> None:
        # The query's list of work directories, which the emulator removes after the query; one query at a
        # time builds its relations (no await between materializing a table's files and building its relation).
        self._workdirs: list[str] | None = None
        self._read: Callable[[dict[str, Any], list[str]], str] | None = None
        self._empty: Callable[[dict[str, Any]], str] | None = None

    def install(self) -> None:
        athena = service("athena")
        require(athena, "_rewrite_data_paths")
        require(athena, "_duckdb_type")
        replace(athena, "_materialize_table_files", self._remember_workdirs)
        replace(athena, "_table_relation", self._partitioned_relation)
        replace(athena, "_empty_relation", self._partitioned_empty)

    def _remember_workdirs(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def materialize(location: str, workdirs: list[str]) -> Any:
            self._workdirs = workdirs
            return original(location, workdirs)

        return materialize

    def _partitioned_relation(self, original: Callable[..., Any]) -> Callable[..., Any]:
        self._read = original

        def relation(table: dict[str, Any], files: list[str]) -> Any:
            return self.relation(table) or original(table, files)

        return relation

    def _partitioned_empty(self, original: Callable[..., Any]) -> Callable[..., Any]:
        self._empty = original

        def empty(table: dict[str, Any]) -> Any:
            return self.relation(table) or original(table)

        return empty

    def relation(self, table: dict[str, Any]) -> str | None:
        """The union of the table's partitions, each read from its own location with its own storage
        descriptor and the values the catalog holds for it; None for a table without partition keys, or
        when the query's work directories are unknown (the emulator's own reading applies)."""
        keys = table.get("PartitionKeys") or []
        if not keys or self._workdirs is None or self._read is None or self._empty is None:
            return None
        athena, glue = service("athena"), service("glue")
        # Every column of the table, typed, even when no partition has it (a query may name it).
        selects = [f"SELECT * FROM {self._empty(table)}"]  # identifiers quoted (_quoted, _literal)  # nosec B608
        for partition in glue._partitions.get(f"{table.get('DatabaseName')}/{table.get('Name')}", []):
            storage = {**(table.get("StorageDescriptor") or {}), **(partition.get("StorageDescriptor") or {})}
            files = athena._materialize_table_files(storage.get("Location") or "", self._workdirs)
            if not files:
                continue
            values = [
                f"CAST({_literal(str(value))} AS {athena._duckdb_type(key)}) AS {_quoted(str(key.get('Name', '')))}"
                for key, value in zip(keys, partition.get("Values") or [], strict=False)
            ]
            own = [_quoted(str(column.get("Name", ""))) for column in storage.get("Columns") or []]
            # Read as a table of the partition's own format and columns; the keys' values come from the catalog.
            source = self._read({**table, "StorageDescriptor": storage, "PartitionKeys": []}, files)
            columns = ", ".join([*own, *values]) if own else "*, " + ", ".join(values)
            selects.append(f"SELECT {columns} FROM {source}")  # identifiers quoted  # nosec B608
        return "(" + " UNION ALL BY NAME ".join(selects) + ")"
