from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 3
all_or_nothing = True

@test_case(points=None, hidden=False)
def test_q3_shapes_and_labels(build_batch, answer_loss):
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
    loss = call(answer_loss, llm, batch)
    assert loss.dim() == 0 and torch.isfinite(loss), 'the loss is one finite number'

