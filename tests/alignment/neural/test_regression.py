"""PLS, ridge and least squares in kernel form predict what scikit-learn predicts on the same splits."""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.cross_decomposition import PLSRegression
from sklearn.linear_model import LinearRegression, Ridge

from alignjax.alignment.neural.gram import gram_matrix, precision, recentre
from alignjax.alignment.neural.pls import PLSConfig, pls_fit_predict
from alignjax.alignment.neural.regression import LinearConfig, RidgeConfig, check_feature_count, fit_predict
from alignjax.alignment.neural.splits import SplitConfig, brainscore_splits


def low_rank_data(n, p, q, rank=8, offset=2.0, seed=0):
    """Features with a shared low-rank part (like activations) and responses driven by it."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, rank))
    features = latent @ rng.normal(size=(rank, p)) + 0.5 * rng.normal(size=(n, p)) + offset
    responses = latent @ rng.normal(size=(rank, q)) + rng.normal(size=(n, q)) + 3.0
    return features.astype(np.float32), responses


def ours(config, features, responses, train, test, dtype="float64"):
    with precision(dtype) as jdtype:
        gram = gram_matrix(features, dtype=dtype)
        train_gram, cross_gram = recentre(gram, jnp.asarray(train), jnp.asarray(test))
        return np.asarray(fit_predict(config, train_gram, cross_gram, jnp.asarray(responses[train], jdtype))[0])


@pytest.fixture(scope="module")
def data():
    features, responses = low_rank_data(150, 400, 12)
    labels = np.repeat(np.arange(10), 15)
    return features, responses, brainscore_splits(150, labels, SplitConfig(n_splits=3))


def test_pls_predictions_equal_sklearn_on_brainscore_splits(data):
    features, responses, splits = data
    for train, test in splits:
        reference = PLSRegression(n_components=25, scale=False).fit(features[train], responses[train])
        expected = reference.predict(features[test])
        with precision("float64") as jdtype:
            gram = gram_matrix(features)
            train_gram, cross_gram = recentre(gram, jnp.asarray(train), jnp.asarray(test))
            fit = pls_fit_predict(train_gram, cross_gram, jnp.asarray(responses[train], jdtype), PLSConfig())
        np.testing.assert_allclose(np.asarray(fit.predictions), expected, atol=1e-4, rtol=0)
        np.testing.assert_array_equal(np.asarray(fit.n_iter), reference.n_iter_)  # same power iterations


@pytest.mark.slow  # a float32 compile of its own; float64 is the parity mode
def test_pls_float32_close_to_sklearn(data):
    features, responses, splits = data
    train, test = splits[0]
    expected = PLSRegression(n_components=25, scale=False).fit(features[train], responses[train]).predict(
        features[test])
    np.testing.assert_allclose(ours(PLSConfig(), features, responses, train, test, "float32"), expected,
                               atol=2e-3 * np.abs(expected).max(), rtol=0)


SMALL = PLSConfig(n_components=5)  # one compile shared by the two single-target tests


def test_pls_single_target_with_few_components():
    features, responses = low_rank_data(60, 30, 1, seed=1)
    train, test = np.arange(50), np.arange(50, 60)
    expected = PLSRegression(n_components=5, scale=False).fit(features[train], responses[train]).predict(
        features[test])
    np.testing.assert_allclose(ours(SMALL, features, responses, train, test), expected, atol=1e-4)


def test_pls_constant_targets_predict_their_mean_like_sklearn():
    features, _ = low_rank_data(60, 30, 1, seed=2)
    responses = np.full((60, 1), 2.5)
    train, test = np.arange(50), np.arange(50, 60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the reference warns "y residual is constant"
        expected = PLSRegression(n_components=5, scale=False).fit(features[train], responses[train]).predict(
            features[test])
    np.testing.assert_allclose(ours(SMALL, features, responses, train, test), expected)


@pytest.mark.parametrize("shape", [(150, 400), (150, 40)])  # more features than stimuli, and fewer
def test_ridge_predictions_equal_sklearn(data, shape):
    features, responses, splits = data
    features = features[:, : shape[1]].astype(np.float64)  # sklearn's Ridge keeps float32 inputs in float32
    for train, test in splits:
        for alpha in (1.0, 37.0):
            expected = Ridge(alpha=alpha).fit(features[train], responses[train]).predict(features[test])
            np.testing.assert_allclose(ours(RidgeConfig(alpha), features, responses, train, test), expected,
                                       atol=1e-4, rtol=0)


def test_linear_predictions_equal_sklearn_with_fewer_features(data):
    features, responses, splits = data
    features = features[:, :40].astype(np.float64)
    train, test = splits[0]
    expected = LinearRegression().fit(features[train], responses[train]).predict(features[test])
    np.testing.assert_allclose(ours(LinearConfig(), features, responses, train, test), expected, atol=1e-4)


def test_linear_with_more_features_is_the_minimum_norm_solution(data):
    features, responses, splits = data
    train, test = splits[0]
    x = features[train].astype(np.float64)
    mean = x.mean(0)
    coef = np.linalg.pinv(x - mean, rcond=1e-10) @ (responses[train] - responses[train].mean(0))
    expected = (features[test] - mean) @ coef + responses[train].mean(0)
    np.testing.assert_allclose(ours(LinearConfig(), features, responses, train, test), expected, atol=1e-4)


def test_pls_refuses_too_few_features():
    with pytest.raises(ValueError, match="25 components"):
        check_feature_count(PLSConfig(), n_features=10, n_train=100)


def test_capped_power_iterations_warn_like_sklearn(data):
    from alignjax.alignment.neural.predictivity import PLSConvergenceWarning, predictivity

    features, responses, splits = data
    with pytest.warns(PLSConvergenceWarning, match="max_iter=2 in 3 of 3 splits"):
        predictivity(features, responses, splits, config=PLSConfig(n_components=2, max_iter=2))
