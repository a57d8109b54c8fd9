"""Argument types shared by the subcommands: each refuses a bad value with a message that says why."""

from __future__ import annotations

import argparse
import json
import math

MAX_SEED = 2**32 - 1  # jax.random.key keeps 32 bits of an int seed: 2**32 would silently equal 0


def positive_int(text: str) -> int:
    """An integer >= 1 ('0', '-1', '2.5' and '1e23' are refused)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def seed(text: str) -> int:
    """An integer seed in [0, 2**32 - 1]; larger ones would collide with smaller ones inside jax."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 0 to {MAX_SEED}, got {text!r}") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(
            f"must be from 0 to {MAX_SEED} (jax keeps 32 bits of a seed), got {value}")
    return value


def non_negative_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds (a number >= 0), got {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text!r}")
    return value


def parse_input_shape(text: str) -> tuple[int, int, int]:
    """'32,32,3' -> (32, 32, 3): height, width, channels, each >= 1."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 1:
        raise argparse.ArgumentTypeError(
            f"expected HEIGHT,WIDTH,CHANNELS of positive whole numbers like 32,32,3, got {text!r}")
    return values  # type: ignore[return-value]


def parse_arch_option(text: str) -> tuple[str, object]:
    """'name=JSON' -> (name, value), e.g. 'mean=[0.5,0.5,0.5]' or 'pre_activation=true'."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (VALUE in JSON), got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # a bare word: a string option such as a variant name
    return name.strip(), value
