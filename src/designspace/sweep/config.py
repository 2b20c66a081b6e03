"""The sweep file: which design spaces, how many models, how to train them, where to run.

A sweep file is YAML (read with `yaml.safe_load`); every key is checked and an
unknown key is rejected by name. Example:

    name: anynet-a-vs-b          # optional; defaults to the file name
    seed: 0
    flops: "20M:40M"             # complexity bands (LO:HI, either side open)
    params: ":2M"
    resolution: 28               # optional; defaults to the data set's resolution
    spaces:
      - {name: anynetx_a, n: 100}
      - {name: anynetx_b, n: 100, options: {stem: cifar}}
      - {name: regnetx, n: 50, label: regnetx-big, flops: "40M:80M"}
    data: {name: fashion-mnist, train_subset: 10000}     # designspace.data.DataConfig fields
    recipe: {epochs: 10, batch_size: 128, lr: 0.1}       # designspace.train.Recipe fields; or
    # recipe: {regime: small-images, epochs: 2}          # a named regime (train.recipe.REGIMES), then changes
    runner:
      type: local                # local | ray | slurm
      slots: 2                   # models trained at once
      models_per_gpu: 2          # K processes share one GPU
      threads_per_slot: 1        # CPU threads per model (default: cores / slots)
      max_attempts: 3            # a model that errors this often is recorded as failed
      device: auto               # auto | cpu | cuda
      ray: {address: null, num_cpus: null, num_gpus: null}
      slurm: {partition: gpu, time: 60, array_parallelism: 64, executor: slurm,
              cpus_per_task: 4, gpus_per_task: 1, mem_gb: 16}

    config = load_sweep_file("sweep.yaml")
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field

from ..data import DataConfig
from ..errors import DesignspaceError, UnknownNameError
from ..train.recipe import Recipe
from ..units import parse_band

RUNNER_TYPES = ("local", "ray", "slurm")
DEVICES = ("auto", "cpu", "cuda")
BAND_KEYS = ("flops", "params", "acts")
_TOP_KEYS = ("name", "seed", "resolution", "spaces", "data", "recipe", "runner") + BAND_KEYS
_SPACE_KEYS = ("name", "n", "label", "options") + BAND_KEYS
_RUNNER_KEYS = ("type", "slots", "models_per_gpu", "threads_per_slot", "max_attempts", "device", "ray", "slurm")
_RAY_KEYS = ("address", "num_cpus", "num_gpus")
_SLURM_KEYS = ("partition", "time", "array_parallelism", "executor", "cpus_per_task", "gpus_per_task", "mem_gb",
               "setup", "additional")


def _reject_unknown(mapping, allowed, where: str) -> None:
    if not isinstance(mapping, dict):
        raise DesignspaceError(f"{where}: expected a mapping, got {type(mapping).__name__}")
    for key in mapping:
        if key not in allowed:
            err = UnknownNameError("key", key, allowed)
            raise DesignspaceError(f"{where}: {err}")


def _int(value, where: str, minimum: int | None = None, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise DesignspaceError(f"{where}: expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise DesignspaceError(f"{where}: must be at least {minimum}, got {value}")
    return value


def _band(value, where: str):
    lo, hi = parse_band(value, where)
    return (None if lo is None else int(lo), None if hi is None else int(hi))


@dataclass(frozen=True)
class SpaceEntry:
    """One design space of the sweep: `n` models sampled inside the bands."""
    name: str
    n: int
    label: str
    options: dict = field(default_factory=dict)
    flops: tuple = (None, None)
    params: tuple = (None, None)
    acts: tuple = (None, None)


@dataclass(frozen=True)
class RunnerConfig:
    """Where and how the models train; not part of the experiment (may change on resume)."""
    type: str = "local"
    slots: int | None = None
    models_per_gpu: int = 1
    threads_per_slot: int | None = None
    max_attempts: int = 3
    device: str = "auto"
    ray: dict = field(default_factory=dict)
    slurm: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SweepConfig:
    """A validated sweep file. `fingerprint()` identifies the experiment (everything but the runner)."""
    name: str
    spaces: tuple
    data: DataConfig
    recipe: Recipe
    seed: int = 0
    resolution: int | None = None
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    source: str | None = None

    def experiment_dict(self) -> dict:
        """The parts that define the experiment, as plain JSON (the fingerprint's input)."""
        return {
            "name": self.name, "seed": self.seed, "resolution": self.resolution,
            "spaces": [{"name": s.name, "n": s.n, "label": s.label, "options": s.options,
                        **{k: list(getattr(s, k)) for k in BAND_KEYS}} for s in self.spaces],
            "data": self.data.to_dict(), "recipe": self.recipe.to_dict(),
        }

    def to_dict(self) -> dict:
        return {**self.experiment_dict(), "runner": dataclasses.asdict(self.runner)}

    def fingerprint(self) -> str:
        text = json.dumps(self.experiment_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def with_runner(self, runner_type: str | None = None, **settings) -> "SweepConfig":
        """A copy with another runner type (the CLI's --runner) or runner settings."""
        changes = dict(settings)
        if runner_type is not None:
            if runner_type not in RUNNER_TYPES:
                raise UnknownNameError("runner", runner_type, RUNNER_TYPES)
            changes["type"] = runner_type
        return dataclasses.replace(self, runner=dataclasses.replace(self.runner, **changes))

    def shape(self) -> tuple[int, int, int]:
        """(in_channels, num_classes, resolution) the models are built for."""
        from ..data import dataset_shape

        in_channels, num_classes, resolution = dataset_shape(self.data)
        return in_channels, num_classes, self.resolution or resolution

    @classmethod
    def from_dict(cls, raw, where: str = "sweep file", default_name: str = "sweep", base_dir: str = "."):
        _reject_unknown(raw, _TOP_KEYS, where)
        for key in ("spaces", "data"):
            if key not in raw:
                raise DesignspaceError(f"{where}: missing required key {key!r}")
        name = raw.get("name", default_name)
        if not isinstance(name, str) or not name.strip():
            raise DesignspaceError(f"{where}: name: expected a non-empty string, got {name!r}")
        seed = _int(raw.get("seed", 0), f"{where}: seed", 0)
        resolution = _int(raw.get("resolution"), f"{where}: resolution", 1, allow_none=True)
        bands = {k: _band(raw.get(k), f"{where}: {k}") for k in BAND_KEYS}
        spaces = _parse_spaces(raw["spaces"], bands, where, base_dir)
        data = _build_dataclass(DataConfig, _plain_mapping(raw["data"], f"{where}: data"), "data", where)
        recipe = _build_recipe(_plain_mapping(raw.get("recipe") or {}, f"{where}: recipe"), where)
        runner = _parse_runner(raw.get("runner") or {}, f"{where}: runner")
        return cls(name=name.strip(), spaces=spaces, data=data, recipe=recipe, seed=seed,
                   resolution=resolution, runner=runner, source=None)


def _plain_mapping(value, where: str) -> dict:
    if not isinstance(value, dict):
        raise DesignspaceError(f"{where}: expected a mapping, got {type(value).__name__}")
    return {str(k): (list(v) if isinstance(v, tuple) else v) for k, v in value.items() if v is not None}


def _build_dataclass(cls, values: dict, where: str, file: str):
    """cls(**values) with unknown keys rejected by name; errors name the sweep file."""
    prefix = f"{file}: "
    known = [f.name for f in dataclasses.fields(cls)]
    _reject_unknown(values, known, f"{prefix}{where}")
    try:
        return cls(**values)
    except DesignspaceError as e:     # already says which field ("recipe: epochs must be ...")
        raise DesignspaceError(f"{prefix}{e}") from None
    except (TypeError, ValueError) as e:
        raise DesignspaceError(f"{prefix}{where}: {e}") from None


def _build_recipe(values: dict, file: str) -> Recipe:
    """Recipe.from_dict (a named `regime` plus changes, or plain fields); errors name the sweep file."""
    _reject_unknown(values, [f.name for f in dataclasses.fields(Recipe)] + ["regime"], f"{file}: recipe")
    try:
        return Recipe.from_dict(values)
    except DesignspaceError as e:
        message = str(e) if str(e).startswith("recipe") else f"recipe: {e}"
        raise DesignspaceError(f"{file}: {message}") from None
    except (TypeError, ValueError) as e:
        raise DesignspaceError(f"{file}: recipe: {e}") from None


def _parse_spaces(raw, bands: dict, where: str, base_dir: str) -> tuple:
    from ..spaces import list_spaces

    if not isinstance(raw, list) or not raw:
        raise DesignspaceError(f"{where}: spaces: expected a non-empty list of {{name, n}} entries")
    known = list_spaces()
    entries, labels = [], set()
    for i, item in enumerate(raw):
        here = f"{where}: spaces[{i}]"
        if isinstance(item, str):
            raise DesignspaceError(f"{here}: expected a mapping like {{name: {item}, n: 100}}")
        _reject_unknown(item, _SPACE_KEYS, here)
        if "name" not in item or "n" not in item:
            raise DesignspaceError(f"{here}: needs both 'name' and 'n'")
        name = item["name"]
        if not isinstance(name, str):
            raise DesignspaceError(f"{here}: name: expected a string, got {name!r}")
        if name.endswith((".yaml", ".yml")):
            path = name if os.path.isabs(name) else os.path.normpath(os.path.join(base_dir, name))
            if not os.path.isfile(path):
                raise DesignspaceError(f"{here}: design space file {path} does not exist")
            name = path
        elif name not in known:
            raise DesignspaceError(f"{here}: {UnknownNameError('design space', name, known)}")
        label = item.get("label") or os.path.splitext(os.path.basename(name))[0]
        if not isinstance(label, str):
            raise DesignspaceError(f"{here}: label: expected a string, got {label!r}")
        if label in labels:
            raise DesignspaceError(f"{here}: label {label!r} is used twice; give each entry a distinct 'label'")
        labels.add(label)
        options = item.get("options") or {}
        if not isinstance(options, dict):
            raise DesignspaceError(f"{here}: options: expected a mapping, got {type(options).__name__}")
        entry_bands = {k: _band(item[k], f"{here}: {k}") if k in item else bands[k] for k in BAND_KEYS}
        entries.append(SpaceEntry(name=name, n=_int(item["n"], f"{here}: n", 1), label=label,
                                  options=dict(options), **entry_bands))
    return tuple(entries)


def _parse_runner(raw, where: str) -> RunnerConfig:
    _reject_unknown(raw, _RUNNER_KEYS, where)
    runner_type = raw.get("type", "local")
    if runner_type not in RUNNER_TYPES:
        raise DesignspaceError(f"{where}: {UnknownNameError('runner', runner_type, RUNNER_TYPES)}")
    device = raw.get("device", "auto")
    if device not in DEVICES:
        raise DesignspaceError(f"{where}: {UnknownNameError('device', device, DEVICES)}")
    ray = raw.get("ray") or {}
    _reject_unknown(ray, _RAY_KEYS, f"{where}: ray")
    slurm = raw.get("slurm") or {}
    _reject_unknown(slurm, _SLURM_KEYS, f"{where}: slurm")
    if slurm.get("executor", "slurm") not in ("slurm", "local"):
        raise DesignspaceError(f"{where}: slurm: executor must be 'slurm' or 'local', got {slurm['executor']!r}")
    for key in ("time", "array_parallelism", "cpus_per_task", "gpus_per_task"):
        if key in slurm:
            _int(slurm[key], f"{where}: slurm: {key}", 0)
    for key in ("num_cpus", "num_gpus"):
        _int(ray.get(key), f"{where}: ray: {key}", 0, allow_none=True)
    return RunnerConfig(
        type=runner_type,
        slots=_int(raw.get("slots"), f"{where}: slots", 1, allow_none=True),
        models_per_gpu=_int(raw.get("models_per_gpu", 1), f"{where}: models_per_gpu", 1),
        threads_per_slot=_int(raw.get("threads_per_slot"), f"{where}: threads_per_slot", 1, allow_none=True),
        max_attempts=_int(raw.get("max_attempts", 3), f"{where}: max_attempts", 1),
        device=device, ray=dict(ray), slurm=dict(slurm))


_PROFILE_KEYS = _TOP_KEYS + ("n", "space_options")


def apply_profile(raw: dict, profile: str | None, where: str) -> dict:
    """The sweep file with one of its `profiles` applied (the "one switch" from paper to small scale).

    A profile overrides top-level keys; `data`, `recipe` and `runner` are merged key by key,
    except a profile recipe that names a `regime`: it starts from that regime, not from the file's
    recipe; `n` sets every space's n and `space_options` is merged into every space's options:

        profiles:
          fashion-mnist: {data: {name: fashion-mnist}, resolution: 28, flops: "1M:2M", n: 20,
                          recipe: {epochs: 2}, space_options: {stem: simple}}
    """
    profiles = raw.get("profiles") or {}
    _reject_unknown(profiles, list(profiles), f"{where}: profiles")  # must be a mapping
    out = {k: v for k, v in raw.items() if k != "profiles"}
    if profile is None:
        return out
    if profile not in profiles:
        raise DesignspaceError(f"{where}: {UnknownNameError('profile', profile, list(profiles) or ['(none defined)'])}")
    over = profiles[profile]
    _reject_unknown(over, _PROFILE_KEYS, f"{where}: profiles: {profile}")
    spaces = out.get("spaces")
    for key, value in over.items():
        if key in ("n", "space_options"):
            if not isinstance(spaces, list) or not all(isinstance(e, dict) for e in spaces):
                raise DesignspaceError(f"{where}: spaces: expected a list of {{name, n}} entries")
            if key == "n":
                spaces = [dict(e, n=value) for e in spaces]
            else:
                _reject_unknown(value, list(value) if isinstance(value, dict) else [], f"{where}: profiles: {profile}: space_options")
                spaces = [dict(e, options={**(e.get("options") or {}), **value}) for e in spaces]
            out["spaces"] = spaces
        elif key in ("data", "recipe", "runner") and isinstance(value, dict) and isinstance(out.get(key), dict) \
                and not (key == "recipe" and "regime" in value):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
            spaces = out.get("spaces")
    out["name"] = f"{out.get('name') or os.path.splitext(os.path.basename(where))[0]}-{profile}"
    return out


def load_sweep_file(path, profile: str | None = None) -> SweepConfig:
    """Read and validate a sweep file (with `profile` applied); any problem is one DesignspaceError naming the file."""
    import yaml

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DesignspaceError(f"{path}: no such sweep file")
    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise DesignspaceError(f"{path}: not valid YAML{at}: {problem}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DesignspaceError(f"{path}: cannot read: {e}") from None
    if not isinstance(raw, dict):
        raise DesignspaceError(f"{path}: a sweep file is a mapping with 'spaces', 'data', 'recipe', 'runner'")
    default_name = os.path.splitext(os.path.basename(path))[0]
    raw = apply_profile(raw, profile, path)
    config = SweepConfig.from_dict(raw, where=path, default_name=default_name,
                                   base_dir=os.path.dirname(os.path.abspath(path)))
    return dataclasses.replace(config, source=os.path.abspath(path))
