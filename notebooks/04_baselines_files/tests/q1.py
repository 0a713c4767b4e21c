from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 1

@test_case(points=0.25, hidden=False)
def test_q1__copies(copy_top1):
    profile = [{'tag': 'comedy'}, {'tag': 'drama'}, {'tag': 'action'}]
    got = copy_top1(profile, [2, 0])
    assert got == 'action', f"the best-ranked item is index 2 ('action'), got {got!r}"
    assert copy_top1([{'tag': 'a', 'category': 'c'}], [0], field='category') == 'c', 'copy the field asked for'

@test_case(points=0.25, hidden=False)
def test_q1__no_items(copy_top1):
    assert copy_top1([{'tag': 'a'}], []) == '', "nothing retrieved: ''"

