"""The engine: loading the pretrained models, the method registry, training, prediction, retrieval prompts,
side-by-side comparison and per-user LoRA. Imports the model and the benchmark, never the course or the CLI."""

from .methods import COMPARE_METHODS, METHODS, Method, get_method, method_examples
from .predict import History, Prediction, predict
from .report import result_row
from .stack import Stack, load_stack, new_plug, open_plug
from .train import TrainResult, train

__all__ = [
    "COMPARE_METHODS",
    "History",
    "METHODS",
    "Method",
    "Prediction",
    "Stack",
    "TrainResult",
    "get_method",
    "load_stack",
    "method_examples",
    "new_plug",
    "open_plug",
    "predict",
    "result_row",
    "train",
]
