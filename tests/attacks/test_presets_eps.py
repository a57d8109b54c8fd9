"""eps parsing shared by the CLI, sweeps and the analysis protocol."""

from __future__ import annotations

import pytest

from alignjax.attacks.presets import parse_eps


@pytest.mark.parametrize("text, value", [("8/255", 8 / 255), ("0.5/255", 0.5 / 255), ("0.031", 0.031), ("1e-3", 1e-3)])
def test_numbers_and_fractions(text, value):
    assert parse_eps(text) == pytest.approx(value, rel=1e-15)


@pytest.mark.parametrize("text", ["0", "-1/255", "1/0", "abc", "nan", "inf", "1/2/3"])
def test_bad_eps_is_refused_with_the_forms_it_takes(text):
    with pytest.raises(ValueError, match="eps must"):
        parse_eps(text)
