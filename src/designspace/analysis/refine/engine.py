"""Refine one design space: score every candidate restriction, rank them, propose a path.

    >>> from designspace.analysis.refine.engine import refine
    >>> result = refine(frame, space, label="anynetx_a")        # frame: refine.frame.refine_frame(raw)
    >>> [(c.name, c.verdict) for c in result.candidates[:3]]    # ranked
    >>> [c.name for c in result.path]                           # what to restrict, in order
    >>> result.steps[-1]                                        # (space document, log10 size) after all of them

Verdicts (docs/refine.md): a subset restriction "helps" when its Holm-adjusted KS p-value is below
alpha, its models have the lower error and the best models are not harmed ("harms the best"
otherwise); "hurts" when significant the other way; else "no effect found". A sharing restriction
"helps" (or "hurts") when the trend of error on the spread is significant after Holm, and else
"costs nothing". Candidates with fewer than MIN_GROUP models on either side are "not scored".

The path: sharing restrictions that help or cost nothing first, in the space's parameter order (they
remove whole parameters without selecting models, and only a follow-up sweep can test them), then
the subset restrictions that help, the largest effect first; at most one per group, only those a
space file can express, and a subset one only while it still lowers error given the ones before it
(its coefficient's t-interval below 0 when error is regressed on all of their indicators, within
complexity bins), so that two correlated restrictions (deep RegNets have a small wa) count once.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ...errors import DesignspaceError
from .restrictions import SHARING, SUBSET, Restriction, candidates
from .scoring import BestOfKScore, Scorer, SplitScore, TrendScore, holm
from .size import SizeEstimator, SizeReduction
from .spacedoc import family_of

MIN_MODELS = 20   # finished models a space needs before refine says anything
MIN_GROUP = 10    # models needed on each side of a split (or with a spread, for sharing)
HELPS, FREE, NO_EFFECT, HARMS_BEST, HURTS, NOT_SCORED = (
    "helps", "costs nothing", "no effect found", "harms the best", "hurts", "not scored")
VERDICT_ORDER = {HELPS: 0, FREE: 1, NO_EFFECT: 2, HARMS_BEST: 3, HURTS: 4, NOT_SCORED: 5}


@dataclass(frozen=True)
class Candidate:
    """One restriction's result. `position`: its place in the order candidates were generated."""

    restriction: Restriction
    position: int
    verdict: str = NOT_SCORED
    reason: str = ""
    split: SplitScore | None = None
    trend: TrendScore | None = None
    best_of_k: BestOfKScore | None = None
    pvalue: float | None = None
    p_holm: float | None = None
    size: SizeReduction | None = None

    @property
    def name(self) -> str:
        return self.restriction.name

    @property
    def kind(self) -> str:
        return self.restriction.kind

    @property
    def effect(self) -> float | None:
        """Change of error (points) the restriction brings: the mean shift, or the predicted change of sharing."""
        if self.split is not None:
            return self.split.mean_shift.value
        return None if self.trend is None else self.trend.sharing_change.value

    def to_dict(self) -> dict:
        r = self.restriction
        return {"name": r.name, "kind": r.kind, "group": r.group, "expressible": r.expressible,
                "verdict": self.verdict, "reason": self.reason, "effect": self.effect,
                "pvalue": self.pvalue, "p_holm": self.p_holm,
                "split": None if self.split is None else self.split.to_dict(),
                "trend": None if self.trend is None else self.trend.to_dict(),
                "best_of_k": None if self.best_of_k is None else self.best_of_k.to_dict(),
                "size": None if self.size is None else self.size.to_dict()}


