"""The real CIFAR-10 ResNet-18 of pyautoattack (``examples/model_test.pt`` of its wheel) in torch and
through the reference AutoAttack, and real 32x32 natural images for it, made from the colour
photographs that scikit-image ships (no download).

``cifar_photos()`` crops each photo at three scales (the largest centred square; a 2x2 grid of squares
0.6 of the shorter side; three squares 0.35 of it along the diagonal), i.e. 8 crops per photo and 40 in
all, and resizes each to 32x32 with anti-aliasing. Deterministic: no randomness is involved. The
photos carry no CIFAR-10 labels, so tests label them with the model's own predictions (clean accuracy
100 % by construction).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "stereo_motorcycle")
# (side as a fraction of the shorter side, [(top, left) as fractions of the free room]) per scale
CROPS: tuple[tuple[float, tuple[tuple[float, float], ...]], ...] = (
    (1.0, ((0.5, 0.5),)),
    (0.6, ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))),
    (0.35, ((0.2, 0.2), (0.5, 0.5), (0.8, 0.8))),
)


def _photo(name: str) -> np.ndarray:
    import skimage.data

    image = getattr(skimage.data, name)()
    if name == "stereo_motorcycle":
        image = image[0]  # the left view
    return np.asarray(image[..., :3], np.float64) / 255.0


@functools.cache
def cifar_photos() -> np.ndarray:
    """(40, 32, 32, 3) float32 in [0, 1], NHWC: 8 crops of each photo of ``PHOTOS``, in that order."""
    from skimage.transform import resize

    out = []
    for name in PHOTOS:
        image = _photo(name)
        height, width = image.shape[:2]
        short = min(height, width)
        for fraction, positions in CROPS:
            side = round(fraction * short)
            for top, left in positions:
                row, col = round(top * (height - side)), round(left * (width - side))
                crop = image[row : row + side, col : col + side]
                out.append(resize(crop, (32, 32), order=1, anti_aliasing=True, mode="reflect"))
    return np.clip(np.stack(out), 0.0, 1.0).astype(np.float32)


def model_test_checkpoint() -> Path:
    """``examples/model_test.pt`` of the installed pyautoattack wheel (auto-attack's CIFAR-10 ResNet-18)."""
    from pyautoattack.examples import resnet

    path = Path(resnet.__file__).with_name("model_test.pt")
    if not path.is_file():
        raise FileNotFoundError(f"{path} missing: the pyautoattack 0.2.0 wheel of the test extra ships it")
    return path


def torch_resnet18():
    """That checkpoint in pyautoattack's own ``examples/resnet.py`` ``ResNet18()`` (eval mode, CPU)."""
    import torch
    from pyautoattack.examples import resnet

    model = resnet.ResNet18()
    model.load_state_dict(torch.load(model_test_checkpoint(), map_location="cpu", weights_only=True))
    return model.eval()


def torch_labels(x: np.ndarray) -> np.ndarray:
    """The torch model's own predictions on NHWC images (int64)."""
    import torch

    with torch.no_grad():
        logits = torch_resnet18()(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))))
    return logits.argmax(1).numpy().astype(np.int64)


def reference_standard(
    x: np.ndarray, y: np.ndarray, *, eps: float, n_iter: int | None, n_queries: int | None, seed: int,
    batch_size: int,
) -> np.ndarray:
    """pyautoattack's ``version='standard'`` (Linf) on the torch model; returns the (n,) robust flags.

    Reduced budgets go on the attack objects, as a user of the reference would set them. APGD derives
    its checkpoint schedule (``n_iter_2``, ``n_iter_min``, ``size_decr``) from ``n_iter`` in its
    constructor only, so those are recomputed here exactly as the constructor would for that
    ``n_iter`` (``autopgd_base.py`` lines 153-155); ``alignjax`` derives them from its config.
    """
    import torch
    from pyautoattack import AutoAttack

    adversary = AutoAttack(torch_resnet18(), norm="Linf", eps=eps, version="standard", seed=seed)
    if n_iter is not None:
        for attack in (adversary.apgd, adversary.apgd_targeted):
            attack.n_iter = attack.n_iter_orig = n_iter
            attack.n_iter_2 = max(int(0.22 * n_iter), 1)
            attack.n_iter_min = max(int(0.06 * n_iter), 1)
            attack.size_decr = max(int(0.03 * n_iter), 1)
        adversary.fab.n_iter = n_iter
    if n_queries is not None:
        adversary.square.n_queries = n_queries
    x_nchw = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    _, y_adv = adversary.run_standard_evaluation(x_nchw, torch.from_numpy(y), batch_size=batch_size)
    return (y_adv.numpy() == y).astype(bool)
