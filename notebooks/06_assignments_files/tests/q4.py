from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 2

@test_case(points=0.5, hidden=False)
def test_q4__plug_changes_llm_does_not(train_step):
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

@test_case(points=0.25, hidden=False)
def test_q4__no_llm_grads(train_step):
    import os, sys
    sys.path.insert(0, os.path.abspath('06_assignments_files'))
    import torch
    import torch.nn.functional as F
    from pplug_course import call
    from pplug_course import tiny_llm
    llm = tiny_llm()
    llm.requires_grad_(True)
    plug = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Unflatten(1, (1, 32)))
    opt = torch.optim.SGD(plug.parameters(), lr=0.1)
    call(train_step, llm, plug, opt, (torch.randn(2, 16),), torch.tensor([[5, 6]] * 2), torch.tensor([[7]] * 2))
    for name, p in llm.named_parameters():
        assert p.grad is None, f'the frozen LLM collected a gradient ({name}): switch its gradients off'

@test_case(points=0.25, hidden=False)
def test_q4__exact_update(train_step):
    import os, sys
    sys.path.insert(0, os.path.abspath('06_assignments_files'))
    import torch
    import torch.nn.functional as F
    from pplug_course import call
    import copy
    from pplug_course import tiny_llm
    llm = tiny_llm()
    torch.manual_seed(5)
    plug = torch.nn.Sequential(torch.nn.Linear(16, 32), torch.nn.Unflatten(1, (1, 32)))
    ref = copy.deepcopy(plug)
    x, prompt, answer = (torch.randn(2, 16), torch.tensor([[5, 6, 7]] * 2), torch.tensor([[9, 10]] * 2))
    ref_llm = copy.deepcopy(llm).requires_grad_(False)
    e = ref_llm.get_input_embeddings()
    logits = ref_llm(inputs_embeds=torch.cat([ref(x), e(prompt), e(answer)], 1)).logits[:, -3:-1]
    want = F.cross_entropy(logits.flatten(0, 1), answer.flatten())
    ref_opt = torch.optim.SGD(ref.parameters(), lr=0.5)
    want.backward()
    ref_opt.step()
    got = call(train_step, llm, plug, torch.optim.SGD(plug.parameters(), lr=0.5), (x,), prompt, answer)
    assert abs(got - float(want)) < 0.0001, f'loss {got:.5f}, expected {float(want):.5f} (before the update)'
    for p, q in zip(plug.parameters(), ref.parameters()):
        assert torch.allclose(p, q, atol=1e-05), "the plug's update is not one SGD step on the answer loss"

