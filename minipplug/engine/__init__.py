"""The engine: loading the pretrained models, the method registry, training, prediction, retrieval prompts,
side-by-side comparison and per-user LoRA. Imports the model and the benchmark, never the course or the CLI."""

from importlib import import_module

# name -> module, loaded on first use: the CLI reads the method registry without importing torch.
_API = {
    "COMPARE_METHODS": "methods",
    "History": "methods",
    "METHODS": "methods",
    "Method": "methods",
    "get_method": "methods",
    "method_examples": "methods",
    "Prediction": "predict",
    "predict": "predict",
    "result_row": "report",
    "Stack": "stack",
    "load_stack": "stack",
    "new_plug": "stack",
    "open_plug": "stack",
    "TrainResult": "train",
    "train": "train",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
