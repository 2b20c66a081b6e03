"""Calibration: is a sweep's cheap training regime a valid proxy for longer training?

    designspace calibrate examples/paper/a_vs_b.yaml --profile fashion-mnist          # 12 models x 3 seeds
    designspace calibrate SWEEP.yaml --models 16 --seeds 2 --reference epochs=8 train_subset=all
    designspace demo --calibrate                                                       # the demo's regime

M models are taken from the sweep's own samples, spread over its spaces and its complexity
band. Each trains S times in the sweep's regime (S training seeds) and R times in a reference
regime (by default 4x the epochs on the full training and test sets, R = 2): the ranking the
regime is judged against is the mean of the R reference runs, since one reference run carries
seed noise of its own, and the R runs measure that noise. The runs are a table of
the sweep directory's store, trained by the same driver and runners as the sweep, so a
calibration is crash-safe and resumes. designspace.analysis.calibration turns the finished runs
into the seed noise, the spread between models, ICC, Spearman's rho and Kendall's tau against
the reference, the smallest EDF shift the sweep can detect, and a verdict.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import sys
from dataclasses import dataclass

from ..data import DataConfig
from ..errors import DesignspaceError
from ..results import Status
from ..spec import NetSpec
from ..train.recipe import Recipe
from .config import SweepConfig
from .driver import RunPlan, model_work, open_sweep_store, run_dir, sample_rows, train_runs
from .store import Store
from .task import RunKey, Task

REGIME, REFERENCE = "regime", "reference"
REFERENCE_EPOCH_FACTOR = 4
MIN_MODELS, MIN_SEEDS, MIN_REFERENCE_SEEDS = 3, 2, 1
COUNTS = ("seeds", "reference_seeds")  # what a stored calibration grows by, without retraining a run
ALL = ("all", "none", "null", "full")  # how a user says "no subset" on the command line


@dataclass(frozen=True)
class CalibrationConfig:
    """What to calibrate: how many models, how many seeds each in the regime and in the reference."""

    models: int = 12
    seeds: int = 3
    reference_seeds: int = 2

    def __post_init__(self):
        if isinstance(self.models, bool) or not isinstance(self.models, int) or self.models < MIN_MODELS:
            raise DesignspaceError(f"calibrate: --models must be at least {MIN_MODELS} (a rank correlation needs "
                                   f"models to rank), got {self.models!r}")
        if isinstance(self.seeds, bool) or not isinstance(self.seeds, int) or self.seeds < MIN_SEEDS:
            raise DesignspaceError(f"calibrate: --seeds must be at least {MIN_SEEDS} (seed noise needs repeated "
                                   f"runs of a model), got {self.seeds!r}")
        if isinstance(self.reference_seeds, bool) or not isinstance(self.reference_seeds, int) or \
                self.reference_seeds < MIN_REFERENCE_SEEDS:
            raise DesignspaceError(f"calibrate: --reference-seeds must be at least {MIN_REFERENCE_SEEDS}, "
                                   f"got {self.reference_seeds!r}")


def reference_regime(config: SweepConfig, overrides: dict | None = None) -> tuple[DataConfig, Recipe]:
    """The reference: the sweep's regime with REFERENCE_EPOCH_FACTOR x the epochs and no subsets, then `overrides`.

    overrides: {field: value} for DataConfig or Recipe fields (strings from the command line are parsed);
    "all" for train_subset / test_subset means the whole set.
    """
    data, recipe = parse_changes(config.data, config.recipe, overrides or {}, "calibrate: --reference")
    if "epochs" in recipe and "warmup_epochs" not in recipe:
        recipe["warmup_epochs"] = config.recipe.warmup_epochs * recipe["epochs"] / config.recipe.epochs
    data = {"train_subset": None, "test_subset": None, **data}
    recipe = {"epochs": config.recipe.epochs * REFERENCE_EPOCH_FACTOR,
              "warmup_epochs": config.recipe.warmup_epochs * REFERENCE_EPOCH_FACTOR, **recipe}
    return apply_changes(config.data, config.recipe, data, recipe, "calibrate: --reference")


def changed_regime(data: DataConfig, recipe: Recipe, changes: dict, option: str) -> tuple[DataConfig, Recipe]:
    """`data` and `recipe` with `changes` ({field: value}, parsed as in `parse_changes`) applied."""
    return apply_changes(data, recipe, *parse_changes(data, recipe, changes, option), option)


def parse_changes(data: DataConfig, recipe: Recipe, changes: dict, option: str) -> tuple[dict, dict]:
    """{field: value} split into data and recipe changes, command-line strings parsed as the field's type."""
    data_fields = {f.name for f in dataclasses.fields(DataConfig)}
    recipe_fields = {f.name for f in dataclasses.fields(Recipe)}
    data_changes, recipe_changes = {}, {}
    for key, value in changes.items():
        if key in data_fields:
            data_changes[key] = _parse_value(key, value, getattr(data, key), option)
        elif key in recipe_fields:
            recipe_changes[key] = _parse_value(key, value, getattr(recipe, key), option)
        else:
            raise DesignspaceError(f"{option} {key}=...: {key!r} is not a data or recipe field "
                                   f"(data: {', '.join(sorted(data_fields))}; recipe: {', '.join(sorted(recipe_fields))})")
    return data_changes, recipe_changes


