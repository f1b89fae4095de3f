"""Developer tools: benchmarks, evaluations and probes; not part of the shipped package."""
