from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2

@test_case(points=0.5, hidden=False)
def test_q1__sums_and_support(topk_weights):
    import torch
    g = torch.Generator().manual_seed(0)
    w = topk_weights(torch.randn(2, 6, generator=g), torch.ones(2, 6, dtype=torch.bool), 3, 1.0)
    assert tuple(w.shape) == (2, 6), f'shape {tuple(w.shape)}, expected (2, 6)'
    assert ((w > 0).sum(-1) == 3).all(), 'exactly k = 3 items get weight in each row'
    assert torch.allclose(w.sum(-1), torch.ones(2), atol=1e-05), 'each row sums to 1'

@test_case(points=0.25, hidden=False)
def test_q1__values(topk_weights):
    import math, torch
    w = topk_weights(torch.tensor([[1.0, 3.0, 2.0, 0.0]]), torch.ones(1, 4, dtype=torch.bool), 2, 1.0)
    e3, e2 = (math.exp(3), math.exp(2))
    want = torch.tensor([[0.0, e3 / (e3 + e2), e2 / (e3 + e2), 0.0]])
    assert torch.allclose(w.float(), want, atol=0.0001), f'weights {w.tolist()}, expected {want.tolist()}'

@test_case(points=0.25, hidden=False)
def test_q1__few_or_no_items(topk_weights):
    import torch
    mask = torch.tensor([[True, False, False, False], [False, False, False, False]])
    w = topk_weights(torch.randn(2, 4), mask, 3, 1.0)
    assert not torch.isnan(w).any(), 'NaN: a row without real items must give zeros'
    assert torch.allclose(w[0], torch.tensor([1.0, 0, 0, 0])), 'one real item (fewer than k) gets all the weight'
    assert (w[1] == 0).all(), 'a row without real items gets all zeros'

