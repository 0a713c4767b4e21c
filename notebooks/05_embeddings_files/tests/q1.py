from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2

@test_case(points=0.5, hidden=False)
def test_q1__difference(attention_change):
    import numpy as np
    m0, m1 = (np.array([[0.5, 0.5], [0.2, 0.8]]), np.array([[0.6, 0.4], [0.1, 0.9]]))
    diff, _ = attention_change(m0, m1)
    assert np.allclose(diff, [[0.1, -0.1], [-0.1, 0.1]]), f'diff = m1 - m0, got {diff}'

@test_case(points=0.5, hidden=False)
def test_q1__largest(attention_change):
    import numpy as np
    m0 = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    m1 = np.array([[0.55, 0.3, 0.15], [0.3, 0.25, 0.45]])
    _, ij = attention_change(m0, m1)
    assert tuple((int(x) for x in ij)) == (1, 2), f'the largest change is the drop at (1, 2) (-0.35), got {ij}'

