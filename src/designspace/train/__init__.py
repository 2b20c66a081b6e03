"""Training in the low-epoch regime: recipe, loop, checkpoints, CUDA graphs, DDP.

    from designspace.train import Recipe, train
    result = train(spec, "fashion-mnist", Recipe(epochs=2), out_dir="runs/one")
    print(result.status, result.best_error)
"""
from .loop import evaluate, train
from .recipe import SGD, Recipe, parameter_groups
from .result import TrainResult

__all__ = ["Recipe", "train", "TrainResult", "evaluate", "SGD", "parameter_groups"]
