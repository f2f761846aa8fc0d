"""The database splink links on: DuckDB in this process (the default), or Spark through pyspark
when a city outgrows one machine (``CITYBASE_BASELIB__BACKEND=spark``).

Both run the same model: the comparison levels and blocking rules of ``linkage.py`` are written
in SQL that DuckDB and Spark SQL both accept (``levenshtein``, ``length``, ``substr``), except
``damerau_levenshtein``, which Spark gets from the similarity functions (Java UDFs) that ship in
splink's wheel: the jar is read from the installed package and handed to Spark as a local file,
never downloaded. Only the engine differs; the settings, training and outputs do not.

No database of the platform is touched here. pyspark is imported only when Spark is chosen
(the ``spark`` extra), and it needs a Java runtime.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from citybase.core.settings import BaselibSettings


class Engine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


@dataclass(frozen=True)
class Backend:
    """Where splink runs, as the settings say (``BaselibSettings``)."""

    engine: Engine = Engine.duckdb
    spark_master: str = "local[2]"
    spark_checkpoint_dir: str = ""
    spark_partitions: int = 0


DUCKDB = Backend()


class Relation(Protocol):
    """What ``linkage.scored_pairs`` reads from splink's predictions: a DuckDB relation has
    this shape, and Spark's is adapted to it."""

    @property
    def columns(self) -> list[str]: ...

    def select(self, *columns: str) -> Any: ...  # has ``to_arrow_table()``


class Opened(Protocol):
    api: Any  # splink's DuckDBAPI or SparkAPI

    def register(self, name: str, table: Any) -> Any:
        """A pyarrow table of strings as splink's input table called ``name``."""
        ...

    def relation(self, frame: Any) -> Relation:
        """A splink data frame (predictions) as a relation ``scored_pairs`` reads."""
        ...


class _DuckDB:
    def __init__(self) -> None:
        import duckdb
        from splink import DuckDBAPI

        self.con = duckdb.connect()
        self.api = DuckDBAPI(self.con)

    def register(self, name: str, table: Any) -> Any:
        if not name.isidentifier():
            raise ValueError(f"not a table name: {name!r}")
        self.con.register(f"{name}_arrow", table)
        self.con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM "{name}_arrow"')  # noqa: S608 -- a checked identifier, the linkage's own constant
        return self.api.register(name)

    def relation(self, frame: Any) -> Relation:
        relation: Relation = frame.as_duckdbpyrelation()
        return relation

    def close(self) -> None:
        self.con.close()


class _SparkRows:
    """A Spark data frame read as ``scored_pairs`` reads a DuckDB relation."""

    def __init__(self, frame: Any) -> None:
        self.frame = frame

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def select(self, *columns: str) -> _SparkRows:
        return _SparkRows(self.frame.select(*columns))

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self.frame.collect()]

    def to_arrow_table(self) -> Any:
        """The frame as one pyarrow table, as DuckDB's relation gives it (pyspark 4's ``toArrow``)."""
        return self.frame.toArrow()


_spark_lock = threading.Lock()


def spark_session(backend: Backend) -> Any:
    """The process's Spark session for ``backend`` (made once, kept: starting one costs seconds
    to tens of seconds). splink's similarity jar comes from the installed wheel."""
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    with _spark_lock:
        active = SparkSession.getActiveSession()
        if active is not None:
            active.sql(_HAMMING)
            return active
        local = backend.spark_master.startswith("local")
        builder = (
            SparkSession.builder.master(backend.spark_master)
            .appName("citybase-baselib")
            .config("spark.jars", similarity_jar_location())
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
        )
        partitions = backend.spark_partitions or (2 * (os.cpu_count() or 2) if local else 0)
        if partitions:
            builder = builder.config("spark.sql.shuffle.partitions", str(partitions))
        if local:
            builder = builder.config("spark.driver.host", "127.0.0.1")
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        if backend.spark_checkpoint_dir:
            spark.sparkContext.setCheckpointDir(backend.spark_checkpoint_dir)
        spark.sql(_HAMMING)
        return spark


# DuckDB's ``hamming`` for Spark, which has none built in (nor has splink's jar), as a SQL
# function of the session (no Python worker): the positions at which two strings of one length
# differ. The comparisons use it only on ID numbers, whose prepared forms always have 17 or 18
# characters; strings of two lengths have none (DuckDB refuses them).
_HAMMING = """
CREATE OR REPLACE TEMPORARY FUNCTION hamming(a STRING, b STRING) RETURNS INT
RETURN CASE WHEN length(a) = length(b)
  THEN size(filter(sequence(1, length(a)), i -> substr(a, i, 1) != substr(b, i, 1))) END
"""


class _Spark:
    def __init__(self, backend: Backend) -> None:
        from splink import SparkAPI

        self.spark = spark_session(backend)
        self.tables: list[str] = []
        self.api = SparkAPI(  # type: ignore[no-untyped-call]
            spark_session=self.spark,
            # intermediate tables in memory, or as parquet under the checkpoint directory
            # (shared storage on a cluster)
            break_lineage_method="parquet" if backend.spark_checkpoint_dir else "persist",
            num_partitions_on_repartition=backend.spark_partitions or None,
        )

    def register(self, name: str, table: Any) -> Any:
        frame = self.spark.createDataFrame(table)
        frame.createOrReplaceTempView(name)
        self.tables.append(name)
        return self.api.register(name)

    def relation(self, frame: Any) -> Relation:
        return _SparkRows(frame.as_spark_dataframe())

    def close(self) -> None:
        # the session stays for the next run; what this run cached goes
        for name in self.tables:
            self.spark.catalog.dropTempView(name)
        self.spark.catalog.clearCache()


@contextmanager
def opened(backend: Backend | None = None) -> Iterator[Opened]:
    """splink's database API on ``backend`` (DuckDB when none), closed after the run."""
    engine: _DuckDB | _Spark = (
        _Spark(backend) if backend is not None and backend.engine is Engine.spark else _DuckDB()
    )
    try:
        yield engine
    finally:
        engine.close()


def portable(kept: dict[str, Any], dialect: str = "duckdb") -> dict[str, Any]:
    """A trained model's settings stated in ``dialect`` (incremental linking scores on DuckDB).
    The model's SQL is the same in both dialects: only splink's labels of it change."""
    out = dict(kept)
    out["sql_dialect"] = dialect
    out["blocking_rules_to_generate_predictions"] = [
        {**rule, "sql_dialect": dialect} if isinstance(rule, dict) else rule
        for rule in kept.get("blocking_rules_to_generate_predictions", [])
    ]
    return out


def spark_available() -> str:
    """Why Spark cannot run here ("" when it can): pyspark missing or no Java runtime."""
    import importlib.util
    import shutil

    if importlib.util.find_spec("pyspark") is None:
        return "pyspark is not installed (the spark extra)"
    java_home = os.environ.get("JAVA_HOME")
    if not shutil.which("java") and not (java_home and os.path.exists(java_home)):
        return "no Java runtime (java on PATH or JAVA_HOME)"
    return ""


def from_settings(settings: BaselibSettings) -> Backend:
    return Backend(
        engine=Engine(settings.backend),
        spark_master=settings.spark_master,
        spark_checkpoint_dir=settings.spark_checkpoint_dir,
        spark_partitions=settings.spark_partitions,
    )
