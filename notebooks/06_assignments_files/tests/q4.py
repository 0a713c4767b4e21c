from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 2
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_q4_plug_changes_llm_does_not(train_step):
    import os, sys
    sys.path.insert(0, os.path.abspath('06_assignments_files'))
    import torch
    import torch.nn.functional as F
    from pplug_course import call
    from pplug_course import tiny_llm
    llm = tiny_llm()
    llm.requires_grad_(True)
    before = {k: v.clone() for k, v in llm.state_dict().items()}
    torch.manual_seed(0)
    plug = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.Unflatten(1, (2, 32)))
    plug_before = [p.detach().clone() for p in plug.parameters()]
    opt = torch.optim.Adam(plug.parameters(), lr=0.01)
    loss = call(train_step, llm, plug, opt, (torch.randn(3, 16),), torch.tensor([[5, 6, 7]] * 3), torch.tensor([[9, 10]] * 3))
    assert isinstance(loss, float), f'return the loss as a Python float, not {type(loss).__name__}'
    assert any((not torch.equal(a, b) for a, b in zip(plug_before, plug.parameters()))), 'the plug did not change'
    assert all((torch.equal(before[k], v) for k, v in llm.state_dict().items())), 'the LLM changed'

