"""The LaMP benchmark: tasks, files and their validation, the official metrics, downloads and the sample
generator. Imports no model code; the metrics import no torch."""

from .data import Example, LaMPFormatError, load_examples, read_outputs, read_questions, write_outputs
from .metrics import metric_keys, score
from .samples import make_samples, sample_paths
from .tasks import TASKS, TaskSpec, get_task

__all__ = [
    "Example",
    "LaMPFormatError",
    "TASKS",
    "TaskSpec",
    "get_task",
    "load_examples",
    "make_samples",
    "metric_keys",
    "read_outputs",
    "read_questions",
    "sample_paths",
    "score",
    "write_outputs",
]
