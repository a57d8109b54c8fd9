"""Mapping alignjax attack configs onto the reference's attack objects (pyautoattack 0.2.0 =
fra31/auto-attack@a392200: ``autoattack/autoattack.py``, ``autopgd_base.py``, ``fab_pt.py``, ``square.py``).

``reference_settings`` reads what each attack will run with in the reference (including its loop's
side effect: ``fab-t`` sets the shared FAB object's restarts to 1); ``settings_mismatches`` compares
that with alignjax's configs; ``configure_reference`` rebuilds the reference's attack objects from the
configs through the reference's own constructors. pyautoattack is imported inside the functions only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alignjax.attacks.apgd import APGDConfig
from alignjax.attacks.fab import FABConfig
from alignjax.attacks.presets import AttackConfig
from alignjax.attacks.square import SquareConfig
from alignjax.errors import InputError


def _effective(cfg: AttackConfig) -> dict[str, Any]:
    """The settings of one alignjax config that the reference can express, by reference attribute name."""
    if isinstance(cfg, APGDConfig):
        out = {"n_iter": cfg.n_iter, "n_restarts": cfg.n_restarts, "eot_iter": cfg.eot_iter, "rho": cfg.rho,
               "use_largereps": cfg.use_largereps}
        if cfg.targeted:
            out["n_target_classes"] = cfg.n_target_classes
        return out
    if isinstance(cfg, FABConfig):
        out = {"n_iter": cfg.n_iter, "n_restarts": cfg.n_restarts, "alpha_max": cfg.alpha_max, "eta": cfg.eta,
               "beta": cfg.beta}
        if cfg.targeted:
            out["n_target_classes"] = cfg.n_target_classes
        return out
    if isinstance(cfg, SquareConfig):
        if cfg.window != "shared":
            raise InputError("the reference draws one Square window per iteration for the whole batch; "
                             "a cross-check needs SquareConfig(window='shared')")
        return {"n_queries": cfg.n_queries, "p_init": cfg.p_init, "n_restarts": cfg.n_restarts,
                "resc_schedule": cfg.resc_schedule}
    raise TypeError(f"the reference has no counterpart of {type(cfg).__name__}")


def _reference_object(adversary: Any, name: str) -> Any:
    return {"apgd-ce": adversary.apgd, "apgd-dlr": adversary.apgd, "apgd-t": adversary.apgd_targeted,
            "fab": adversary.fab, "fab-t": adversary.fab, "square": adversary.square}[name]


def reference_settings(adversary: Any, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What each attack of ``names`` will run with in the reference, including the loop's side effects
    (``fab-t`` sets the shared FAB object's restarts to 1, also for any later ``fab``)."""
    fab_restarts = adversary.fab.n_restarts
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        obj = _reference_object(adversary, name)
        if name in ("apgd-ce", "apgd-dlr", "apgd-t"):
            settings = {"n_iter": obj.n_iter_orig, "n_restarts": obj.n_restarts, "eot_iter": obj.eot_iter,
                        "rho": obj.thr_decr, "use_largereps": obj.use_largereps}
            if name == "apgd-t":
                settings["n_target_classes"] = obj.n_target_classes
        elif name in ("fab", "fab-t"):
            if name == "fab-t":
                fab_restarts = 1
            settings = {"n_iter": obj.n_iter, "n_restarts": fab_restarts, "alpha_max": obj.alpha_max,
                        "eta": obj.eta, "beta": obj.beta}
            if name == "fab-t":
                settings["n_target_classes"] = obj.n_target_classes
        else:
            settings = {"n_queries": obj.n_queries, "p_init": obj.p_init, "n_restarts": obj.n_restarts,
                        "resc_schedule": obj.rescale_schedule}
        out[name] = settings
    return out


def settings_mismatches(adversary: Any, attacks: Sequence[AttackConfig]) -> list[str]:
    """Human-readable differences between alignjax's configs and what the reference will run."""
    ours = {cfg.name: _effective(cfg) for cfg in attacks}
    theirs = reference_settings(adversary, [cfg.name for cfg in attacks])
    return [f"{name}.{field}: alignjax {value!r}, reference {theirs[name].get(field)!r}"
            for name, settings in ours.items() for field, value in settings.items()
            if theirs[name].get(field) != value]


def configure_reference(adversary: Any, attacks: Sequence[AttackConfig], *, eps: float, seed: int,
                        device: Any) -> None:
    """Rebuilds the reference's attack objects with the settings of ``attacks``, through the reference's
    own constructors (so derived fields such as APGD's checkpoint windows follow the new ``n_iter``).

    The reference shares one APGD object between APGD-CE and APGD-DLR and one FAB object between FAB and
    FAB-T; settings that such a pair would have to share must be equal.
    """
    from pyautoattack.autopgd_base import APGDAttack, APGDAttack_targeted
    from pyautoattack.fab_pt import FABAttack_PT
    from pyautoattack.square import SquareAttack

    by_name = {cfg.name: cfg for cfg in attacks}
    norm = attacks[0].norm
    for pair, fields in ((("apgd-ce", "apgd-dlr"), ("n_iter", "n_restarts", "eot_iter", "rho", "use_largereps")),
                         (("fab", "fab-t"), ("n_iter", "alpha_max", "eta", "beta"))):
        present = [by_name[n] for n in pair if n in by_name]
        if len(present) == 2 and any(getattr(present[0], f) != getattr(present[1], f) for f in fields):
            raise InputError(f"the reference shares one attack object for {pair[0]} and {pair[1]}: their "
                             f"settings ({', '.join(fields)}) must be equal for a cross-check")
    common = {"norm": norm, "eps": eps, "seed": seed, "verbose": False, "device": device}
    apgd = by_name.get("apgd-ce") or by_name.get("apgd-dlr")
    if apgd is not None:
        adversary.apgd = APGDAttack(adversary.model, n_iter=apgd.n_iter, n_restarts=apgd.n_restarts,
                                    eot_iter=apgd.eot_iter, rho=apgd.rho, use_largereps=apgd.use_largereps,
                                    logger=adversary.logger, **common)
    if "apgd-t" in by_name:
        cfg = by_name["apgd-t"]
        adversary.apgd_targeted = APGDAttack_targeted(
            adversary.model, n_iter=cfg.n_iter, n_restarts=cfg.n_restarts, eot_iter=cfg.eot_iter, rho=cfg.rho,
            n_target_classes=cfg.n_target_classes, use_largereps=cfg.use_largereps, logger=adversary.logger,
            **common)
    fab = by_name.get("fab") or by_name.get("fab-t")
    if fab is not None:
        targets = by_name["fab-t"].n_target_classes if "fab-t" in by_name else fab.n_target_classes
        adversary.fab = FABAttack_PT(adversary.model, n_iter=fab.n_iter, n_restarts=fab.n_restarts,
                                     alpha_max=fab.alpha_max, eta=fab.eta, beta=fab.beta,
                                     n_target_classes=targets, **common)
    if "square" in by_name:
        cfg = by_name["square"]
        adversary.square = SquareAttack(adversary.model, n_queries=cfg.n_queries, p_init=cfg.p_init,
                                        n_restarts=cfg.n_restarts, resc_schedule=cfg.resc_schedule, **common)
