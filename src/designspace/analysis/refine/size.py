"""How much of a design space a restriction keeps: its log10 size reduction, and how it was measured.

    >>> from designspace.analysis.refine.size import SizeEstimator
    >>> sizes = SizeEstimator(space, frame, prior_draws=20000, fit_draws=400, seed=0)
    >>> sizes.of(restriction)          # SizeReduction(log10_reduction=1.43, method='space size', ...)
    >>> sizes.refined(restrictions)    # (document, log10 size) of the space restricted by all of them

Three methods, in order of preference (each result says which):

- "space size": the restriction is expressible as a space (`refine(document)`), so the reduction is
  `parent.log10_size() - refined.log10_size()`, exact, counted before any complexity band;
- "prior draws": the share of `prior_draws` candidates from the space's own sampler
  (`space.draw`, no complexity band) that satisfy the predicate; -log10 of it (a lower bound when
  none does);
- "sampled models": the share of the sweep's models that satisfy it, for predicates on the
  quantized linear fit when fitting prior draws is switched off (`fit_draws=0`); this share is
  conditional on the sweep's complexity band.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ...errors import DesignspaceError
from .frame import prior_frame
from .spacedoc import space_document, space_from_document

SPACE_SIZE, PRIOR_DRAWS, SAMPLED = "space size", "prior draws", "sampled models"


@dataclass(frozen=True)
class SizeReduction:
    log10_reduction: float   # log10(parent size / kept size); a lower bound when at_least
    method: str
    draws: int = 0           # candidates the share was measured on (0 for the exact method)
    at_least: bool = False

    @property
    def kept(self) -> float:
        return 10.0 ** -self.log10_reduction

    def to_dict(self) -> dict:
        return {**asdict(self), "kept": self.kept}


class SizeEstimator:
    """Size reductions of the restrictions of one space; the prior draws are made once and shared."""

    def __init__(self, space, frame, prior_draws: int = 20000, fit_draws: int = 400, seed: int = 0):
        self.space, self.frame = space, frame
        self.prior_draws, self.fit_draws, self.seed = int(prior_draws), int(fit_draws), seed
        self.document = space_document(space)
        self.parent_log10_size = space.log10_size()
        self._prior = {}

    def _prior_frame(self, with_fit: bool):
        draws = self.fit_draws if with_fit else self.prior_draws
        if draws <= 0:
            return None
        if with_fit not in self._prior:
            frame = prior_frame(self.space, draws, seed=self.seed, with_fit=with_fit)
            self._prior[with_fit] = frame if len(frame) else None
        return self._prior[with_fit]

    def _share(self, restriction, frame, method: str) -> SizeReduction:
        satisfied = int(np.count_nonzero(np.asarray(restriction.predicate(frame), dtype=bool)))
        if satisfied == 0:
            return SizeReduction(math.log10(len(frame)), method, len(frame), at_least=True)
        return SizeReduction(math.log10(len(frame) / satisfied), method, len(frame))

    def of(self, restriction) -> SizeReduction:
        if restriction.refine is not None:
            try:
                return SizeReduction(self.parent_log10_size - self.refined([restriction])[1], SPACE_SIZE)
            except DesignspaceError:
                pass  # not expressible after all (e.g. nothing left of a range): estimate it instead
        prior = self._prior_frame(restriction.needs_fit)
        if prior is not None:
            try:
                return self._share(restriction, prior, PRIOR_DRAWS)
            except KeyError:
                pass  # a registered predicate reads something prior draws lack (error, flops)
        return self._share(restriction, self.frame, SAMPLED)

    def refined(self, restrictions) -> tuple[dict, float]:
        """The document of the space restricted by every one of `restrictions`, in order, and its log10 size."""
        doc = self.document
        for r in restrictions:
            doc = r.refine(doc)
        return doc, space_from_document(doc).log10_size()
