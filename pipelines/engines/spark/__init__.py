"""The Spark engine: Parquet lake, Spark sessions, dbt-spark, and the way back into DuckDB."""
