"""The check catalogue (``expectations/checks.yaml``) loaded into typed specs.

The catalogue is data: check ids, categories, thresholds and the reason for each threshold live in
YAML; this module only validates and indexes it.
"""

from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipelines.contracts.standard import default_standard
from pipelines.settings import EXPECTATIONS_DIR

CATALOGUE_PATH = EXPECTATIONS_DIR / "checks.yaml"
CATEGORIES = ("conformance", "completeness", "plausibility")
SEVERITIES = ("blocking", "warning")
STAGES = ("raw", "std")
RELATIONS = ("raw_entity", "std_entity", "std_identity", "daily_volume", "std_diagnoses", "landed_files")
RULES = ("present", "id_checksum", "id_sex_parity", "id_birth_date", "not_future", "ordered", "in_reference",
         "mapped", "volume_band", "quarantined", "file_quarantine_share")  # fmt: skip


class CatalogueError(ValueError):
    """The check catalogue is not usable; the message names the entry."""


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    stage: str  # raw | std
    entity: str
    relation: str
    table: str  # "std.visits" or a template "raw.{source_id}__visits"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckSpec:
    check_id: str
    suite: str
    table: str
    stage: str
    entity: str
    category: str
    element: str
    rule: str
    description: str
    threshold: float
    severity: str
    reason: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def flag_column(self) -> str:
        """Column of the computed frame: TRUE = row passes, FALSE = violates, NULL = not applicable."""
        return f"ok__{self.check_id}"


@dataclass(frozen=True)
class Catalogue:
    version: int
    entities: dict[str, dict[str, str]]
    marts: dict[str, list[str]]
    resident_id_type_values: tuple[str, ...]
    suites: dict[str, SuiteSpec]
    checks: tuple[CheckSpec, ...]
    path: Path | None = None

    def check(self, check_id: str) -> CheckSpec:
        for c in self.checks:
            if c.check_id == check_id:
                return c
        raise KeyError(f"unknown check {check_id!r}")

    def checks_in_suite(self, suite: str) -> list[CheckSpec]:
        return [c for c in self.checks if c.suite == suite]


def parse_catalogue(data: dict[str, Any], path: Path | None = None) -> Catalogue:
    where = str(path or "<catalogue>")
    # the exported entities' record id and institution element come from the standard
    # (standard/entity_keys.csv); the catalogue declares only its own relations (raw.files)
    entities = {
        k.entity: {"key": k.record_id, "institution": k.institution_element}
        for k in default_standard().entity_keys
    }
    entities |= {
        str(k): {str(a): str(b) for a, b in v.items()} for k, v in (data.get("entities") or {}).items()
    }
    suites: dict[str, SuiteSpec] = {}
    for name, s in (data.get("suites") or {}).items():
        spec = SuiteSpec(
            name=str(name),
            stage=str(s["stage"]),
            entity=str(s["entity"]),
            relation=str(s["relation"]),
            table=str(s["table"]),
            params=dict(s.get("params") or {}),
        )
        if spec.stage not in STAGES:
            raise CatalogueError(f"{where}: suite {name}: stage {spec.stage!r} not in {STAGES}")
        if spec.relation not in RELATIONS:
            raise CatalogueError(f"{where}: suite {name}: relation {spec.relation!r} not in {RELATIONS}")
        if spec.entity not in entities:
            raise CatalogueError(f"{where}: suite {name}: entity {spec.entity!r} not declared in 'entities'")
        suites[spec.name] = spec
    checks: list[CheckSpec] = []
    seen: set[str] = set()
    for i, c in enumerate(data.get("checks") or []):
        cid = str(c.get("check_id", f"#{i}"))
        try:
            suite = suites[str(c["suite"])]
            spec = CheckSpec(
                check_id=cid,
                suite=suite.name,
                table=suite.table,
                stage=suite.stage,
                entity=suite.entity,
                category=str(c["category"]),
                element=str(c["element"]),
                rule=str(c["rule"]),
                description=str(c["description"]),
                threshold=float(c["threshold"]),
                severity=str(c["severity"]),
                reason=" ".join(str(c["reason"]).split()),
                params=dict(c.get("params") or {}),
            )
        except KeyError as exc:
            raise CatalogueError(f"{where}: check {cid}: missing or unknown {exc.args[0]!r}") from None
        if cid in seen:
            raise CatalogueError(f"{where}: check {cid} defined twice")
        if not cid.replace("_", "").isalnum() or not cid.isascii():
            raise CatalogueError(f"{where}: check {cid}: ids are ASCII letters, digits and '_'")
        if spec.category not in CATEGORIES:
            raise CatalogueError(f"{where}: check {cid}: category {spec.category!r} not in {CATEGORIES}")
        if spec.severity not in SEVERITIES:
            raise CatalogueError(f"{where}: check {cid}: severity {spec.severity!r} not in {SEVERITIES}")
        if spec.rule not in RULES:
            raise CatalogueError(f"{where}: check {cid}: rule {spec.rule!r} not in {RULES}")
        if not 0.0 <= spec.threshold <= 1.0:
            raise CatalogueError(f"{where}: check {cid}: threshold must be a rate in [0, 1]")
        if not spec.reason:
            raise CatalogueError(f"{where}: check {cid}: every threshold needs a reason")
        seen.add(cid)
        checks.append(spec)
    return Catalogue(
        version=int(data.get("version", 1)),
        entities=entities,
        marts={str(k): [str(e) for e in (v or [])] for k, v in (data.get("marts") or {}).items()},
        resident_id_type_values=tuple(str(v) for v in data.get("resident_id_type_values") or ()),
        suites=suites,
        checks=tuple(checks),
        path=path,
    )


@functools.cache
def _load_cached(path: str) -> Catalogue:
    p = Path(path)
    with p.open(encoding="utf-8") as fh:
        return parse_catalogue(yaml.safe_load(fh) or {}, p)


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """The catalogue at ``path`` (default ``expectations/checks.yaml``), parsed once per process."""
    return _load_cached(str(Path(path or CATALOGUE_PATH).resolve()))


def table_matches(template: str, table: str) -> bool:
    """``raw.{source_id}__visits`` matches ``raw.his_b__visits``; plain names match themselves."""
    return fnmatch.fnmatchcase(table, template.replace("{source_id}", "*"))


def checks_for_table(table: str) -> list[CheckSpec]:
    """Every check that runs against ``table`` (e.g. ``std.visits`` or ``raw.his_b__visits``).

    Lets the Dagster definitions declare one AssetCheckSpec per check ahead of a run.
    """
    return [c for c in load_catalogue().checks if table_matches(c.table, table)]


def all_checks() -> list[CheckSpec]:
    """Every check of the catalogue, in catalogue order."""
    return list(load_catalogue().checks)
