"""minipplug: PPlug (Persona-Plug) in small, readable code.

The sub-packages follow the architecture: ``model`` (the paper's plug and its injection into a frozen LLM),
``lamp`` (the LaMP benchmark), ``engine`` (loading, methods, training, prediction, comparison), ``course``
(notebook helpers, plots, explorer) and ``cli``. The names below are the public API the notebooks use.
"""

from importlib import import_module

# name -> module: loaded on first use, so `minipplug data check` does not pay for torch and transformers.
_API = {
    "PPlugConfig": "config",
    "InputError": "errors",
    "Example": "lamp.data",
    "load_examples": "lamp.data",
    "profile_stats": "lamp.data",
    "to_dataset": "lamp.data",
    "download_lamp": "lamp.download",
    "lamp_url": "lamp.download",
    "score": "lamp.metrics",
    "sample_paths": "lamp.samples",
    "TASKS": "lamp.tasks",
    "get_task": "lamp.tasks",
    "aggregation_weights": "model.aggregation",
    "HistoryEncoder": "model.encoder",
    "SentenceEncoder": "model.encoder",
    "PPlugLM": "model.injection",
    "PersonaPlug": "model.plug",
    "soft_tokens": "model.plug",
    "COMPARE_METHODS": "engine.methods",
    "METHODS": "engine.methods",
    "RULES": "engine.methods",
    "get_method": "engine.methods",
    "History": "engine.methods",
    "method_examples": "engine.methods",
    "Stack": "engine.stack",
    "load_stack": "engine.stack",
    "new_plug": "engine.stack",
    "open_plug": "engine.stack",
    "result_row": "engine.report",
    "rule_row": "engine.report",
    "train": "engine.train",
    "markdown_table": "engine.report",
    "predict": "engine.predict",
}
__all__ = sorted(_API)


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'minipplug' has no attribute '{name}'")
    value = getattr(import_module(f".{_API[name]}", __name__), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
