from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 1

@test_case(points=0.25, hidden=False)
def test_q3__rate(flip_rate):
    got = flip_rate({'1': 'x', '2': 'y', '3': 'z', '4': 'w'}, {'1': 'x', '2': 'q', '3': 'z', '4': 'w'})
    assert abs(got - 0.25) < 1e-09, f'one of four answers flips: 0.25, got {got}'

@test_case(points=0.25, hidden=False)
def test_q3__shared_ids(flip_rate):
    got = flip_rate({'1': 'x', '2': 'y'}, {'2': 'q', '3': 'z'})
    assert got == 1.0, f"only id '2' is in both, and it flips: 1.0, got {got}"
    assert flip_rate({'1': 'x'}, {'2': 'x'}) == 0.0, 'no shared id: 0.0'

