"""Layer activations: equal to PyTorch forward hooks on the same weights (Brain-Score's layout), the
model's output untouched; PCA equal to scikit-learn's; column-block Gram matrices exact."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from alignjax.alignment.neural.activations import (
    FeatureModel,
    Output,
    default_layers,
    extract,
    stimulus_images,
)
from alignjax.alignment.neural.gram import gram_matrix
from alignjax.alignment.neural.layer_selection import fit_layer_pcas, layer_grams, plan_passes
from alignjax.alignment.neural.model_scoring import pca_image_paths
from alignjax.alignment.neural.pca import fit_pca
from alignjax.models.resnet import ResNet
from alignjax.weights.keymaps import get_converter
from alignjax.weights.strict import check_against_module
from tests.models.torch_reference_cnns import (
    TVBasicBlock,
    TVResNet,
    imagenet_normalized,
    numpy_state_dict,
    randomize,
)


@pytest.fixture(scope="module")
def twin():
    torch_model = randomize(TVResNet(TVBasicBlock, (2, 1, 1, 1), 7, 8, 64), seed=0).eval()
    module = ResNet(stage_sizes=(2, 1, 1, 1), num_classes=7, width=8)
    variables = check_against_module(module, get_converter("resnet18")(numpy_state_dict(torch_model)), (32, 32, 3))
    return FeatureModel("tiny", module, variables, image_size=32), torch_model


def test_layers_equal_torch_hooks_flattened_channel_major(twin, rng):
    model, torch_model = twin
    images = rng.integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    layers = {"conv1": torch_model.conv1, "layer1_1": torch_model.layer1[1], "layer2_0": torch_model.layer2[0],
              "fc": torch_model.fc}
    captured = {}
    hooks = [module.register_forward_hook(lambda m, i, o, name=name: captured.__setitem__(name, o))
             for name, module in layers.items()]
    pixels = images.astype(np.float32) / 255.0
    with torch.no_grad():
        torch_model(torch.from_numpy(np.transpose(imagenet_normalized(pixels), (0, 3, 1, 2)).copy()))
    for hook in hooks:
        hook.remove()
    ours = extract(model, images, [Output(name) for name in layers], batch_size=2)  # padded tail batch
    for name in layers:
        np.testing.assert_allclose(ours[Output(name)], captured[name].flatten(1).numpy(), atol=2e-5, rtol=1e-5)
    assert default_layers(model) == ("conv1", "bn1", "layer1_0", "layer1_1", "layer2_0", "layer3_0", "layer4_0",
                                      "fc")


def test_capture_leaves_the_model_output_unchanged(twin, rng):
    model, _ = twin
    x = jnp.asarray(rng.uniform(size=(2, 32, 32, 3)), jnp.float32)
    plain = jax.jit(lambda v, x: model.module.apply(v, x, train=False))(model.variables, x)
    captured, state = jax.jit(lambda v, x: model.module.apply(v, x, train=False, capture_intermediates=True,
                                                              mutable=["intermediates"]))(model.variables, x)
    np.testing.assert_array_equal(np.asarray(plain), np.asarray(captured))
    assert "layer4_0" in state["intermediates"]


def test_pca_projection_equals_sklearn_up_to_sign(rng):
    latent = rng.normal(size=(80, 12))
    features = (latent @ rng.normal(size=(12, 300)) + 0.3 * rng.normal(size=(80, 300))).astype(np.float32)
    pca = fit_pca(features[:60], n_components=20)
    reference = PCA(n_components=20, random_state=0).fit(features[:60].astype(np.float64))
    ours, expected = pca.transform(features[60:]), reference.transform(features[60:].astype(np.float64))
    signs = np.sign(np.sum(ours * expected, axis=0))
    np.testing.assert_allclose(ours * signs, expected, atol=2e-3 * np.abs(expected).max())
    np.testing.assert_allclose(pca.singular_values, reference.singular_values_, rtol=1e-4)
    assert fit_pca(features[:, :20], n_components=20) is None  # small layers stay unreduced, as in Brain-Score


def test_column_blocks_sum_to_the_full_gram(twin, rng):
    budget = 6 * 4 * 200  # 200 float32 columns of 6 stimuli per model run
    assert [[(o.layer, o.start, o.stop) for o in run] for run in plan_passes({"a": 512, "b": 128}, 6, budget)] == [
        [("a", 0, 200)], [("a", 200, 400)], [("a", 400, 512), ("b", 0, 88)], [("b", 88, 128)]]
    model, _ = twin
    images = rng.integers(0, 256, size=(6, 32, 32, 3), dtype=np.uint8)
    full = extract(model, images, [Output("layer3_0")])[Output("layer3_0")]  # 128 features
    (layer, gram, n_features), = layer_grams(model, images, ["layer3_0"], memory_budget=6 * 4 * 100)  # 2 runs
    assert (layer, n_features) == ("layer3_0", 128)
    np.testing.assert_allclose(gram, gram_matrix(full), rtol=1e-9, atol=1e-9 * np.abs(gram).max())


def test_stimuli_are_placed_in_the_eight_degree_field(mirror):
    paths = sorted((mirror.folder).glob("stimulus_FreemanZiemba2013*.zip"))
    import zipfile

    folder = mirror.folder / "unzipped_fz"
    with zipfile.ZipFile(paths[0]) as archive:
        archive.extractall(folder)
    images = stimulus_images(sorted(folder.glob("images/*.png"))[:3], 32, source_degrees=4.0)
    assert images.shape == (3, 32, 32, 3) and images.dtype == np.uint8
    assert np.all(images[:, :6] == 128) and np.all(images[:, :, -6:] == 128)  # 4 of 8 degrees: gray border
    assert not np.all(images[:, 12:20, 12:20] == 128)


def test_layer_pca_reduces_large_layers_and_feeds_the_gram(twin, rng):
    model, _ = twin
    images = rng.integers(0, 256, size=(12, 32, 32, 3), dtype=np.uint8)
    pcas = fit_layer_pcas(model, images, ["layer1_0", "fc"], n_components=8)
    assert pcas["fc"] is None and pcas["layer1_0"].components.shape == (512, 8)  # fc: 7 <= 8 features
    (layer, gram, n_features), = layer_grams(model, images[:6], ["layer1_0"], pcas=pcas)
    reduced = pcas["layer1_0"].transform(extract(model, images[:6], [Output("layer1_0")])[Output("layer1_0")])
    assert (layer, n_features) == ("layer1_0", 8)
    np.testing.assert_allclose(gram, gram_matrix(reduced), rtol=1e-4, atol=1e-4 * np.abs(gram).max())


def test_pca_images_follow_brainscore_per_class_selection(tmp_path):
    for wnid in ("n01", "n02", "n03"):
        (tmp_path / wnid).mkdir()
        for index in range(3):
            (tmp_path / wnid / f"{wnid}_{index}.JPEG").write_bytes(b"")
    names = [path.name for path in pca_image_paths(tmp_path, 4)]
    # (4 - 1) // 3 = 1 image per class, then one more from the first (4 - 1) % 3 + 1 = 1 class
    assert names == ["n01_0.JPEG", "n02_0.JPEG", "n03_0.JPEG", "n01_1.JPEG"]
