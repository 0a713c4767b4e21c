from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2

@test_case(points=0.25, hidden=False)
def test_q1__sums_to_one(attention_weights):
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

@test_case(points=0.25, hidden=False)
def test_q1__padding_gets_zero(attention_weights):
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

@test_case(points=0.25, hidden=False)
def test_q1__values_and_temperature(attention_weights):
    import os, sys
    sys.path.insert(0, os.path.abspath('06_assignments_files'))
    import torch
    import torch.nn.functional as F
    from pplug_course import call
    g = torch.Generator().manual_seed(7)
    q, h = (torch.randn(2, 8, generator=g), torch.randn(2, 5, 8, generator=g))
    want = torch.softmax((h @ q[:, :, None]).squeeze(-1) / 0.5, -1)
    w = call(attention_weights, q, h, torch.ones(2, 5, dtype=torch.bool), 0.5)
    assert torch.allclose(w.float(), want, atol=1e-05), 'wrong weights at temperature 0.5: softmax(q . h_i / tau)'

@test_case(points=0.25, hidden=False)
def test_q1__empty_history(attention_weights):
    import os, sys
    sys.path.insert(0, os.path.abspath('06_assignments_files'))
    import torch
    import torch.nn.functional as F
    from pplug_course import call
    q, h = (torch.randn(2, 8), torch.randn(2, 3, 8))
    w = call(attention_weights, q, h, torch.tensor([[True, True, False], [False, False, False]]))
    assert not torch.isnan(w).any(), 'NaN in the weights: an empty history must give zeros'
    assert (w[1] == 0).all(), 'an empty history must give all-zero weights'