@dataclass(frozen=True)
class Refinement:
    label: str
    space: str
    family: str
    models: int
    metric: str
    normalize: str
    alpha: float
    repeats: int
    seed: int
    tests: int                  # the Holm family: candidates actually tested
    parent_log10_size: float
    parent_document: dict
    candidates: tuple           # Candidates, ranked
    path: tuple                 # Candidates, in the order to apply them
    path_effects: tuple         # per path entry: a subset's effect given the earlier ones (Interval), or None
    steps: tuple                # (document, log10 size) of the space after the first 1, 2, ... path entries
    source: str = ""

    def to_dict(self) -> dict:
        return {"label": self.label, "space": self.space, "family": self.family, "source": self.source,
                "models": self.models, "metric": self.metric, "normalize": self.normalize, "alpha": self.alpha,
                "repeats": self.repeats, "seed": self.seed, "tests": self.tests,
                "parent_log10_size": self.parent_log10_size,
                "candidates": [c.to_dict() for c in self.candidates],
                "path": [{"name": c.name, "kind": c.kind, "verdict": c.verdict, "log10_size_after": size,
                          "effect_given_earlier": None if effect is None else effect.to_dict()}
                         for c, effect, (_, size) in zip(self.path, self.path_effects, self.steps)],
                "refined_space": self.steps[-1][0] if self.steps else None}


def check_enough(models: int, label: str) -> None:
    if models < MIN_MODELS:
        raise DesignspaceError(f"space {label!r} has {models} finished model(s); refine needs at least {MIN_MODELS} "
                               f"({MIN_MODELS - models} more)")


def _evaluate(r: Restriction, frame: pd.DataFrame) -> np.ndarray:
    """The predicate's values, checked: one bool (subset) or finite spread >= 0 (sharing) per model."""
    try:
        out = np.asarray(r.predicate(frame))
    except (KeyError, ValueError, TypeError, IndexError) as e:
        raise DesignspaceError(f"restriction {r.name!r}: its predicate failed ({type(e).__name__}: {e})") from None
    if out.shape != (len(frame),):
        raise DesignspaceError(f"restriction {r.name!r}: its predicate must give one value per model "
                               f"({len(frame)}), got shape {out.shape}")
    if r.kind == SUBSET and out.dtype != bool:
        raise DesignspaceError(f"restriction {r.name!r}: a subset predicate must give booleans, got {out.dtype}")
    if r.kind == SHARING and (not np.issubdtype(out.dtype, np.number) or not np.all(np.isfinite(out))
                              or np.any(out < 0)):
        raise DesignspaceError(f"restriction {r.name!r}: a sharing predicate must give finite spreads >= 0")
    return out


def _score_subset(c: Candidate, mask: np.ndarray, scorer: Scorer) -> Candidate:
    n, satisfied = mask.size, int(mask.sum())
    if satisfied < MIN_GROUP:
        return replace(c, reason=f"only {satisfied} of {n} models satisfy it; scoring needs {MIN_GROUP}")
    if n - satisfied < MIN_GROUP:
        return replace(c, reason=f"all but {n - satisfied} of {n} models satisfy it; scoring needs {MIN_GROUP} "
                                 "that do not")
    split = scorer.split(mask)
    return replace(c, split=split, pvalue=split.pvalue)


def _score_sharing(c: Candidate, spread: np.ndarray, scorer: Scorer) -> Candidate:
    varied = int(np.count_nonzero(spread > 1e-12))
    if varied < MIN_GROUP:
        return replace(c, reason=f"only {varied} of {spread.size} models have different values across stages; "
                                 f"the trend needs {MIN_GROUP}")
    trend = scorer.trend(spread)
    if trend is None:
        return replace(c, reason="the spread does not vary within the complexity bins")
    return replace(c, trend=trend, pvalue=trend.pvalue)


def _score(r: Restriction, position: int, values: np.ndarray, scorer: Scorer) -> Candidate:
    c = Candidate(r, position)
    return _score_subset(c, values, scorer) if r.kind == SUBSET else _score_sharing(c, values, scorer)


def _judge_subset(c: Candidate, mask: np.ndarray, frame: pd.DataFrame, scorer: Scorer, alpha: float) -> Candidate:
    r, split = c.restriction, c.split
    if split.mean_shift.value > 0 and r.opposite is not None:  # the other side of the split is the better one
        r, split = r.opposite, split.flipped()
        c = replace(c, restriction=r, split=split)
        mask = _evaluate(r, frame)
    significant = c.p_holm < alpha
    better = split.mean_shift.value < 0
    best = scorer.best_of_k(mask, bootstrap=significant and better)
    if not significant:
        verdict = NO_EFFECT
    elif not better:
        verdict = HURTS
    else:
        verdict = HARMS_BEST if best.harmed else HELPS
    return replace(c, verdict=verdict, best_of_k=best)


