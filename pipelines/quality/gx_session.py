"""One GX Core 1.x ephemeral context per process: pandas batches, cached suites, Data Docs.

GX's SQL datasource fails on DuckDB (MetricResolutionError, GX issues #10738/#11579), so GX sees
pandas frames pulled from DuckDB: the computed check frame (boolean columns only), capped to a
deterministic sample so GX's run time stays in seconds at city scale. The exact counts come from
DuckDB (see ``rules.py``); GX's counts are recorded next to them.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from pipelines.quality.catalogue import CheckSpec
from pipelines.settings import EXPECTATIONS_DIR

_LOCK = threading.Lock()
_SESSION: GxSession | None = None


def load_suites_module() -> ModuleType:
    """``expectations/suites.py``, imported from its path."""
    path = EXPECTATIONS_DIR / "suites.py"
    spec = importlib.util.spec_from_file_location("referral_warehouse_expectations_suites", path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class GxOutcome:
    evaluated_rows: int  # rows where the rule applied, in the frame GX saw
    unexpected_rows: int
    success: bool


class GxSession:
    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        logging.getLogger("great_expectations").setLevel(logging.WARNING)
        self.gx = gx
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.datasource = self.context.data_sources.add_pandas("warehouse_frames")
        self.suites_module = load_suites_module()
        self._suites: dict[str, Any] = {}
        self._validations: dict[tuple[str, str], Any] = {}
        self._sites: dict[str, str] = {}
        self.validations_run = 0

    def _suite(self, name: str, checks: list[CheckSpec]) -> Any:
        ids = tuple(c.check_id for c in checks)
        key = f"{name}|{hash(ids)}"
        if key not in self._suites:
            suite = self.suites_module.build_suite(name, checks)
            existing = [s for s in self.context.suites.all() if s.name == name]
            for s in existing:
                self.context.suites.delete(s.name)
            self._suites = {k: v for k, v in self._suites.items() if not k.startswith(f"{name}|")}
            self._suites[key] = self.context.suites.add(suite)
            self._validations = {k: v for k, v in self._validations.items() if k[0] != name}
        return self._suites[key]

    def _validation(self, suite_name: str, table: str, checks: list[CheckSpec]) -> Any:
        suite = self._suite(suite_name, checks)
        key = (suite_name, table)
        if key not in self._validations:
            asset_name = table
            try:
                asset = self.datasource.get_asset(asset_name)
            except LookupError:
                asset = self.datasource.add_dataframe_asset(asset_name)
            names = [b.name for b in asset.batch_definitions]
            batch = (
                asset.get_batch_definition("frame")
                if "frame" in names
                else asset.add_batch_definition_whole_dataframe("frame")
            )
            vd_name = f"{suite_name} @ {table}"
            for old in [v for v in self.context.validation_definitions.all() if v.name == vd_name]:
                self.context.validation_definitions.delete(old.name)
            vd = self.gx.ValidationDefinition(name=vd_name, data=batch, suite=suite)
            self._validations[key] = self.context.validation_definitions.add(vd)
        return self._validations[key]

    def validate(
        self, suite_name: str, table: str, checks: list[CheckSpec], frame: pd.DataFrame, run_id: str
    ) -> dict[str, GxOutcome]:
        """Validate ``frame`` (one ``ok__`` column per check) with the suite; outcome per check_id."""
        from great_expectations.core.run_identifier import RunIdentifier

        vd = self._validation(suite_name, table, checks)
        result = vd.run(
            batch_parameters={"dataframe": frame},
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 0},
            run_id=RunIdentifier(run_name=run_id),
        )
        self.validations_run += 1
        out: dict[str, GxOutcome] = {}
        for r in result.results:
            meta = r.expectation_config.meta or {}
            res = r.result or {}
            element = int(res.get("element_count") or 0)
            missing = int(res.get("missing_count") or 0)
            out[str(meta.get("check_id"))] = GxOutcome(
                evaluated_rows=element - missing,
                unexpected_rows=int(res.get("unexpected_count") or 0),
                success=bool(r.success),
            )
        return out

    def build_data_docs(self, out_dir: Path) -> Path:
        out_dir = Path(out_dir).resolve()
        out_dir.mkdir(parents=True, exist_ok=True)
        site = self._sites.get(str(out_dir))
        if site is None:
            site = f"quality_site_{len(self._sites) + 1}"
            self.context.add_data_docs_site(
                site_name=site,
                site_config={
                    "class_name": "SiteBuilder",
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(out_dir),
                    },
                },
            )
            self._sites[str(out_dir)] = site
        self.context.build_data_docs(site_names=[site])
        return out_dir / "index.html"


def session() -> GxSession:
    """The process-wide GX session (context creation is slow: one per process)."""
    global _SESSION
    with _LOCK:
        if _SESSION is None:
            _SESSION = GxSession()
        return _SESSION


def has_session() -> bool:
    return _SESSION is not None
