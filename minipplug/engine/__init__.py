"""The engine: loading the pretrained models, the method registry, training, prediction, retrieval prompts,
side-by-side comparison and per-user LoRA. Imports the model and the benchmark, never the course or the CLI.

Nothing is imported here: the command line reads the method registry (`engine.methods`) without loading torch,
and `minipplug.engine.train` / `.predict` name one thing each, the modules. The functions are `minipplug.train`
and `minipplug.predict`, the package's public API.
"""
