"""Alignment benchmarks: ``neural`` (Brain-Score neural predictivity, V1/V2/V4/IT)."""
