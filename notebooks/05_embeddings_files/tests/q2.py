from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 1

@test_case(points=1, hidden=False)
def test_q2__reason(why_small):
    assert why_small in ('a', 'b', 'c'), 'answer with one letter'
    assert why_small == 'a', "not quite: reread section 4's introduction (what the weights are computed from)"

