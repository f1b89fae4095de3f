"""referral-warehouse: the 分级诊疗 / 双向转诊 data platform.

Sub-packages, in the order data flows through them:

- ``generate``    synthetic region and its messy HIS exports (plus the truth)
- ``ingest``      reading export files (csv/xlsx/jsonl, any encoding) and landing them raw in DuckDB
- ``standardize`` normalizing every value to the data-element standard (``standard/``)
- ``quality``     Great Expectations suites (``expectations/``) run as Dagster asset checks
- ``publish``     atomic, read-only snapshot that the dashboards read
- ``defs``        Dagster definitions (assets, sensors, schedules, checks)
"""
