from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 1

@test_case(points=0.5, hidden=False)
def test_q2__large_tau(large_tau):
    assert large_tau in ('a', 'b', 'c'), 'answer with one letter'
    assert large_tau == 'a', 'not quite: dividing every score by a large τ shrinks their differences'

@test_case(points=0.5, hidden=False)
def test_q2__small_tau(small_tau):
    assert small_tau in ('a', 'b', 'c'), 'answer with one letter'
    assert small_tau == 'b', 'not quite: dividing by a tiny τ blows the differences up'

