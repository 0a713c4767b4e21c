from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 1

@test_case(points=1, hidden=False)
def test_q3__prediction(prediction):
    assert prediction in ('a', 'b', 'c'), "answer with one letter: 'a', 'b' or 'c'"
    assert prediction == 'c', 'not quite: the generator plants a persona in every history (section 5 shows how)'

