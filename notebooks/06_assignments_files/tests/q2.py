from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 2

@test_case(points=0.25, hidden=False)
def test_q2__projector(make_projector):
    import os, sys
    sys.path.insert(0, os.path.abspath('06_assignments_files'))
    import torch
    import torch.nn.functional as F
    from pplug_course import call
    torch.manual_seed(0)
    proj = call(make_projector, 16, 24, 32)
    x = torch.randn(3, 5, 16)
    assert tuple(proj(x).shape) == (3, 5, 32), 'the projector maps (..., 16) to (..., 32)'
    linears = [m for m in proj.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 2, f'Proj has two Linear layers, found {len(linears)}'
    first, second = linears
    out, exact = (proj(x), second(F.gelu(first(x))))
    assert torch.allclose(out, exact, atol=1e-05) or torch.allclose(out, second(F.gelu(first(x), approximate='tanh')), atol=1e-05), 'not Linear -> GELU -> Linear'

@test_case(points=0.25, hidden=False)
def test_q2__median(median_token_norm):
    import os, sys
    sys.path.insert(0, os.path.abspath('06_assignments_files'))
    import torch
    import torch.nn.functional as F
    from pplug_course import call
    w = torch.tensor([[3.0, 4.0], [1.0, 0.0], [0.0, 2.0]])
    m = float(call(median_token_norm, w))
    assert abs(m - 2.0) < 1e-05, f'the median of the row norms 5, 1, 2 is 2, got {m}'

@test_case(points=0.25, hidden=False)
def test_q2__scale(scale_to_norm):
    import os, sys
    sys.path.insert(0, os.path.abspath('06_assignments_files'))
    import torch
    import torch.nn.functional as F
    from pplug_course import call
    y = call(scale_to_norm, torch.randn(4, 32) * 7, 2.5)
    assert torch.allclose(y.norm(dim=-1), torch.full((4,), 2.5), atol=0.0001), 'every vector must get norm 2.5'
    z = call(scale_to_norm, torch.zeros(2, 8), 2.5)
    assert not torch.isnan(z).any() and (z == 0).all(), 'a zero vector must stay exactly zero (no NaN)'

