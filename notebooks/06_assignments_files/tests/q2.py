from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_q2_shapes(make_projector, scale_to_norm):
    import os, sys
    sys.path.insert(0, os.path.abspath('06_assignments_files'))
    import torch
    import torch.nn.functional as F
    from pplug_course import call
    proj = call(make_projector, 16, 24, 32)
    x = torch.randn(3, 5, 16)
    assert tuple(proj(x).shape) == (3, 5, 32), 'the projector maps (..., 16) to (..., 32)'
    linears = [m for m in proj.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == 2, f'Proj has two Linear layers, found {len(linears)}'
    y = call(scale_to_norm, torch.randn(4, 32) * 7, 2.5)
    assert torch.allclose(y.norm(dim=-1), torch.full((4,), 2.5), atol=0.0001), 'every vector must get norm 2.5'

