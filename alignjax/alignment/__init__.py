"""Alignment benchmarks: how closely a model matches primate vision (neural/: V1, V2, V4, IT predictivity; behavioral/)."""
