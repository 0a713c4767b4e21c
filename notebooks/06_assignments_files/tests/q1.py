from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_q1_weights_sum_to_one(attention_weights):
    import os, sys
    sys.path.insert(0, os.path.abspath('06_assignments_files'))
    import torch
    import torch.nn.functional as F
    from pplug_course import call
    g = torch.Generator().manual_seed(1)
    q, h = (torch.randn(2, 8, generator=g), torch.randn(2, 5, 8, generator=g))
    w = call(attention_weights, q, h, torch.ones(2, 5, dtype=torch.bool))
    assert tuple(w.shape) == (2, 5), f'shape {tuple(w.shape)}, expected (2, 5)'
    assert torch.allclose(w.sum(-1), torch.ones(2), atol=1e-05), "each user's weights must sum to 1"

@test_case(points=None, hidden=False)
def test_q1_padding_gets_zero(attention_weights):
    import os, sys
    sys.path.insert(0, os.path.abspath('06_assignments_files'))
    import torch
    import torch.nn.functional as F
    from pplug_course import call
    g = torch.Generator().manual_seed(2)
    q, h = (torch.randn(2, 8, generator=g), torch.randn(2, 4, 8, generator=g))
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    w = call(attention_weights, q, h, mask)
    assert (w[~mask] == 0).all(), 'padding items must get weight 0'
    assert torch.allclose(w.sum(-1), torch.ones(2), atol=1e-05), "the real items' weights must sum to 1"