def apply_changes(data: DataConfig, recipe: Recipe, data_changes: dict, recipe_changes: dict,
                  option: str) -> tuple[DataConfig, Recipe]:
    try:
        return dataclasses.replace(data, **data_changes), dataclasses.replace(recipe, **recipe_changes)
    except (TypeError, ValueError) as e:
        raise DesignspaceError(f"{option}: {e}") from None


def _parse_value(key: str, value, current, option: str):
    """A command-line string as the type of the field's current value."""
    if not isinstance(value, str):
        return value
    if value.lower() in ALL and key in ("train_subset", "test_subset", "resolution", "root"):
        return None
    try:
        if isinstance(current, bool):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes", "on")
        if isinstance(current, int) or (current is None and value.isdigit()):
            return int(value)
        if isinstance(current, float):
            return float(value)
    except ValueError:
        raise DesignspaceError(f"{option} {key}={value}: not a {type(current).__name__}") from None
    return value


def train_images(data: DataConfig) -> int:
    """Training images per epoch for a data set (subset and validation split applied)."""
    from ..data import load_dataset

    return int(load_dataset(data).describe()["train_size"])


def check_longer(config: SweepConfig, reference_data: DataConfig, reference_recipe: Recipe) -> tuple[int, int]:
    """The regime's and the reference's training image passes; the reference must be longer."""
    regime = config.recipe.epochs * train_images(config.data)
    reference = reference_recipe.epochs * train_images(reference_data)
    if reference <= regime:
        raise DesignspaceError(
            f"calibrate: the reference regime ({reference_recipe.epochs} epochs x {reference // reference_recipe.epochs:,} "
            f"images = {reference:,} image passes) is not longer than the regime ({config.recipe.epochs} epochs x "
            f"{regime // config.recipe.epochs:,} images = {regime:,}); give it more epochs or more data")
    return regime, reference


