from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_q5_returns_three_numbers(measure_personalization):
    import os, sys
    sys.path.insert(0, os.path.abspath('06_assignments_files'))
    import torch
    import torch.nn.functional as F
    from pplug_course import call
    import math
    from pplug_course import personalization_data, tiny_llm

    class Plug(torch.nn.Module):

        def __init__(self):
            super().__init__()
            torch.manual_seed(0)
            self.lin = torch.nn.Linear(16, 32)

        def forward(self, query, history, mask):
            m = mask.float()[..., None]
            return self.lin((history * m).sum(1) / m.sum(1).clamp_min(1))[:, None] * 3
    out = call(measure_personalization, tiny_llm(), Plug(), personalization_data(1))
    assert isinstance(out, dict) and set(out) == {'own', 'swapped', 'hidden'}, 'a dict with keys own, swapped, hidden'
    assert all((isinstance(v, float) and math.isfinite(v) for v in out.values())), 'three finite Python floats'

