"""Alignment benchmarks: how closely a model matches primate vision (neural/, behavioral/)."""
