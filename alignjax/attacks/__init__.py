"""AutoAttack in JAX: APGD, FAB, Square and the cascade (fra31/auto-attack@a392200)."""
