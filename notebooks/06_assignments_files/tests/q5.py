from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 2

@test_case(points=0.5, hidden=False)
def test_q5__returns_three_numbers(measure_personalization):
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

@test_case(points=0.5, hidden=False)
def test_q5__values(measure_personalization):
    import os, sys
    sys.path.insert(0, os.path.abspath('06_assignments_files'))
    import torch
    import torch.nn.functional as F
    from pplug_course import call
    from pplug_course import personalization_data, tiny_llm
    llm, data = (tiny_llm(1), personalization_data(1))

    class Plug(torch.nn.Module):

        def __init__(self):
            super().__init__()
            torch.manual_seed(1)
            self.q, self.h = (torch.nn.Linear(16, 32), torch.nn.Linear(16, 32))

        def forward(self, query, history, mask):
            m = mask.float()[..., None]
            return (self.q(query) + self.h((history * m).sum(1)) + 0.5 * m.sum(1))[:, None] * 3

    def nll(history, mask):
        with torch.no_grad():
            e = llm.get_input_embeddings()
            x = torch.cat([Plug()(data['query'], history, mask), e(data['prompt'])[None].expand(8, -1, -1)], 1)
            return F.cross_entropy(llm(inputs_embeds=x).logits[:, -1], data['answers']).item()
    perm = torch.roll(torch.arange(8), -1)
    want = {'own': nll(data['history'], data['mask']), 'swapped': nll(data['history'][perm], data['mask'][perm]), 'hidden': nll(data['history'], torch.zeros_like(data['mask']))}
    got = call(measure_personalization, llm, Plug(), {k: v.clone() for k, v in data.items()})
    for k in want:
        assert abs(got[k] - want[k]) < 0.0001, f'{k}: {got[k]:.4f}, expected {want[k]:.4f}'

