"""Brain-Score's logistic readout against sklearn (StandardScaler + multinomial LogisticRegression, C=1e-3,
newton-cg) on the same generated features."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from alignjax.alignment.behavioral import readout


def test_readout_matches_sklearn(rng):
    n, d, k = 360, 40, 8
    centers = rng.normal(size=(k, d))
    targets = rng.integers(0, k, n)
    names = np.array([f"object{i}" for i in range(k)])[targets]
    features = centers[targets] + 2.0 * rng.normal(size=(n, d))
    features[:, 5] = 3.0  # a constant feature: StandardScaler leaves it unscaled
    fitted = readout.fit_logistic_readout(features, names.tolist())
    assert fitted.labels == tuple(dict.fromkeys(names.tolist()))  # first-appearance order, as Brain-Score
    scaler = StandardScaler().fit(features)
    np.testing.assert_allclose(fitted.scale, scaler.scale_, rtol=1e-12)
    reference = LogisticRegression(solver="newton-cg", C=1e-3, tol=1e-10, max_iter=10_000)
    reference.fit(scaler.transform(features), names)
    test = centers[rng.integers(0, k, 50)] + 2.0 * rng.normal(size=(50, d))
    expected = reference.predict_proba(scaler.transform(test))[
        :, [list(reference.classes_).index(c) for c in fitted.labels]
    ]
    np.testing.assert_allclose(fitted.predict_proba(test), expected, atol=1e-7)
    with pytest.raises(ValueError, match="at least two classes"):
        readout.fit_logistic_readout(features[:3], ["a", "a", "a"])
    with pytest.raises(ValueError, match="NaN or inf"):
        readout.fit_logistic_readout(np.full((4, 2), np.nan), ["a", "b", "a", "b"])
