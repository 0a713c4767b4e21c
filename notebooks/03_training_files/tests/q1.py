from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 1

@test_case(points=1, hidden=False)
def test_q1__explanation(swap_explanation):
    assert swap_explanation in ('a', 'b', 'c'), 'answer with one letter'
    assert swap_explanation == 'b', 'not quite: dev users were never trained on, and the plug never sees a user id'

