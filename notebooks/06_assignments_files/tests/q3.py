from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 3

@test_case(points=0.75, hidden=False)
def test_q3__layout(build_batch):
    import os, sys
    sys.path.insert(0, os.path.abspath('06_assignments_files'))
    import torch
    import torch.nn.functional as F
    from pplug_course import call
    from pplug_course import tiny_llm
    llm = tiny_llm()
    soft = torch.randn(2, 2, 32)
    batch = call(build_batch, llm.get_input_embeddings(), soft, [[5, 6, 7], [8]], [[9, 10], [11]], 0)
    for key, shape in [('inputs_embeds', (2, 7, 32)), ('attention_mask', (2, 7)), ('labels', (2, 7)), ('position_ids', (2, 7))]:
        assert key in batch, f'missing key {key!r}'
        assert tuple(batch[key].shape) == shape, f'{key}: shape {tuple(batch[key].shape)}, expected {shape}'
    assert int((batch['labels'] != -100).sum()) == 3, 'only the 3 answer tokens get a label'
    assert int(batch['attention_mask'].sum()) == 7 + 4, 'padding: 3 positions in the second row'
    mask = torch.tensor([[1] * 7, [0, 0, 0, 1, 1, 1, 1]])
    assert torch.equal(batch['attention_mask'].long(), mask), 'attention_mask: 0 on the left padding, 1 elsewhere'
    labels = torch.tensor([[-100] * 5 + [9, 10], [-100] * 6 + [11]])
    assert torch.equal(batch['labels'].long(), labels), 'labels: the answer ids, -100 on padding, soft tokens and prompt'
    assert torch.equal(batch['position_ids'][1, 3:].long(), torch.arange(4)), 'positions count from the first real position'
    assert torch.allclose(batch['inputs_embeds'][1, 3:5], soft[1]), 'the soft tokens come first, after the padding'

@test_case(points=0.75, hidden=False)
def test_q3__loss(build_batch, answer_loss):
    import os, sys
    sys.path.insert(0, os.path.abspath('06_assignments_files'))
    import torch
    import torch.nn.functional as F
    from pplug_course import call
    from pplug_course import tiny_llm
    llm = tiny_llm()
    emb = llm.get_input_embeddings()
    soft = torch.randn(2, 1, 32)
    prompts, answers = ([[5, 6], [7]], [[8, 9], [10]])
    with torch.no_grad():
        got = call(answer_loss, llm, call(build_batch, emb, soft.clone(), prompts, answers, 0))
        total = 0.0
        for b in range(2):
            x = torch.cat([soft[b], emb(torch.tensor(prompts[b] + answers[b]))])[None]
            logits = llm(inputs_embeds=x).logits[0]
            A = len(answers[b])
            total += float(F.cross_entropy(logits[-A - 1:-1], torch.tensor(answers[b]), reduction='sum'))
    want = total / 3
    assert got.dim() == 0, 'the loss is one number (a 0-dim tensor)'
    assert abs(float(got) - want) < 0.0001, f'loss {float(got):.5f}, expected {want:.5f} (the mean NLL of the 3 answer tokens)'
    soft.requires_grad_(True)
    call(answer_loss, llm, call(build_batch, emb, soft, prompts, answers, 0)).backward()
    assert soft.grad is not None and soft.grad.abs().sum() > 0, 'the loss must reach the soft tokens'

