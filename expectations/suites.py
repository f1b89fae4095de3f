"""GX Core 1.x expectation suites, built from the check catalogue (``checks.yaml``).

One ``gx.ExpectationSuite`` per catalogue suite: ``raw.<entity>`` (validated once per landing
dialect, i.e. per ``raw.<source_id>__<entity>`` table), ``std.<entity>`` and the identity, volume
and diagnosis suites. Each check becomes one expectation on the computed frame that
``pipelines.quality.rules`` derives in DuckDB: column ``ok__<check_id>`` is TRUE when the row
passes, FALSE when it violates, NULL when the rule does not apply. So:

* GX's ``unexpected_count`` = violating rows, ``element_count - missing_count`` = denominator;
* ``mostly = 1 - threshold`` makes GX's success agree with the catalogue threshold;
* the check's description, threshold reason, category and severity travel in ``meta`` and
  ``description`` so they appear in Data Docs.

This module is loaded by ``pipelines.quality.gx_session`` from its file path (``expectations/`` is
project content, not an installed package).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import great_expectations as gx
import great_expectations.expectations as gxe

GX_SEVERITY = {"blocking": "critical", "warning": "warning"}


def expectation_for(check: Any) -> gxe.Expectation:
    """The GX expectation for one catalogue check (a ``pipelines.quality.catalogue.CheckSpec``)."""
    return gxe.ExpectColumnValuesToBeInSet(
        column=check.flag_column,
        value_set=[True],
        mostly=round(1.0 - float(check.threshold), 12),
        severity=GX_SEVERITY[check.severity],
        description=(
            f"[{check.category}] {check.description} (element {check.element}; at most "
            f"{check.threshold:.1%} of applicable rows may violate; {check.severity}). Why: {check.reason}"
        ),
        meta={
            "check_id": check.check_id,
            "category": check.category,
            "element": check.element,
            "rule": check.rule,
            "threshold": check.threshold,
            "severity": check.severity,
            "reason": check.reason,
        },
    )


def build_suite(name: str, checks: Iterable[Any], catalogue_version: int = 1) -> gx.ExpectationSuite:
    """An ExpectationSuite holding one expectation per check of the catalogue suite ``name``."""
    suite = gx.ExpectationSuite(
        name=name, meta={"catalogue": "expectations/checks.yaml", "version": catalogue_version}
    )
    for check in checks:
        suite.add_expectation(expectation_for(check))
    return suite
