"""The synthetic region generator: a city's HIS exports in several dialects, with dirt, and the
ground truth to measure the pipeline against. See docs/generator.md."""

from pipelines.generate.core import generate, generate_day

__all__ = ["generate", "generate_day"]