def choose_models(rows, count: int) -> list:
    """`count` sweep rows spread over the spaces (round robin) and, within each space, evenly over flops."""
    by_space: dict = {}
    for row in rows:
        by_space.setdefault(row["space"], []).append(row)
    spaces = list(by_space)
    if count > len(rows):
        raise DesignspaceError(f"calibrate: --models {count} is more than the sweep's {len(rows)} sampled models")
    share = {s: count // len(spaces) + (i < count % len(spaces)) for i, s in enumerate(spaces)}
    for _ in range(count):  # a space with too few models hands its share to the others
        short = [s for s in spaces if share[s] > len(by_space[s])]
        if not short:
            break
        spare = [s for s in spaces if share[s] < len(by_space[s])]
        share[short[0]] -= 1
        share[spare[0]] += 1
    chosen = []
    for space in spaces:
        ordered = sorted(by_space[space], key=lambda r: (r["flops"], r["index"]))
        m = share[space]
        chosen += [ordered[int((i + 0.5) * len(ordered) / m)] for i in range(m)]
    return chosen


def run_seed(sweep_seed: int, space: str, index: int, role: str, replicate: int) -> int:
    digest = hashlib.sha256(f"calibration:{sweep_seed}:{space}:{index}:{role}:{replicate}".encode()).digest()
    return int.from_bytes(digest[:4], "little") % (2 ** 31)


def settings_json(calibration: CalibrationConfig, reference_data: DataConfig, reference_recipe: Recipe) -> str:
    return json.dumps({"models": calibration.models, "seeds": calibration.seeds,
                       "reference_seeds": calibration.reference_seeds,
                       "reference": {"data": reference_data.to_dict(), "recipe": reference_recipe.to_dict()}},
                      sort_keys=True)


def stored_settings(text: str) -> dict:
    """A stored calibration's settings; one stored before reference seeds existed had one reference run each."""
    return {"reference_seeds": 1, **json.loads(text)}


def refuse_other_calibration(sweep_dir: str, theirs: dict, ours: dict) -> None:
    """A stored calibration with other models or another reference is another experiment: refused, naming both."""
    differ = [k for k in ("models", "reference") if theirs.get(k) != ours.get(k)]
    if differ:
        models = f": it holds {theirs.get('models')} models, this asks for {ours.get('models')}" \
            if "models" in differ else ""
        raise DesignspaceError(f"{sweep_dir}: holds a calibration with other settings ({', '.join(differ)} "
                               f"differ{models}); give its settings (--models, --reference) or another --out")


def _ensure_runs(store: Store, config: SweepConfig, calibration: CalibrationConfig, settings: str) -> None:
    """Add the calibration's runs to the store: all of them, or those a stored one lacks for more seeds.

    A stored calibration with the same models and reference is the same experiment: it grows to more
    seeds or reference seeds (its finished runs are kept), and asking for fewer than it holds keeps them all.
    One with other models or another reference is refused.
    """
    ours = json.loads(settings)
    have = {count: 0 for count in COUNTS}
    if store.meta("calibration_fingerprint") is not None:
        theirs = stored_settings(store.meta("calibration"))
        refuse_other_calibration(os.path.dirname(store.path), theirs, ours)
        have = {count: theirs[count] for count in COUNTS}
    want = {count: max(ours[count], have[count]) for count in COUNTS}
    if want == have:
        return
    runs = calibration_runs(config, choose_models(store.rows("models"), calibration.models),
                            {count: range(have[count], want[count]) for count in COUNTS})
    grown = json.dumps({**ours, **want}, sort_keys=True)
    store.add_calibration(grown, hashlib.sha256(grown.encode()).hexdigest()[:16], runs)


def calibration_runs(config: SweepConfig, model_rows: list, replicates: dict) -> list[dict]:
    """The runs of the chosen models (sweep rows), each with its seed and its model's spec, in store order.

    replicates: {"seeds": range, "reference_seeds": range}, the replicates of each role to list.
    """
    return [{"model": model, "role": role, "replicate": replicate, "space": row["space"], "index": int(row["index"]),
             "spec": row["spec"], "seed": run_seed(config.seed, row["space"], int(row["index"]), role, replicate)}
            for model, row in enumerate(model_rows)
            for role, count in ((REGIME, "seeds"), (REFERENCE, "reference_seeds"))
            for replicate in replicates[count]]


def calibration_plan(config: SweepConfig, sweep_dir: str, reference_data: DataConfig,
                     reference_recipe: Recipe, passes: dict) -> RunPlan:
    """passes: {role: training image passes of one run}, which scale each run's share of the work."""
    def task(row, attempt: int) -> Task:
        reference = row["role"] == REFERENCE
        return Task(key=RunKey("calibration", int(row["position"])),
                    label=f"calibration {row['role']} {row['space']} #{row['index']} run {row['replicate'] + 1}",
                    spec=NetSpec.from_json(row["spec"]), data=reference_data if reference else config.data,
                    recipe=reference_recipe if reference else config.recipe, seed=int(row["seed"]),
                    run_dir=os.path.abspath(run_dir(sweep_dir, "calibration", row)), attempt=attempt)
    work = model_work(config)
    return RunPlan("calibration", f"{config.name} calibration", task, longest_first,
                   lambda row: passes[row["role"]] * work(row))


def longest_first(rows: list) -> list:
    """The long reference runs first, then the regime runs seed by seed: no core idles at the end."""
    return sorted(rows, key=lambda r: (r["role"] != REFERENCE, r["replicate"], r["model"]))


def _without_root(data: dict) -> dict:
    return {k: v for k, v in data.items() if k != "root"}  # where the files live does not change a run


def reuse_sources(reuse_reference) -> list:
    """--reuse-reference as a list of directories (it takes one or several)."""
    if reuse_reference is None:
        return []
    if isinstance(reuse_reference, (str, os.PathLike)):
        return [os.fspath(reuse_reference)]
    return [os.fspath(d) for d in reuse_reference]


def stored_reference_runs(source_dirs, reference_data: DataConfig, reference_recipe: Recipe) -> dict:
    """{(spec, seed): run directory} of other calibrations' reference runs (one sweep directory or several; the
    first that holds a run gives it), if each one's reference regime is this one.

    A reference run depends only on its model's spec, the reference data and recipe, and its seed
    (derived from the sweep seed, space, index and replicate), not on the regime being calibrated.
    So a calibration of another regime of the same sweep population can copy them instead of training.
    """
    runs: dict = {}
    for source_dir in reversed(reuse_sources(source_dirs)):
        runs.update(_reference_runs_of(source_dir, reference_data, reference_recipe))
    return runs


def _reference_runs_of(source_dir: str, reference_data: DataConfig, reference_recipe: Recipe) -> dict:
    option = "--reuse-reference"
    try:
        source = Store.open_existing(source_dir, readonly=True)
    except DesignspaceError as e:
        raise DesignspaceError(f"{option} {e}") from None
    option = f"{option} {source_dir}"
    try:
        settings, rows = source.meta("calibration"), source.rows("calibration") if source.has_table("calibration") else []
    finally:
        source.close()
    if settings is None or not rows:
        raise DesignspaceError(f"{option}: holds no calibration")
    stored = stored_settings(settings)["reference"]
    theirs = {"data": _without_root(stored["data"]), "recipe": stored["recipe"]}
    ours = {"data": _without_root(reference_data.to_dict()), "recipe": reference_recipe.to_dict()}
    differ = [f"{part}.{k}" for part in ("data", "recipe") for k in sorted(set(ours[part]) | set(theirs[part]))
              if ours[part].get(k) != theirs[part].get(k)]
    if differ:
        raise DesignspaceError(f"{option}: its reference regime differs from this one ({', '.join(differ)}); "
                               "give the same --reference")
    return {_run_identity(row): run_dir(source_dir, "calibration", row) for row in rows if row["role"] == REFERENCE}


def reference_runs_lacking(config: SweepConfig, calibration: CalibrationConfig, stored: dict) -> int:
    """How many of the calibration's reference runs `stored` (`stored_reference_runs`) has no finished copy of:
    those train even with --reuse-reference."""
    runs = calibration_runs(config, choose_models(sample_rows(config), calibration.models),
                            {"seeds": range(0), "reference_seeds": range(calibration.reference_seeds)})
    return sum(_finished_copy(stored, run) is None for run in runs)


def _run_identity(row) -> tuple:
    """What a run's result depends on besides its regime: its model's spec and its seed."""
    return NetSpec.from_json(row["spec"]), int(row["seed"])


def _finished_copy(stored: dict, row):
    """The finished result of the stored reference run with the same spec and seed as `row`, or None."""
    from .worker import finished_result

    source = stored.get(_run_identity(row)) if row["role"] == REFERENCE else None
    return finished_result(source) if source is not None else None


def copy_reference_runs(store: Store, sweep_dir: str, stored: dict) -> int:
    """Put the finished result of each pending reference run that `stored` holds where the driver records it."""
    from ..io import atomic_write_json
    from .worker import RESULT_FILE

    copied = 0
    for row in store.rows("calibration", Status.PENDING):
        result = _finished_copy(stored, row)
        if result is not None:
            atomic_write_json(os.path.join(run_dir(sweep_dir, "calibration", row), RESULT_FILE), result.to_dict())
            copied += 1
    return copied


@dataclass(frozen=True)
class CalibrationSetup:
    """A calibration worked out before anything is written: its counts, the reference regime, each role's
    training image passes, and the finished reference runs of other directories it may copy."""

    config: SweepConfig
    sweep_dir: str
    counts: CalibrationConfig
    reference_data: DataConfig
    reference_recipe: Recipe
    passes: dict         # {role: training image passes of one run}, which scale each run's share of the work
    sources: tuple       # the --reuse-reference directories
    copies: dict         # their reference runs (`stored_reference_runs`); empty without sources

    @property
    def settings(self) -> str:
        return settings_json(self.counts, self.reference_data, self.reference_recipe)

    def reference_runs_to_train(self) -> int:
        """The reference runs that the sources hold no finished copy of (all of them without sources), stored
        ones counted too."""
        if not self.sources:
            return self.counts.models * self.counts.reference_seeds
        return reference_runs_lacking(self.config, self.counts, self.copies)


def setup_calibration(config: SweepConfig, sweep_dir, calibration: CalibrationConfig | None = None,
                      reference: dict | None = None, reuse_reference=None) -> CalibrationSetup:
    """Check and work out a calibration: a reference that is not longer, or a --reuse-reference directory
    that holds no calibration of the same reference, is refused here.

    reference: changes to the reference regime ({field: value}, see `reference_regime`).
    reuse_reference: other sweep directories (one, or a list) whose calibrations used the same reference
    regime; their finished reference runs of the same models and seeds are copied, not trained
    (`stored_reference_runs`).
    """
    reference_data, reference_recipe = reference_regime(config, reference)
    passes = dict(zip((REGIME, REFERENCE), check_longer(config, reference_data, reference_recipe)))
    sources = tuple(reuse_sources(reuse_reference))
    copies = stored_reference_runs(sources, reference_data, reference_recipe)
    return CalibrationSetup(config, os.fspath(sweep_dir), calibration or CalibrationConfig(), reference_data,
                            reference_recipe, passes, sources, copies)


def calibrate(config: SweepConfig, sweep_dir, calibration: CalibrationConfig | None = None,
              reference: dict | None = None, progress: bool = True, retry_failed: bool = False,
              reuse_reference=None) -> "Calibration":
    """Train (or resume) the calibration runs in the sweep directory's store; returns the Calibration
    (`setup_calibration` says what the arguments mean)."""
    return run_calibration(setup_calibration(config, sweep_dir, calibration, reference, reuse_reference),
                           progress, retry_failed)


def run_calibration(setup: CalibrationSetup, progress: bool = True, retry_failed: bool = False) -> "Calibration":
    """Train (or resume) a set-up calibration's runs; returns the Calibration."""
    config, sweep_dir = setup.config, setup.sweep_dir
    config.data.require_root()
    with open_sweep_store(config, sweep_dir) as store:
        _ensure_runs(store, config, setup.counts, setup.settings)
        if setup.sources:
            copied = copy_reference_runs(store, sweep_dir, setup.copies)
            print(f"calibration: {copied} reference runs copied from {', '.join(setup.sources)}", file=sys.stderr)
        plan = calibration_plan(config, sweep_dir, setup.reference_data, setup.reference_recipe, setup.passes)
        if retry_failed:
            store.reset_failed(plan.table)
        train_runs(store, plan, config.runner, sweep_dir, progress)
    return read_calibration(sweep_dir)


@dataclass(frozen=True)
class CalibrationModel:
    space: str
    index: int
    flops: int
    regime: tuple          # one error per seed (NaN where the run did not finish `done`)
    references: tuple      # one error per reference seed (NaN likewise)
    statuses: tuple        # every run's status: the regime's runs, then the reference's

    @property
    def reference(self) -> float:
        """The mean reference error: the ranking the regime is judged against."""
        return math.fsum(self.references) / len(self.references)

    @property
    def complete(self) -> bool:
        return all(s == Status.DONE for s in self.statuses)

    @property
    def regime_statuses(self) -> tuple:
        return self.statuses[:len(self.regime)]

    @property
    def reference_statuses(self) -> tuple:
        return self.statuses[len(self.regime):]


@dataclass(frozen=True)
class Calibration:
    sweep: str
    sweep_dir: str
    settings: dict              # {"models", "seeds", "reference_seeds", "reference": {"data", "recipe"}}
    regime: dict                # {"data": ..., "recipe": ...} of the sweep
    models: tuple               # CalibrationModel, in calibration order
    n_per_space: tuple          # the sweep's two smallest n per space (what its comparisons work with)

    @property
    def counts(self) -> dict:
        counts: dict = {}
        for model in self.models:
            for status in model.statuses:
                counts[str(status)] = counts.get(str(status), 0) + 1
        return counts

    @property
    def finished(self) -> dict:
        """{role: runs with a finished status}: what resuming or growing the calibration does not train again."""
        done = {REGIME: 0, REFERENCE: 0}
        for m in self.models:
            done[REGIME] += sum(s in Status.finished() for s in m.regime_statuses)
            done[REFERENCE] += sum(s in Status.finished() for s in m.reference_statuses)
        return done

    @property
    def complete(self) -> tuple:
        """The models whose every run (each seed and the reference) finished `done`."""
        return tuple(m for m in self.models if m.complete)

    def to_dict(self) -> dict:
        return {"sweep": self.sweep, "dir": self.sweep_dir, "settings": self.settings, "regime": self.regime,
                "n_per_space": list(self.n_per_space), "counts": self.counts,
                "models": [{**dataclasses.asdict(m), "reference": m.reference} for m in self.models]}


def read_calibration(sweep_dir) -> Calibration | None:
    """The calibration stored in a sweep directory (finished or not), or None if it holds none."""
    store = Store.open_existing(sweep_dir, readonly=True)
    try:
        settings, config = store.meta("calibration"), json.loads(store.meta("config"))
        rows = store.rows("calibration")
    finally:
        store.close()
    if settings is None or not rows:
        return None
    runs: dict = {}
    for row in rows:
        runs.setdefault(int(row["model"]), []).append(row)
    models = []
    for model in sorted(runs):
        group = sorted(runs[model], key=lambda r: (r["role"] == REFERENCE, r["replicate"]))
        errors = {REGIME: [], REFERENCE: []}
        for r in group:
            done = r["best_error"] is not None and r["status"] == Status.DONE
            errors[r["role"]].append(float(r["best_error"]) if done else math.nan)
        models.append(CalibrationModel(space=group[0]["space"], index=int(group[0]["index"]), flops=int(group[0]["flops"]),
                                       regime=tuple(errors[REGIME]), references=tuple(errors[REFERENCE]),
                                       statuses=tuple(Status(r["status"]) for r in group)))
    sizes = sorted(int(s["n"]) for s in config["spaces"])
    return Calibration(sweep=config["name"], sweep_dir=os.fspath(sweep_dir), settings=stored_settings(settings),
                       regime={"data": config["data"], "recipe": config["recipe"]}, models=tuple(models),
                       n_per_space=(sizes[0], sizes[1] if len(sizes) > 1 else sizes[0]))
