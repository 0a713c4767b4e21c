"""The paper's model (Figure 2): encoders, input-aware aggregation, projector and instruction embedding, the
plug, and the injection of its soft tokens into a frozen LLM. Imports only torch, transformers and the config."""

from .aggregation import aggregation_weights
from .encoder import HistoryEncoder, SentenceEncoder
from .injection import LoadedLLM, PPlugLM, embedding_scale
from .plug import PersonaPlug, build_plug, load_plug, read_plug_config, soft_tokens
from .projector import InstructionEmbedding, Projector

__all__ = [
    "HistoryEncoder",
    "InstructionEmbedding",
    "LoadedLLM",
    "PPlugLM",
    "PersonaPlug",
    "Projector",
    "SentenceEncoder",
    "aggregation_weights",
    "build_plug",
    "embedding_scale",
    "load_plug",
    "read_plug_config",
    "soft_tokens",
]
