from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 2

@test_case(points=0.5, hidden=False)
def test_q1__most_common(majority_vote):
    got = majority_vote(['drama', 'comedy', 'drama', 'action'])
    assert got == 'drama', f"the most frequent tag is 'drama', got {got!r}"

@test_case(points=0.25, hidden=False)
def test_q1__tie_most_recent(majority_vote):
    got = majority_vote(['comedy', 'drama', 'comedy', 'drama'])
    assert got == 'drama', f"a tie: the tag seen most recently (last) wins, here 'drama'; got {got!r}"

@test_case(points=0.25, hidden=False)
def test_q1__empty(majority_vote):
    assert majority_vote([]) == '', "an empty history gives ''"

