"""The ``referral-warehouse`` command. Each area registers its own subcommand.

Heavy imports (dagster, dbt, GX, pandas) happen inside the handlers so that ``--help`` is instant.
This is where the command's configuration is resolved, once: ``args.settings`` (pipelines/settings.py)
from ``--data-dir`` / ``--sources-dir`` / ``--engine`` and the environment; handlers use it and
nothing below reads the environment.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# (module, registering function): each module defines ``register(subparsers)``.
SUBCOMMANDS = [
    "pipelines.generate.cli",
    "pipelines.ingest.cli",
    "pipelines.onboarding.cli",  # sources validate | check | draft
    "pipelines.standardize.cli",
    "pipelines.defs.cli",  # run
    "pipelines.publish.cli",  # indicators
    "pipelines.quality.cli",
    "pipelines.users",  # users add|remove|list|audit (dashboard login)
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="referral-warehouse",
        description=(
            "分级诊疗/双向转诊 data platform. Generate a sample region, land HIS exports, standardize them "
            "to the data-element standard, build and check the DuckDB warehouse, and print indicators. "
            "Defaults live under ./data; every path can be overridden."
        ),
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module_name in SUBCOMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # an area not built yet
            if exc.name == module_name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pipelines.settings import PRIVATE_UMASK, Settings

    os.umask(PRIVATE_UMASK)  # every file the command creates is owner-only (0600 / 0700)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.settings = Settings.from_environ(
        os.environ,
        data_dir=getattr(args, "data_dir", None),
        sources_dir=getattr(args, "sources_dir", None),
        engine=getattr(args, "engine", None),
    )
    result = args.handler(args)
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