def _judge(c: Candidate, values: np.ndarray, frame: pd.DataFrame, scorer: Scorer, alpha: float) -> Candidate:
    if c.pvalue is None:
        return c
    if c.kind == SUBSET:
        return _judge_subset(c, values, frame, scorer, alpha)
    if c.p_holm >= alpha:
        return replace(c, verdict=FREE)
    return replace(c, verdict=HELPS if c.trend.slope.value > 0 else HURTS)  # spread raises error: sharing helps


def _rank_key(c: Candidate):
    if c.verdict == HELPS:
        key = c.effect
    elif c.verdict == FREE:
        key = -c.size.log10_reduction
    elif c.verdict == NOT_SCORED:
        key = 0.0
    else:
        key = c.p_holm
    return VERDICT_ORDER[c.verdict], key, c.position


def _path(ranked: list, sizes: SizeEstimator, scorer: Scorer, frame: pd.DataFrame):
    """The proposed path (see the module docstring): its Candidates, each subset's effect given the
    earlier ones (None for sharing), and the space (document, log10 size) after each step."""
    sharing = sorted((c for c in ranked if c.kind == SHARING and c.verdict in (HELPS, FREE)),
                     key=lambda c: c.position)
    subsets = [c for c in ranked if c.kind == SUBSET and c.verdict == HELPS]
    path, effects, steps, groups, masks = [], [], [], set(), []
    for c in sharing + subsets:
        r = c.restriction
        if not r.expressible or (r.group and r.group in groups):
            continue
        mask = _evaluate(r, frame) if r.kind == SUBSET else None
        joint = scorer.joint(masks + [mask]) if mask is not None else None
        if mask is not None and (joint is None or joint.high >= 0):
            continue  # its effect is explained by the restrictions already on the path
        try:
            step = sizes.refined([p.restriction for p in path] + [r])
        except DesignspaceError:
            continue  # no longer applies after the earlier steps
        path.append(c)
        effects.append(joint)
        steps.append(step)
        groups.add(r.group)
        masks += [] if mask is None else [mask]
    return tuple(path), tuple(effects), tuple(steps)


def refine(frame: pd.DataFrame, space, label: str, metric: str = "best", normalize: str = "flops",
           alpha: float = 0.05, repeats: int = 1000, seed: int = 0, prior_draws: int = 20000,
           fit_draws: int = 400, source: str = "") -> Refinement:
    """Score, judge and rank every candidate restriction of `space` on its finished models in `frame`."""
    family = family_of(space)
    check_enough(len(frame), label)
    if not 0 < alpha < 1:
        raise DesignspaceError(f"alpha must be between 0 and 1, got {alpha}")
    restrictions = candidates(space, frame)
    scorer = Scorer(frame["error"], frame[normalize], repeats=repeats, seed=seed)
    values = [_evaluate(r, frame) for r in restrictions]  # each predicate once
    scored = [_score(r, i, v, scorer) for i, (r, v) in enumerate(zip(restrictions, values))]
    tested = [i for i, c in enumerate(scored) if c.pvalue is not None]
    for i, p in zip(tested, holm([scored[i].pvalue for i in tested])):
        scored[i] = replace(scored[i], p_holm=float(p))
    sizes = SizeEstimator(space, frame, prior_draws=prior_draws, fit_draws=fit_draws, seed=seed)
    judged = [_judge(c, values[c.position], frame, scorer, alpha) for c in scored]
    judged = [replace(c, size=sizes.of(c.restriction)) for c in judged]
    ranked = sorted(judged, key=_rank_key)
    path, effects, steps = _path(ranked, sizes, scorer, frame)
    return Refinement(label=label, space=space.name, family=family, models=len(frame), metric=metric,
                      normalize=normalize, alpha=alpha, repeats=repeats, seed=seed, tests=len(tested),
                      parent_log10_size=sizes.parent_log10_size, parent_document=sizes.document,
                      candidates=tuple(ranked), path=path, path_effects=effects, steps=steps, source=source)
