"""Contracts: the one home of what every part of the platform agrees on, loaded once.

- :mod:`pipelines.contracts.standard`    the data-element standard (``standard/``): elements, derived
  elements, value domains, reason codes, entity keys (``default_standard()``, ``standard_at(dir)``).
- :mod:`pipelines.contracts.bindings`    source bindings: which raw column carries which element
  (``bindings_for``), used by the standardizer and the raw-landing quality checks.
- :mod:`pipelines.contracts.resident_id` GB 11643 check character (weights declared once).
- :mod:`pipelines.contracts.sql`         quoting identifiers and literals into SQL.

The PII declaration is the standard's ``pii_class`` column, read through
``pipelines.privacy.personal_data()``; the rule catalogue of the quality checks is
``expectations/checks.yaml`` (``pipelines.quality.catalogue.load_catalogue()``), whose entity keys
come from the standard. Sub-modules are imported by name; this package imports nothing itself.
"""
