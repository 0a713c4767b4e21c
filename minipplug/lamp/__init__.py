"""The LaMP benchmark: tasks, files and their validation (users inferred from profiles where a file names none),
the official metrics, one-line rules without an LLM, downloads and the sample generators. Imports no model
code; the metrics import no torch."""

from .data import Example, LaMPFormatError, load_examples, read_outputs, read_questions, write_outputs
from .metrics import metric_keys, score
from .rules import InputOnly, majority_label, retrieved_label
from .samples import make_samples, sample_paths
from .tasks import TASKS, TaskSpec, get_task

__all__ = [
    "Example",
    "InputOnly",
    "LaMPFormatError",
    "TASKS",
    "TaskSpec",
    "get_task",
    "load_examples",
    "majority_label",
    "make_samples",
    "metric_keys",
    "read_outputs",
    "read_questions",
    "retrieved_label",
    "sample_paths",
    "score",
    "write_outputs",
]
