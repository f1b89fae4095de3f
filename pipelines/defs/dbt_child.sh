#!/bin/sh
# The dbt executable the pipeline gives dagster-dbt: dbt in its own process group, killed with the
# run (pipelines/defs/dbt_child.py). RW_PYTHON is the pipeline's interpreter (set by warehouse.py).
exec "${RW_PYTHON:-python3}" -m pipelines.defs.dbt_child "$@"
