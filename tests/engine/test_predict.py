"""Prediction with and without the plug.

Every check compares against a reference computed here independently (by hand, by the plain HF model, or
by a second run), never against the code path under test.
"""

from __future__ import annotations

import pplug_tiny as tiny
import pytest
import torch
from pplug_tiny import (
    setup_plug,
)


def test_predict_uses_the_plug(plm):
    from minipplug.engine.predict import predict
    from minipplug.engine.train import soft_tokens
    from minipplug.lamp.tasks import get_task

    cfg = tiny.tiny_config()
    plug, hist = setup_plug(cfg, plm)
    examples = tiny.tiny_examples()[:3]
    spec = get_task("LaMP_2")
    with torch.no_grad():
        pred = predict(examples, spec, plm, plug, hist, soft="own", decoding="rank", batch_size=2, progress=False)
        soft, _ = soft_tokens(plug, hist, examples)
        want = plm.rank([e.input for e in examples], list(spec.labels), soft)
        base = predict(examples, spec, plm, soft="none", decoding="rank", batch_size=2, progress=False)
    assert pred.answers == {e.id: a for e, a in zip(examples, want)}
    mean_prompt = sum(len(plm.prompt_ids(e.input)) for e in examples) / 3
    assert pred.prompt_tokens_mean == pytest.approx(mean_prompt + plug.n_soft_tokens)
    assert base.prompt_tokens_mean == pytest.approx(mean_prompt)
    with pytest.raises(ValueError, match="needs a trained plug"):
        predict(examples, spec, plm, soft="own", progress=False)
